//! Fleet health on PostgreSQL: not yet ported (see `sqlite/health.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::PageRequest;
use crate::error::StoreResult;
use crate::health::*;
use crate::query::Visible;
use flotilla_core::VersionNumber;
use flotilla_core::model::Page;

const AREA: &str = "Fleet health";

impl crate::health::HealthStore for PgStore {
    fn record_health(&self, _updates: &[HealthUpdate], _window_end: i64) -> StoreResult<usize> {
        Err(unported(AREA))
    }

    fn health_counts(&self, _scope: &HealthScope, _visible: &Visible) -> StoreResult<HealthCounts> {
        Err(unported(AREA))
    }

    fn worst_models(&self, _query: &WorstQuery) -> StoreResult<Page<WorstModel>> {
        Err(unported(AREA))
    }

    fn model_health(&self, _model: &str) -> StoreResult<Vec<CheckResult>> {
        Err(unported(AREA))
    }

    fn snapshot_health(&self, _hour: i64) -> StoreResult<usize> {
        Err(unported(AREA))
    }

    fn health_history(
        &self,
        _scope: &HealthScope,
        _from: i64,
        _to: i64,
        _limit: usize,
    ) -> StoreResult<Vec<HistoryPoint>> {
        Err(unported(AREA))
    }

    fn drift_config(&self, _family: &str) -> StoreResult<Option<String>> {
        Err(unported(AREA))
    }

    fn set_drift_config(&self, _family: &str, _config: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn baseline(&self, _model: &str) -> StoreResult<Option<Baseline>> {
        Err(unported(AREA))
    }

    fn set_baseline(&self, _model: &str, _baseline: Option<&Baseline>) -> StoreResult<()> {
        Err(unported(AREA))
    }
}
