//! The fleet interface: families and partitions, fleet search and facets,
//! bulk registration and alias changes, rule-based promotion, rollback and
//! the audit log. Every bulk call runs in one transaction: it applies whole
//! or not at all, and a refusal names each culprit.
//!
//! The types are plain: how clients write them (defaults, caps, the forms
//! of a model address) and read them is the fleet API's contract, in
//! `flotilla_app::fleet_api`.

use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, MetricOp, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};
use flotilla_core::model::{Page, Tag};

use crate::error::StoreResult;
use crate::{PageRequest, Visible};

#[derive(Debug, Clone, Default)]
pub struct NewFamily {
    pub name: String,
    /// Partition level keys, top first: `["region", "store"]`.
    pub levels: Vec<String>,
    pub description: Option<String>,
}

/// A registered model named directly, or a family member by partition path
/// (created, with its ancestors, when a version is registered into it).
#[derive(Debug, Clone, PartialEq)]
pub enum ModelAddress {
    Partition { family: String, partition: Vec<PartitionValue> },
    Name { model: String },
}

#[derive(Debug, Clone)]
pub struct BulkVersion {
    pub model: ModelAddress,
    pub source: String,
    pub run_id: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    /// The version's metrics (a version registered from a run also gets the run's).
    pub metrics: Vec<(String, f64)>,
    /// Aliases to point at the new version.
    pub aliases: Vec<String>,
    /// The datasets it was trained (or validated) on: its lineage.
    pub datasets: Vec<crate::datasets::NewDatasetInput>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredVersion {
    pub model: String,
    pub version: VersionNumber,
}

/// Point `alias` of `model` at `version`, or remove it when `version` is `None`.
/// `version` is the number as requested, not yet known to exist: the store
/// checks it and names the item when it does not.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct AliasMove {
    pub model: String,
    pub alias: String,
    pub from: Option<VersionNumber>,
    pub to: Option<VersionNumber>,
    /// The rule's metric at `from` and at `to`, for promotions.
    pub from_metric: Option<f64>,
    pub to_metric: Option<f64>,
}

/// What a bulk alias request, promotion or rollback did (or, in a dry run,
/// would do). `batch_id` is `None` for a dry run or when nothing changed.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasReport {
    pub batch_id: Option<i64>,
    pub dry_run: bool,
    /// Models the rule looked at.
    pub examined: i64,
    pub moves: Vec<AliasMove>,
}

/// "For every model in `family`, point `alias` at the newest version whose
/// `metric` is `op` `factor` times the current aliased version's." Only
/// versions newer than the current one are candidates; a model without the
/// alias gets its newest version that has the metric, unless
/// `promote_unaliased` is false.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionRule {
    pub family: String,
    pub alias: String,
    pub metric: String,
    pub op: MetricOp,
    pub factor: f64,
    pub promote_unaliased: bool,
    /// Only members under this partition (e.g. `region=west`); empty for all.
    pub partition: Vec<PartitionValue>,
}

/// Where a partitioned request is served from.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionTarget {
    pub model: String,
    pub version: VersionNumber,
    /// The partition that answered; empty for the family default.
    pub partition: Vec<PartitionValue>,
    /// Whether the answer came from an ancestor of the requested partition.
    pub fallback: bool,
}

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq)]
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
    pub from: Option<VersionNumber>,
    pub to: Option<VersionNumber>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub model: Option<String>,
    pub batch_id: Option<i64>,
    pub page: PageRequest,
}

/// Families and their partitions (SQLite: `sqlite/families.rs`).
pub trait FamilyStore: Send + Sync {
    fn create_family(&self, family: &NewFamily) -> StoreResult<Family> {
        self.create_family_owned(family, None)
    }
    /// Creates a family; `owner` (a user id) gets MANAGE on it in the same
    /// transaction.
    fn create_family_owned(&self, family: &NewFamily, owner: Option<i64>) -> StoreResult<Family>;
    fn get_family(&self, name: &str) -> StoreResult<Family>;
    /// Families by name, only those `visible` admits (by family name).
    fn list_families(&self, page: &PageRequest, visible: &Visible) -> StoreResult<Page<Family>>;
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
