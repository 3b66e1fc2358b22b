//! The fleet interface: families and partitions, fleet search and facets,
//! bulk registration and alias changes, rule-based promotion, rollback and
//! the audit log. Every bulk call runs in one transaction: it applies whole
//! or not at all, and a refusal names each culprit.

use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, MetricOp, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};
use flotilla_core::model::{Page, Tag};
use serde::{Deserialize, Serialize};

use crate::PageRequest;
use crate::error::StoreResult;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewFamily {
    pub name: String,
    /// Partition level keys, top first: `["region", "store"]`.
    #[serde(deserialize_with = "flotilla_core::validation::capped_list")]
    pub levels: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A registered model named directly, or a family member by partition path
/// (created, with its ancestors, when a version is registered into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelAddress {
    Partition {
        family: String,
        #[serde(deserialize_with = "flotilla_core::fleet::deserialize_path")]
        partition: Vec<PartitionValue>,
    },
    Name {
        model: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub struct BulkVersion {
    #[serde(flatten)]
    pub model: ModelAddress,
    pub source: String,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    pub tags: Vec<Tag>,
    /// The version's metrics (a version registered from a run also gets the run's).
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    pub metrics: Vec<(String, f64)>,
    /// Aliases to point at the new version.
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredVersion {
    pub model: String,
    pub version: i64,
}

/// Point `alias` of `model` at `version`, or remove it when `version` is `None`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AliasChange {
    pub model: String,
    pub alias: String,
    pub version: Option<i64>,
}

/// Who asks for a change, and why: both go to the audit log.
#[derive(Debug, Clone, Default)]
pub struct ChangeContext {
    pub actor: String,
    /// Whether `actor` was established by authentication rather than claimed
    /// by the caller (a header, a flag); the audit log keeps the difference.
    pub actor_verified: bool,
    pub reason: String,
}

impl ChangeContext {
    /// A change by an actor the caller names but nothing has verified.
    pub fn claimed(actor: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { actor: actor.into(), actor_verified: false, reason: reason.into() }
    }
    /// A change by an authenticated user.
    pub fn verified(actor: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { actor: actor.into(), actor_verified: true, reason: reason.into() }
    }
    /// A change through the MLflow REST API with no authenticated caller.
    pub fn mlflow_api() -> Self {
        Self::claimed("mlflow-api", "")
    }
}

/// One alias move, planned or made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasMove {
    pub model: String,
    pub alias: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// The rule's metric at `from` and at `to`, for promotions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_metric: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_metric: Option<f64>,
}

/// What a bulk alias request, promotion or rollback did (or, in a dry run,
/// would do). `batch_id` is `None` for a dry run or when nothing changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasReport {
    pub batch_id: Option<i64>,
    pub dry_run: bool,
    /// Models the rule looked at.
    pub examined: i64,
    pub moves: Vec<AliasMove>,
}

fn default_alias() -> String {
    flotilla_core::fleet::DEFAULT_ALIAS.to_string()
}
fn default_op() -> MetricOp {
    MetricOp::Le
}
fn default_factor() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// "For every model in `family`, point `alias` at the newest version whose
/// `metric` is `op` `factor` times the current aliased version's." Only
/// versions newer than the current one are candidates; a model without the
/// alias gets its newest version that has the metric, unless
/// `promote_unaliased` is false.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionRule {
    pub family: String,
    #[serde(default = "default_alias")]
    pub alias: String,
    pub metric: String,
    #[serde(default = "default_op")]
    pub op: MetricOp,
    #[serde(default = "default_factor")]
    pub factor: f64,
    #[serde(default = "yes")]
    pub promote_unaliased: bool,
    /// Only members under this partition (e.g. `region=west`).
    #[serde(default, deserialize_with = "flotilla_core::fleet::deserialize_path")]
    pub partition: Vec<PartitionValue>,
}

/// Where a partitioned request is served from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionTarget {
    pub model: String,
    pub version: i64,
    /// The partition that answered; empty for the family default.
    pub partition: Vec<PartitionValue>,
    /// Whether the answer came from an ancestor of the requested partition.
    pub fallback: bool,
}

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasEvent {
    pub event_id: i64,
    pub batch_id: i64,
    pub time: i64,
    pub actor: String,
    /// False when the actor is only what the caller claimed.
    pub actor_verified: bool,
    pub kind: String,
    pub reason: String,
    pub model: String,
    pub alias: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub model: Option<String>,
    pub batch_id: Option<i64>,
    pub page: PageRequest,
}

/// Families and their partitions (SQLite: `sqlite/families.rs`).
pub trait FamilyStore: Send + Sync {
    fn create_family(&self, family: &NewFamily) -> StoreResult<Family>;
    fn get_family(&self, name: &str) -> StoreResult<Family>;
    fn list_families(&self, page: &PageRequest) -> StoreResult<Page<Family>>;
    /// The version serving `partition` of `family` under `alias` (else the
    /// newest), falling back to the parent partitions and then the default.
    fn resolve_partition(
        &self,
        family: &str,
        partition: &[PartitionValue],
        alias: &str,
    ) -> StoreResult<PartitionTarget>;
}

/// Bulk registration and alias changes (SQLite: `sqlite/bulk.rs`).
pub trait BulkStore: Send + Sync {
    /// Registers many versions in one transaction: all of them or none.
    fn register_versions(&self, versions: &[BulkVersion], ctx: &ChangeContext) -> StoreResult<Vec<RegisteredVersion>>;
    /// Moves many aliases in one transaction: all of them or none.
    fn set_aliases(&self, changes: &[AliasChange], ctx: &ChangeContext) -> StoreResult<AliasReport>;
}

/// Rule-based promotion, rollback and the audit log (SQLite: `sqlite/promotion.rs`).
pub trait PromotionStore: Send + Sync {
    fn promote(&self, rule: &PromotionRule, dry_run: bool, ctx: &ChangeContext) -> StoreResult<AliasReport>;
    /// Puts every alias a batch moved back where it was. Refuses, naming
    /// them, if any of those aliases has moved since.
    fn rollback(&self, batch_id: i64, ctx: &ChangeContext) -> StoreResult<AliasReport>;
    fn audit_log(&self, query: &AuditQuery) -> StoreResult<Page<AliasEvent>>;
}

/// Fleet search and facets over registered models (SQLite: `sqlite/fleet_search.rs`).
pub trait FleetSearchStore: Send + Sync {
    fn search_fleet(&self, query: &FleetQuery) -> StoreResult<Page<FleetModel>>;
    /// Counts over what `query` matches; `tag_keys` asks for tag-value counts.
    fn fleet_facets(&self, query: &FleetQuery, tag_keys: &[String]) -> StoreResult<Facets>;
}

/// Model versions across the fleet, in keyset pages (SQLite: `sqlite/version_search.rs`).
pub trait VersionSearchStore: Send + Sync {
    fn search_versions(&self, query: &VersionQuery) -> StoreResult<Page<FleetVersion>>;
}
