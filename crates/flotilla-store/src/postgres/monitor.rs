//! Serving telemetry on PostgreSQL: not yet ported (see `sqlite/monitor.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::monitor::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "Serving telemetry";

impl crate::monitor::MonitorStore for PgStore {
    fn merge_windows(
        &self,
        _deltas: &[WindowDelta],
        _retention: &Retention,
        _now_ms: i64,
        _merge: &dyn StatsMerge,
    ) -> StoreResult<MergeOutcome> {
        Err(unported(AREA))
    }

    fn windows(&self, _query: &WindowQuery) -> StoreResult<Windows> {
        Err(unported(AREA))
    }

    fn monitored_version(&self, _model: &str, _version: VersionNumber) -> StoreResult<Option<MonitoredVersion>> {
        Err(unported(AREA))
    }

    fn active_versions(&self, _query: &ActiveQuery) -> StoreResult<ActivePage> {
        Err(unported(AREA))
    }

    fn windows_of(
        &self,
        _versions: &[(i64, VersionNumber)],
        _grain: Grain,
        _from_ms: i64,
        _to_ms: i64,
    ) -> StoreResult<Windows> {
        Err(unported(AREA))
    }

    fn prune_windows(&self, _retention: &Retention, _now_ms: i64) -> StoreResult<u64> {
        Err(unported(AREA))
    }

    fn keep_predictions(
        &self,
        _model: &str,
        _version: VersionNumber,
        _rows: &[KeptPrediction],
        _cap: u64,
    ) -> StoreResult<u64> {
        Err(unported(AREA))
    }

    fn claim_predictions(
        &self,
        _model: &str,
        _version: VersionNumber,
        _ids: &[String],
    ) -> StoreResult<Vec<Option<KeptPrediction>>> {
        Err(unported(AREA))
    }
}
