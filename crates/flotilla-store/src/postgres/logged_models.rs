//! Logged models on PostgreSQL: not yet ported (see `sqlite/logged_models.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet;
use crate::query::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "Logged models";

impl crate::LoggedModelStore for PgStore {
    fn create_logged_model(&self, _model: &NewLoggedModel) -> StoreResult<LoggedModel> {
        Err(unported(AREA))
    }

    fn get_logged_model(&self, _model_id: &str) -> StoreResult<LoggedModel> {
        Err(unported(AREA))
    }

    fn finalize_logged_model(&self, _model_id: &str, _status: LoggedModelStatus) -> StoreResult<LoggedModel> {
        Err(unported(AREA))
    }

    fn delete_logged_model(&self, _model_id: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn set_logged_model_tags(&self, _model_id: &str, _tags: &[Tag]) -> StoreResult<LoggedModel> {
        Err(unported(AREA))
    }

    fn delete_logged_model_tag(&self, _model_id: &str, _key: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn log_logged_model_params(&self, _model_id: &str, _params: &[Tag]) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn search_logged_models(&self, _query: &LoggedModelQuery) -> StoreResult<Page<LoggedModel>> {
        Err(unported(AREA))
    }
}
