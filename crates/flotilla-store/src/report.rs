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

/// What a report's section reads are about: the fleet, a family, a
/// partition of it (`key=value` on the member's path), or a tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub family: Option<String>,
    pub partition: Option<(String, String)>,
    pub tag: Option<(String, String)>,
}

/// Staleness and training data of one family's models (the fleet's models
/// outside any family are the family `""`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyStaleness {
    pub family: String,
    pub models: i64,
    /// Models with no telemetry ever recorded (no version in `monitor_versions`).
    pub never_served: i64,
    pub champions: i64,
    /// Age of the champion version at `at`, in days.
    pub champion_age_avg: Option<f64>,
    pub champion_age_max: Option<f64>,
    /// Champions older than [`STALE_DAYS`].
    pub champions_stale: i64,
    /// Champions whose version has training data (lineage).
    pub champions_with_data: i64,
    /// Age of the newest training dataset of the champion, in days.
    pub data_age_avg: Option<f64>,
    /// Champions trained on a dataset of which a newer digest of the same name exists.
    pub on_superseded: i64,
}

/// A champion named in a staleness list.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleChampion {
    pub model: String,
    pub family: String,
    pub version: i64,
    pub age_days: f64,
    pub data_age_days: Option<f64>,
    pub superseded: bool,
}

/// A champion is stale after this many days.
pub const STALE_DAYS: i64 = 90;

/// One family's serving over a period (from the day roll-ups).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyServing {
    pub family: String,
    /// Models served on the period's busiest day (a distinct count over the
    /// whole period would read every window; the day roll-ups keep a count per day).
    pub models_served: i64,
    pub requests: i64,
    /// Rows predicted (a request may carry many; posted predictions count rows only).
    pub rows: i64,
    pub errors: i64,
    /// Of the models the health job judges (those with recent telemetry),
    /// those whose latest p99 latency check warns / fails.
    pub latency_warn: i64,
    pub latency_fail: i64,
    /// Mean of the models' latest p99 latency, in ms.
    pub p99_avg_ms: Option<f64>,
    /// Requests that found their model in memory, and those that waited for a load.
    pub cache_hits: i64,
    pub cache_misses: i64,
    /// The memory its served models took on its heaviest day: each served
    /// version's measured bytes once, summed over the day.
    pub model_bytes_peak: i64,
}

/// Requests and errors of one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficBucket {
    pub start: i64,
    pub requests: i64,
    pub rows: i64,
    pub errors: i64,
}

/// Models failing a drift check in one family and week (the week's largest hourly count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftCell {
    pub family: String,
    pub week: i64,
    pub models: i64,
}

/// A model whose latest drift check warns or fails.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftedModel {
    pub model: String,
    pub family: String,
    pub check: String,
    pub status: String,
    pub value: Option<f64>,
}

/// A training dataset of the scope's champions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetUse {
    pub name: String,
    pub digest: String,
    pub champions: i64,
    pub families: i64,
    /// A newer digest of the same name exists.
    pub superseded: bool,
}

/// A champion replaced in the period: the key metric before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionEffect {
    pub model: String,
    pub family: String,
    pub time: i64,
    pub from_version: i64,
    pub to_version: i64,
    pub before: f64,
    pub after: f64,
}

