//! The model registry on PostgreSQL: not yet ported (see `sqlite/registry.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet;
use crate::query::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "The model registry";

impl crate::RegistryStore for PgStore {
    fn create_registered_model_owned(
        &self,
        _name: &str,
        _tags: &[Tag],
        _description: Option<&str>,
        _owner: Option<i64>,
    ) -> StoreResult<RegisteredModel> {
        Err(unported(AREA))
    }

    fn get_registered_model(&self, _name: &str) -> StoreResult<RegisteredModel> {
        Err(unported(AREA))
    }

    fn rename_registered_model(&self, _name: &str, _new_name: &str) -> StoreResult<RegisteredModel> {
        Err(unported(AREA))
    }

    fn update_registered_model(&self, _name: &str, _description: Option<&str>) -> StoreResult<RegisteredModel> {
        Err(unported(AREA))
    }

    fn delete_registered_model(&self, _name: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn set_registered_model_tag(&self, _name: &str, _tag: &Tag) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn delete_registered_model_tag(&self, _name: &str, _key: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn search_registered_models(&self, _query: &RegistryQuery) -> StoreResult<Page<RegisteredModel>> {
        Err(unported(AREA))
    }

    fn get_latest_versions(&self, _name: &str, _stages: &[String]) -> StoreResult<Vec<ModelVersion>> {
        Err(unported(AREA))
    }

    fn create_model_version(&self, _version: &NewModelVersion) -> StoreResult<ModelVersion> {
        Err(unported(AREA))
    }

    fn get_model_version(&self, _name: &str, _version: &str) -> StoreResult<ModelVersion> {
        Err(unported(AREA))
    }

    fn get_version(&self, _name: &str, _version: VersionNumber) -> StoreResult<ModelVersion> {
        Err(unported(AREA))
    }

    fn update_model_version(
        &self,
        _name: &str,
        _version: &str,
        _description: Option<&str>,
    ) -> StoreResult<ModelVersion> {
        Err(unported(AREA))
    }

    fn delete_model_version(&self, _name: &str, _version: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn transition_stage(
        &self,
        _name: &str,
        _version: &str,
        _stage: &str,
        _archive_existing: bool,
    ) -> StoreResult<ModelVersion> {
        Err(unported(AREA))
    }

    fn search_model_versions(&self, _query: &RegistryQuery) -> StoreResult<Page<ModelVersion>> {
        Err(unported(AREA))
    }

    fn set_model_version_tag(&self, _name: &str, _version: &str, _tag: &Tag) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn delete_model_version_tag(&self, _name: &str, _version: &str, _key: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn set_alias_by(&self, _name: &str, _alias: &str, _version: &str, _ctx: &fleet::ChangeContext) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn delete_alias_by(&self, _name: &str, _alias: &str, _ctx: &fleet::ChangeContext) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn find_version_by_alias(&self, _name: &str, _alias: &str) -> StoreResult<Option<ModelVersion>> {
        Err(unported(AREA))
    }

    fn registry_generation(&self) -> u64 {
        self.generation()
    }
}
