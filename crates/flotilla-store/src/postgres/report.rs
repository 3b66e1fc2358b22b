//! Reports on PostgreSQL: not yet ported (see `sqlite/report.rs`,
//! `sqlite/report_sections.rs`, `sqlite/report_schedules.rs`). Every read
//! is listed here so the compiler names what a port must fill in.

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::report::*;

const AREA: &str = "Reports";
const SCHEDULES: &str = "Report schedules";

impl crate::report::ReportStore for PgStore {
    fn alias_moves(&self, _from: i64, _to: i64, _family: Option<&str>, _limit: usize) -> StoreResult<Vec<MoveCount>> {
        Err(unported(AREA))
    }
}

impl crate::report::ReportSectionStore for PgStore {
    fn staleness(&self, _f: &ReportFilter, _at: i64) -> StoreResult<Vec<FamilyStaleness>> {
        Err(unported(AREA))
    }

    fn oldest_champions(&self, _f: &ReportFilter, _at: i64, _limit: usize) -> StoreResult<Vec<StaleChampion>> {
        Err(unported(AREA))
    }

    fn serving(&self, _f: &ReportFilter, _from: i64, _to: i64) -> StoreResult<Vec<FamilyServing>> {
        Err(unported(AREA))
    }

    fn traffic(&self, _f: &ReportFilter, _from: i64, _to: i64, _width: i64) -> StoreResult<Vec<TrafficBucket>> {
        Err(unported(AREA))
    }

    fn drift_weeks(&self, _family: Option<&str>, _check: &str, _from: i64, _to: i64) -> StoreResult<Vec<DriftCell>> {
        Err(unported(AREA))
    }

    fn drifted_models(&self, _f: &ReportFilter, _limit: usize) -> StoreResult<Vec<DriftedModel>> {
        Err(unported(AREA))
    }

    fn datasets_in_use(&self, _f: &ReportFilter, _limit: usize) -> StoreResult<(Vec<DatasetUse>, i64)> {
        Err(unported(AREA))
    }

    fn promotion_effects(
        &self,
        _f: &ReportFilter,
        _key: &str,
        _from: i64,
        _to: i64,
        _ascending: bool,
        _limit: usize,
    ) -> StoreResult<(Vec<PromotionEffect>, i64)> {
        Err(unported(AREA))
    }

    fn registered_count(&self, _family: Option<&str>, _from: i64, _to: i64) -> StoreResult<Option<i64>> {
        Err(unported(AREA))
    }

    fn failing_at(&self, _family: Option<&str>, _at: i64) -> StoreResult<Option<(i64, i64)>> {
        Err(unported(AREA))
    }
}

impl crate::report::ReportScheduleStore for PgStore {
    fn create_schedule(&self, _s: &NewSchedule) -> StoreResult<Schedule> {
        Err(unported(SCHEDULES))
    }

    fn upsert_flag_schedule(&self, _s: &NewSchedule) -> StoreResult<Schedule> {
        Err(unported(SCHEDULES))
    }

    fn schedules(&self) -> StoreResult<Vec<Schedule>> {
        Err(unported(SCHEDULES))
    }

    fn get_schedule(&self, _id: i64) -> StoreResult<Schedule> {
        Err(unported(SCHEDULES))
    }

    fn delete_schedule(&self, _id: i64) -> StoreResult<()> {
        Err(unported(SCHEDULES))
    }

    fn due_schedules(&self, _now: i64, _limit: usize) -> StoreResult<Vec<Schedule>> {
        Err(unported(SCHEDULES))
    }

    fn record_report_run(&self, _run: &ReportRun, _next_run: i64) -> StoreResult<i64> {
        Err(unported(SCHEDULES))
    }

    fn set_report_notified(&self, _run: i64, _notified: &str) -> StoreResult<()> {
        Err(unported(SCHEDULES))
    }

    fn report_runs(&self, _limit: usize) -> StoreResult<Vec<ReportRun>> {
        Err(unported(SCHEDULES))
    }

    fn report_run(&self, _id: i64) -> StoreResult<ReportRun> {
        Err(unported(SCHEDULES))
    }
}
