//! Experiments on PostgreSQL: not yet ported (see `sqlite/experiments.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet;
use crate::query::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "Experiments";

impl crate::ExperimentStore for PgStore {
    fn create_experiment_owned(
        &self,
        _name: &str,
        _artifact_location: Option<&str>,
        _tags: &[Tag],
        _owner: Option<i64>,
    ) -> StoreResult<String> {
        Err(unported(AREA))
    }

    fn get_experiment(&self, _experiment_id: &str) -> StoreResult<Experiment> {
        Err(unported(AREA))
    }

    fn get_experiment_by_name(&self, _name: &str) -> StoreResult<Experiment> {
        Err(unported(AREA))
    }

    fn search_experiments(&self, _query: &ExperimentQuery) -> StoreResult<Page<Experiment>> {
        Err(unported(AREA))
    }

    fn delete_experiment(&self, _experiment_id: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn restore_experiment(&self, _experiment_id: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn rename_experiment(&self, _experiment_id: &str, _new_name: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn set_experiment_tag(&self, _experiment_id: &str, _tag: &Tag) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn delete_experiment_tag(&self, _experiment_id: &str, _key: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }
}
