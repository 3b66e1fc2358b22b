//! The fleet API's JSON contract (`/api/fleet/v1`): request bodies as
//! clients send them (defaults, list caps, the two forms of a model
//! address), read here and turned into the store's plain request types,
//! and the answers made from the store's fleet entities ([`answers`]).
//! The server's fleet adapter reads requests and writes answers, the CLI's
//! `--server` mode the other way round; both sides share one definition.
//!
//! Type names are part of the contract: serde's messages name them
//! ("expected struct NewFamily", "... untagged enum ModelAddress"), and a
//! refused body is answered with that message.

pub mod answers;
pub mod audit;

pub use answers::{AliasEvent, AliasMove, AliasReport, PartitionTarget, RegisteredVersion};
use flotilla_core::fleet::{MetricOp, PartitionValue};
use flotilla_core::model::Tag;
use flotilla_store::fleet as store;
use serde::{Deserialize, Serialize};

/// `POST /families`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewFamily {
    pub name: String,
    /// Partition level keys, top first: `["region", "store"]`.
    #[serde(deserialize_with = "flotilla_core::validation::capped_list")]
    pub levels: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl From<NewFamily> for store::NewFamily {
    fn from(f: NewFamily) -> Self {
        Self { name: f.name, levels: f.levels, description: f.description }
    }
}

/// A registered model named directly (`{"model"}`), or a family member by
/// partition path (`{"family", "partition"}`, the path as text or a list).
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

impl From<ModelAddress> for store::ModelAddress {
    fn from(a: ModelAddress) -> Self {
        match a {
            ModelAddress::Partition { family, partition } => Self::Partition { family, partition },
            ModelAddress::Name { model } => Self::Name { model },
        }
    }
}

/// One item of `POST /versions/bulk`.
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
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    pub metrics: Vec<(String, f64)>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    pub aliases: Vec<String>,
    /// The datasets it was trained (or validated) on: its lineage.
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    pub datasets: Vec<crate::data::DatasetInputItem>,
}

impl From<BulkVersion> for store::BulkVersion {
    fn from(v: BulkVersion) -> Self {
        Self {
            model: v.model.into(),
            source: v.source,
            run_id: v.run_id,
            description: v.description,
            tags: v.tags,
            metrics: v.metrics,
            aliases: v.aliases,
            datasets: v.datasets.into_iter().map(Into::into).collect(),
        }
    }
}

/// `POST /versions/bulk`.
#[derive(Debug, Deserialize)]
pub struct BulkVersions {
    #[serde(deserialize_with = "flotilla_core::validation::capped_list")]
    pub versions: Vec<BulkVersion>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One item of `POST /aliases/bulk`; no `version` removes the alias.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AliasChange {
    pub model: String,
    pub alias: String,
    pub version: Option<i64>,
}

impl From<AliasChange> for store::AliasChange {
    fn from(c: AliasChange) -> Self {
        Self { model: c.model, alias: c.alias, version: c.version }
    }
}

/// `POST /aliases/bulk`.
#[derive(Debug, Deserialize)]
pub struct BulkAliases {
    #[serde(deserialize_with = "flotilla_core::validation::capped_list")]
    pub changes: Vec<AliasChange>,
    #[serde(default)]
    pub reason: Option<String>,
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

/// A promotion rule as sent: everything but `family` and `metric` may be
/// left out (alias `champion`, `<=`, factor 1, unaliased members promoted,
/// the whole family).
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
    #[serde(default, deserialize_with = "flotilla_core::fleet::deserialize_path")]
    pub partition: Vec<PartitionValue>,
}

impl From<PromotionRule> for store::PromotionRule {
    fn from(r: PromotionRule) -> Self {
        Self {
            family: r.family,
            alias: r.alias,
            metric: r.metric,
            op: r.op,
            factor: r.factor,
            promote_unaliased: r.promote_unaliased,
            partition: r.partition,
        }
    }
}

impl From<&store::PromotionRule> for PromotionRule {
    fn from(r: &store::PromotionRule) -> Self {
        Self {
            family: r.family.clone(),
            alias: r.alias.clone(),
            metric: r.metric.clone(),
            op: r.op,
            factor: r.factor,
            promote_unaliased: r.promote_unaliased,
            partition: r.partition.clone(),
        }
    }
}

/// `POST /promotions`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Promotion {
    pub rule: PromotionRule,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /batches/{batch}/rollback`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rollback {
    #[serde(default)]
    pub reason: Option<String>,
}
