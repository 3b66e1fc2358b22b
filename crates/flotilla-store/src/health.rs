//! Fleet health (SQLite: `sqlite/health.rs`, migration 16): each model's
//! status per check, rolled up per fleet, family, partition and tag by
//! triggers as statuses change (so counts are read, never counted per
//! request), the worst models on a severity index, hourly history of the
//! fleet's and families' roll-ups, and what drift is judged with: a family's
//! drift configuration and a model's explicit baseline.

use flotilla_core::VersionNumber;
use flotilla_core::model::Page;

use crate::PageRequest;
use crate::error::StoreResult;
use crate::query::Visible;

/// A health check (issue 15, point 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    Traffic,
    ErrorRate,
    LatencyP99,
    DataDrift,
    PredictionDrift,
    Performance,
    Staleness,
    Baseline,
}

impl Check {
    pub const ALL: [Check; 8] = [
        Check::Traffic,
        Check::ErrorRate,
        Check::LatencyP99,
        Check::DataDrift,
        Check::PredictionDrift,
        Check::Performance,
        Check::Staleness,
        Check::Baseline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Traffic => "traffic",
            Check::ErrorRate => "error_rate",
            Check::LatencyP99 => "latency_p99",
            Check::DataDrift => "data_drift",
            Check::PredictionDrift => "prediction_drift",
            Check::Performance => "performance",
            Check::Staleness => "staleness",
            Check::Baseline => "baseline",
        }
    }

    pub fn parse(s: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A check's status, from best to worst (`Unknown`: no data to judge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Unknown,
    Warn,
    Fail,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Ok, Status::Warn, Status::Fail, Status::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One check's result for a model.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub check: Check,
    pub status: Status,
    pub value: Option<f64>,
}

/// A model's checks as one evaluation left them.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthUpdate {
    pub model: String,
    pub checks: Vec<CheckResult>,
}

/// Where a roll-up is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthScope {
    Fleet,
    Family(String),
    /// `key=value` inside a family.
    Partition {
        family: String,
        key: String,
        value: String,
    },
    /// `key=value` of a registered model tag (not `flotilla.*`).
    Tag {
        key: String,
        value: String,
    },
}

impl HealthScope {
    /// The `(kind, scope)` the roll-up rows are keyed by.
    pub fn key(&self) -> (&'static str, String) {
        match self {
            HealthScope::Fleet => ("fleet", String::new()),
            HealthScope::Family(f) => ("family", f.clone()),
            HealthScope::Partition { family, key, value } => ("partition", format!("{family}/{key}={value}")),
            HealthScope::Tag { key, value } => ("tag", format!("{key}={value}")),
        }
    }
}

/// Models with one check in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCount {
    pub check: Check,
    pub status: Status,
    pub models: i64,
}

/// The roll-up of a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCounts {
    pub counts: Vec<HealthCount>,
    /// The caller reads only part of the scope and the counts cover whole
    /// families only (models readable one by one are left out).
    pub partial: bool,
}

/// A model among the worst of a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct WorstModel {
    pub name: String,
    pub family: Option<String>,
    /// fails × 1024 + warns.
    pub score: i64,
    pub checks: Vec<CheckResult>,
}

/// The severity a model's checks add up to.
pub fn score(checks: &[CheckResult]) -> i64 {
    checks
        .iter()
        .map(|c| match c.status {
            Status::Fail => 1024,
            Status::Warn => 1,
            Status::Ok | Status::Unknown => 0,
        })
        .sum()
}

#[derive(Debug, Clone, Default)]
pub struct WorstQuery {
    /// `None`: the fleet.
    pub scope: Option<HealthScope>,
    pub page: PageRequest,
    pub visible: Visible,
}

/// One hour of a scope's roll-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPoint {
    pub hour: i64,
    pub check: Check,
    pub status: Status,
    pub models: i64,
}

/// A model's explicit drift reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// A dataset's kept profile.
    Dataset { name: String, digest: String },
    /// A past range of one version's own traffic, `[from, to)` in ms.
    Traffic { version: VersionNumber, from: i64, to: i64 },
}

/// The most worst models a page holds.
pub const MAX_WORST: i64 = 1000;

pub trait HealthStore: Send + Sync {
    /// Writes each model's checks (unknown models are skipped) and the
    /// roll-ups move with them; evaluates the alert rules against the
    /// updated models for the window ending at `window_end` (ms) and
    /// answers how many alert events were made.
    fn record_health(&self, updates: &[HealthUpdate], window_end: i64) -> StoreResult<usize>;
    /// The roll-up of a scope, as far as `visible` reads it.
    fn health_counts(&self, scope: &HealthScope, visible: &Visible) -> StoreResult<HealthCounts>;
    /// The worst models (highest severity first) the caller may read.
    fn worst_models(&self, query: &WorstQuery) -> StoreResult<Page<WorstModel>>;
    /// One model's checks; not found for an unknown model.
    fn model_health(&self, model: &str) -> StoreResult<Vec<CheckResult>>;
    /// Copies the fleet's and the families' roll-ups into the history at
    /// `hour` (replacing that hour's rows); answers the rows written.
    fn snapshot_health(&self, hour: i64) -> StoreResult<usize>;
    /// A fleet or family scope's history, `[from, to)`, oldest first, at most
    /// `limit` rows.
    fn health_history(&self, scope: &HealthScope, from: i64, to: i64, limit: usize) -> StoreResult<Vec<HistoryPoint>>;
    /// A family's drift configuration (JSON); not found for an unknown family.
    fn drift_config(&self, family: &str) -> StoreResult<Option<String>>;
    fn set_drift_config(&self, family: &str, config: &str) -> StoreResult<()>;
    /// A model's explicit baseline; not found for an unknown model.
    fn baseline(&self, model: &str) -> StoreResult<Option<Baseline>>;
    /// Sets (or with `None` clears) a model's baseline.
    fn set_baseline(&self, model: &str, baseline: Option<&Baseline>) -> StoreResult<()>;
}
