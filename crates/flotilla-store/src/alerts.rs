//! Alert rules, their firing and resolving events, and every delivery
//! attempt (SQLite: `sqlite/alerts.rs`, migration 16). Events are made by
//! [`crate::health::HealthStore::record_health`] as statuses change; the
//! delivery task claims due events, posts them and records each attempt.

use crate::PageRequest;
use crate::error::StoreResult;
use crate::health::{Check, Status};
use flotilla_core::model::Page;

/// Which models a rule watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleScope {
    Fleet,
    Family(String),
    Partition { family: String, key: String, value: String },
    Model(String),
}

impl RuleScope {
    pub fn kind(&self) -> &'static str {
        match self {
            RuleScope::Fleet => "fleet",
            RuleScope::Family(_) => "family",
            RuleScope::Partition { .. } => "partition",
            RuleScope::Model(_) => "model",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub name: String,
    pub scope: RuleScope,
    pub check: Check,
    /// Fires when the check is at this status or worse (warn or fail).
    pub status: Status,
    /// For this many consecutive windows.
    pub windows: i64,
    pub webhook_url: String,
    pub secret: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: i64,
    pub rule: NewRule,
    pub created: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Firing,
    Resolved,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Firing => "firing",
            EventKind::Resolved => "resolved",
        }
    }
}

/// An event due for delivery, with where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct DueEvent {
    pub event_id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub model: String,
    pub check: String,
    pub kind: String,
    pub status: String,
    pub value: Option<f64>,
    pub window_end: i64,
    pub dedup_key: String,
    pub attempts: i64,
    pub url: String,
    pub secret: String,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Will be tried again at `next_at`.
    Retrying {
        next_at: i64,
    },
    /// Out of attempts.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retrying { .. } => "retrying",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub event_id: i64,
    pub time: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub outcome: Outcome,
    pub duration_ms: i64,
}

/// A recorded attempt, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub event_id: i64,
    pub rule_id: i64,
    pub model: String,
    pub kind: String,
    pub dedup_key: String,
    pub attempt: i64,
    pub time: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub outcome: String,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub rule_id: Option<i64>,
    /// Only the rules with these ids (`None`: every rule).
    pub rules: Option<Vec<i64>>,
    pub page: PageRequest,
}

/// The most rules a store keeps.
pub const MAX_RULES: i64 = 10_000;

pub trait AlertStore: Send + Sync {
    fn create_rule(&self, rule: &NewRule, created_by: &str) -> StoreResult<Rule>;
    fn get_rule(&self, id: i64) -> StoreResult<Rule>;
    fn list_rules(&self) -> StoreResult<Vec<Rule>>;
    fn update_rule(&self, id: i64, rule: &NewRule) -> StoreResult<Rule>;
    fn delete_rule(&self, id: i64) -> StoreResult<()>;
    /// Up to `limit` pending events due at `now`, oldest first.
    fn due_events(&self, now: i64, limit: usize) -> StoreResult<Vec<DueEvent>>;
    /// Records an attempt and moves its event on (delivered, retried later, failed).
    fn record_attempt(&self, attempt: &Attempt) -> StoreResult<()>;
    /// The earliest time a pending event is due, if any.
    fn next_due(&self) -> StoreResult<Option<i64>>;
    /// Delivery attempts, newest first.
    fn deliveries(&self, query: &DeliveryQuery) -> StoreResult<Page<Delivery>>;
}

/// The `(scope_kind, scope)` columns a rule's scope is stored as (both backends).
pub(crate) fn scope_columns(scope: &RuleScope) -> (&'static str, String) {
    let text = match scope {
        RuleScope::Fleet => String::new(),
        RuleScope::Family(f) | RuleScope::Model(f) => f.clone(),
        RuleScope::Partition { family, key, value } => format!("{family}/{key}={value}"),
    };
    (scope.kind(), text)
}

/// The scope stored as `(kind, scope)`.
pub(crate) fn scope_of(kind: &str, scope: &str) -> Option<RuleScope> {
    Some(match kind {
        "fleet" => RuleScope::Fleet,
        "family" => RuleScope::Family(scope.to_string()),
        "model" => RuleScope::Model(scope.to_string()),
        "partition" => {
            let (family, kv) = scope.split_once('/')?;
            let (key, value) = kv.split_once('=')?;
            RuleScope::Partition { family: family.into(), key: key.into(), value: value.into() }
        }
        _ => return None,
    })
}

/// A rule's state for one model after a window: the streak of matching
/// windows, whether it fires, and the event the window makes. A rule fires
/// when the streak reaches its window count and resolves at the first
/// window that no longer matches.
pub(crate) fn step(matches: bool, streak: i64, firing: bool, windows: i64) -> (i64, bool, Option<EventKind>) {
    match (matches, firing) {
        (true, true) => (streak + 1, true, None),
        (true, false) if streak + 1 >= windows => (streak + 1, true, Some(EventKind::Firing)),
        (true, false) => (streak + 1, false, None),
        (false, true) => (0, false, Some(EventKind::Resolved)),
        (false, false) => (0, false, None),
    }
}

/// The key an event is deduplicated by: rule, model, window, kind.
pub(crate) fn dedup_key(rule: i64, model: &str, window_end: i64, kind: EventKind) -> String {
    format!("{rule}:{model}:{window_end}:{}", kind.as_str())
}
