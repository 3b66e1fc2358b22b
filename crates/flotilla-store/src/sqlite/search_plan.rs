//! How a fleet or version search chooses between its two plans.
//!
//! Every filter of those searches is a set over an index. A page either
//! *walks* its sort order and probes each row against the large sets (fast
//! when matches are spread along the order: a page fills after a few rows),
//! or is *driven* by a small set whose rows are read and sorted (fast when
//! the set is small). A set under `drive_limit` rows always drives. When
//! every set is larger, the walk gets `walk_steps` of SQLite's VM steps
//! (work, not time: a busy machine plans as a quiet one does); a walk still
//! going then has found its matches rare along the order (they lie at its
//! far end: `val_mape < 0.1` sorted by `-val_rmse`, two metrics that rise
//! together, probed almost every one of 10⁶ models first, 2 s), so the page is
//! driven by the smallest set instead if it has fewer than `drive_sizing`
//! rows, and walks on otherwise.
//!
//! Before that, a page sorted by a metric whose every filter is a set walks
//! `near_rows` rows of the sort index (a seek to its `near_rows`th row bounds
//! the walk); a full page ends there, and one with fewer than one match in
//! [`SPARSE`] of the rows it needs is answered from the far end
//! (`far_end`), which reads the set and the sort index in sequence: 10⁶
//! models, `val_mape < 0.1` by `-val_rmse`, 41,812 matches, no longer waits
//! out the allowance nor pays 2 µs a member. The far-end plan is made only
//! then: choosing its set counts the sets (up to `drive_sizing` rows each),
//! which cost a page scoped to a family 12 ms of its 14 when it was made
//! before the capped walk (10⁶ models, `family=demand-forecast`, a bound on
//! the sorted metric: 12 ms → 3.4 ms of server CPU, release).
//!
//! The allowance is longer than the walks that do fill a page (under 15 ms
//! at 10⁶ models on a quiet machine), so those never pay for a second plan. Measured at 10⁶
//! models (release, machine under load 15): `val_mape < 0.1` sorted by
//! `-val_rmse` 2.1 s → 0.25-0.4 s; versions `val_rmse < 2.0` by
//! `-metric:val_mape` 9.3 s → 1.2-1.5 s. Driving costs about 2 µs a row of
//! the set (41,812 and ~140,000 rows here), which is SQLite's floor for
//! joining two sets by key: the page is bounded, not fast.

#[derive(Debug, Clone, Copy)]
pub struct SearchPlanning {
    /// Sets smaller than this drive a page.
    pub drive_limit: i64,
    /// After the walk's allowance, the smallest set drives if under this.
    pub drive_sizing: i64,
    /// How many SQLite VM steps a page may walk probing large sets (counted
    /// by the progress handler, so rounded down to its interval); zero:
    /// never walk, drive from the smallest set when it is under
    /// `drive_sizing`.
    pub walk_steps: u64,
    /// A page sorted by a metric whose every filter is a set first walks
    /// this many rows of the sort index; finding its matches rare there, it
    /// is answered from the far end (`far_end`). Zero: never.
    pub near_rows: usize,
    /// A page sorted by a metric and filtered by another of the same
    /// entities is read from the metric pairs (`metric_pairs`) unless
    /// another set is small enough to drive it.
    pub metric_pairs: bool,
    /// The pairs' plan merges in the entities past the pairs' cap (not
    /// paired) when there are at most this many for its table (or alias),
    /// each read from the metric tables; more, and the far-end plan answers.
    pub pair_overflow_merged: usize,
    /// A registered-model search by a name pattern: what walking one row of
    /// the sort order costs against reading one of the trigram index's
    /// candidates. The candidates drive the page when they are fewer than
    /// `√(name_walk_cost × page × registry size)` (`registry_search.rs`);
    /// zero: always walk; infinity: always drive.
    pub name_walk_cost: f64,
    /// A registered-model search by a name pattern in name order first reads
    /// the place-ordered trigram index (`name_order.rs`) for at most this
    /// many SQLite VM steps, then falls back to the plans above; zero: never.
    pub name_order_steps: u64,
}

/// The far end is tried when a capped walk found fewer than one match in
/// this many of the rows a page needs (the rest would take 8 times as long).
pub(super) const SPARSE: usize = 8;

/// How many sort-index rows the far-end plan reads, beyond its set's size,
/// before giving up (its set does not lie at the far end).
pub(super) fn far_end_row_cap(set_limit: i64) -> usize {
    usize::try_from(set_limit).unwrap_or(0).saturating_mul(2) + 10_000
}

/// The walk's default allowance: about 20 ms of walking at 10⁶ models on a
/// quiet machine. Measured (release, the generator's 10⁶ fleet, warm cache):
/// a page walking `partition=region=...` by a champion metric ran 264,000 VM
/// steps in 11.3 ms, about 23,000 a millisecond.
const WALK_STEPS: u64 = 20 * VM_STEPS_PER_MS;
const VM_STEPS_PER_MS: u64 = 25_000;

/// The place-ordered name plan's default allowance: about 2 ms. Measured
/// (release, 10⁶ models, `%ddd%`): a page reads ~100 candidates in 4 checks
/// (4,000 steps), 0.9 ms median and 1.6 ms p99 with the merge; a pattern
/// whose candidates mostly fail it (`%9999%`: those holding `999`) runs out
/// and the rm_id-keyed index drives it instead.
const NAME_ORDER_STEPS: u64 = 2 * VM_STEPS_PER_MS;

/// `time` of work at the walk's calibrated rate, in the progress handler's
/// checks (at least one): an allowance that bounds a read by time without
/// a clock (the UI's bounded facet counts).
pub(super) fn work_checks(time: std::time::Duration) -> u64 {
    let steps = u64::try_from(time.as_micros()).unwrap_or(u64::MAX).saturating_mul(VM_STEPS_PER_MS) / 1_000;
    (steps / super::PROGRESS_STEPS).max(1)
}

impl SearchPlanning {
    /// The walk's allowance in the progress handler's checks.
    pub(super) fn walk_checks(&self) -> u64 {
        self.walk_steps / super::PROGRESS_STEPS
    }

    /// The place-ordered name plan's allowance in the progress handler's checks.
    pub(super) fn name_order_checks(&self) -> u64 {
        self.name_order_steps / super::PROGRESS_STEPS
    }
}

impl Default for SearchPlanning {
    fn default() -> Self {
        // Reading and sorting a set costs about a microsecond a row: 200,000
        // rows cost more than most walks.
        Self {
            drive_limit: 10_000,
            drive_sizing: 200_000,
            walk_steps: WALK_STEPS,
            near_rows: 1_000,
            metric_pairs: true,
            // Two seeks each: about a millisecond for all of them.
            pair_overflow_merged: 256,
            // At 10⁶ models (SQLite CPU time): 0.16 µs a walked name-index
            // entry, 1.7 µs a driven candidate (`name_candidates`).
            name_walk_cost: 0.1,
            name_order_steps: NAME_ORDER_STEPS,
        }
    }
}

/// A filter set's size up to `cap`: the `known` size a counter keeps (a
/// whole family's members), else counted over `table` where `cond` holds
/// (at most `cap` index steps).
pub(super) fn set_size(
    tx: &rusqlite::Connection,
    (table, cond, args): (&str, &str, &[rusqlite::types::Value]),
    known: Option<i64>,
    cap: i64,
) -> crate::error::StoreResult<i64> {
    if let Some(n) = known {
        return Ok(n.min(cap));
    }
    super::counted::count_upto(tx, &format!("{table} WHERE {cond}"), args, cap)
}
