//! Runs (and run search) on PostgreSQL: not yet ported (see `sqlite/runs.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet;
use crate::query::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "Runs (and run search)";

impl crate::RunStore for PgStore {
    fn create_run(&self, _run: &NewRun) -> StoreResult<Run> {
        Err(unported(AREA))
    }

    fn get_run(&self, _run_id: &str) -> StoreResult<Run> {
        Err(unported(AREA))
    }

    fn update_run(&self, _run_id: &str, _update: &RunUpdate) -> StoreResult<RunInfo> {
        Err(unported(AREA))
    }

    fn delete_run(&self, _run_id: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn restore_run(&self, _run_id: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn log_batch(&self, _run_id: &str, _metrics: &[Metric], _params: &[Tag], _tags: &[Tag]) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn delete_run_tag(&self, _run_id: &str, _key: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn log_inputs(&self, _run_id: &str, _datasets: &[DatasetInput], _models: &[ModelInput]) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn log_outputs(&self, _run_id: &str, _models: &[ModelOutput]) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn record_logged_model(&self, _run_id: &str, _model_json: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn metric_history(&self, _run_id: &str, _key: &str, _page: &PageRequest) -> StoreResult<Page<Metric>> {
        Err(unported(AREA))
    }

    fn search_runs(&self, _query: &RunQuery) -> StoreResult<Page<Run>> {
        Err(unported(AREA))
    }
}