/// The reads of the staleness, serving, drift, data and quality sections.
/// Each is grouped in the store and capped by `limit` (SQLite:
/// `sqlite/report_sections.rs`).
pub trait ReportSectionStore: Send + Sync {
    /// Staleness per family, ages at `at` (ms).
    fn staleness(&self, f: &ReportFilter, at: i64) -> StoreResult<Vec<FamilyStaleness>>;
    /// The oldest champions at `at`.
    fn oldest_champions(&self, f: &ReportFilter, at: i64, limit: usize) -> StoreResult<Vec<StaleChampion>>;
    /// Serving per family in `[from, to)` (UTC days that start in it).
    fn serving(&self, f: &ReportFilter, from: i64, to: i64) -> StoreResult<Vec<FamilyServing>>;
    /// Requests and errors per bucket of `width` ms from `from`.
    fn traffic(&self, f: &ReportFilter, from: i64, to: i64, width: i64) -> StoreResult<Vec<TrafficBucket>>;
    /// Families × weeks of models failing `check` (from the hourly health history).
    fn drift_weeks(&self, family: Option<&str>, check: &str, from: i64, to: i64) -> StoreResult<Vec<DriftCell>>;
    /// The models whose drift checks are worst now.
    fn drifted_models(&self, f: &ReportFilter, limit: usize) -> StoreResult<Vec<DriftedModel>>;
    /// The champions' training datasets, most used first, and how many distinct.
    fn datasets_in_use(&self, f: &ReportFilter, limit: usize) -> StoreResult<(Vec<DatasetUse>, i64)>;
    /// Champion replacements in `[from, to)` whose versions both carry `key`,
    /// sorted by `after - before` ascending (`ascending`) or descending, and how many there were.
    fn promotion_effects(
        &self,
        f: &ReportFilter,
        key: &str,
        from: i64,
        to: i64,
        ascending: bool,
        limit: usize,
    ) -> StoreResult<(Vec<PromotionEffect>, i64)>;
    /// Models registered in `[from, to)` (ms) in the fleet or in `family`,
    /// from counters the store keeps; `None` when it keeps none (the caller
    /// then counts the models).
    fn registered_count(&self, family: Option<&str>, from: i64, to: i64) -> StoreResult<Option<i64>>;
    /// Checks failing in the scope's latest health snapshot before `at`
    /// (fleet or family), and the snapshot's hour.
    fn failing_at(&self, family: Option<&str>, at: i64) -> StoreResult<Option<(i64, i64)>>;
}

/// A scheduled report rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    /// `daily` or `weekly`.
    pub every: String,
    /// The report's scope as its query string.
    pub query: String,
    /// The scope's family, `""` for the fleet and tag scopes.
    pub family: String,
    pub webhook_url: String,
    pub secret: String,
    /// `api` or `flag`.
    pub origin: String,
    pub created: i64,
    pub created_by: String,
    pub next_run: i64,
}

/// A rule to keep (its id and creation time are the store's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchedule {
    pub name: String,
    pub every: String,
    pub query: String,
    pub family: String,
    pub webhook_url: String,
    pub secret: String,
    pub origin: String,
    pub created_by: String,
    pub next_run: i64,
}

/// A report made by a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRun {
    pub id: i64,
    pub schedule_id: Option<i64>,
    pub name: String,
    pub query: String,
    pub family: String,
    pub time: i64,
    /// Its HTML in the artifact store (`""` when it failed).
    pub path: String,
    pub bytes: i64,
    pub error: Option<String>,
    pub notified: Option<String>,
}

/// Rules kept at most.
pub const MAX_SCHEDULES: i64 = 1_000;

/// Scheduled reports: rules and the reports made from them (SQLite:
/// `sqlite/report_schedules.rs`).
pub trait ReportScheduleStore: Send + Sync {
    /// Keeps a new rule; a name taken is `already exists`.
    fn create_schedule(&self, s: &NewSchedule) -> StoreResult<Schedule>;
    /// Keeps a rule given by a server flag: made when its name is new,
    /// its settings replaced (its next run kept) when not.
    fn upsert_flag_schedule(&self, s: &NewSchedule) -> StoreResult<Schedule>;
    fn schedules(&self) -> StoreResult<Vec<Schedule>>;
    fn get_schedule(&self, id: i64) -> StoreResult<Schedule>;
    fn delete_schedule(&self, id: i64) -> StoreResult<()>;
    /// Rules whose next run is at or before `now`, soonest first.
    fn due_schedules(&self, now: i64, limit: usize) -> StoreResult<Vec<Schedule>>;
    /// Records a report made (or failed) and moves its rule's next run.
    fn record_report_run(&self, run: &ReportRun, next_run: i64) -> StoreResult<i64>;
    /// Notes what the webhook answered for a report.
    fn set_report_notified(&self, run: i64, notified: &str) -> StoreResult<()>;
    /// The newest reports made, newest first.
    fn report_runs(&self, limit: usize) -> StoreResult<Vec<ReportRun>>;
    fn report_run(&self, id: i64) -> StoreResult<ReportRun>;
}
