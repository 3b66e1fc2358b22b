//! Reads for fleet reports (issue 16) that no other area answers: alias
//! moves in a period, grouped by week, actor and kind (SQLite:
//! `sqlite/report.rs`). Every answer is grouped and capped by its caller.

use crate::error::StoreResult;

/// One week's alias moves by one actor of one kind (api, bulk, promotion, rollback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveCount {
    /// The week's start, ms since the epoch (weeks start on Thursday 1970-01-01, UTC).
    pub week: i64,
    pub actor: String,
    pub kind: String,
    pub moves: i64,
}

/// A week, in milliseconds.
pub const WEEK_MS: i64 = 7 * 86_400_000;

pub trait ReportStore: Send + Sync {
    /// Alias moves made in `[from, to)` (ms), of members of `family` when
    /// given, grouped by week, actor and kind; at most `limit` groups.
    fn alias_moves(&self, from: i64, to: i64, family: Option<&str>, limit: usize) -> StoreResult<Vec<MoveCount>>;
}
