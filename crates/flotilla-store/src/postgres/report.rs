//! Reports on PostgreSQL: not yet ported (see `sqlite/report.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::report::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "Reports";

impl crate::report::ReportStore for PgStore {
    fn alias_moves(&self, _from: i64, _to: i64, _family: Option<&str>, _limit: usize) -> StoreResult<Vec<MoveCount>> {
        Err(unported(AREA))
    }
}

// The report sections and schedules keep their traits' default bodies (a
// clear refusal) until they are ported.
impl crate::report::ReportSectionStore for PgStore {}
impl crate::report::ReportScheduleStore for PgStore {}
