//! The fleet API's answers that carry the store's fleet entities: what the
//! server writes and the CLI's `--server` mode reads back into the store's
//! types, field for field, so both modes print the same.

use flotilla_core::VersionNumber;
use flotilla_core::fleet::PartitionValue;
use flotilla_store::fleet as store;
use serde::{Deserialize, Serialize};

/// An item of `POST /versions/bulk`'s `registered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredVersion {
    pub model: String,
    pub version: VersionNumber,
}

impl From<store::RegisteredVersion> for RegisteredVersion {
    fn from(v: store::RegisteredVersion) -> Self {
        Self { model: v.model, version: v.version }
    }
}

/// One alias move; the metrics only for promotions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasMove {
    pub model: String,
    pub alias: String,
    pub from: Option<VersionNumber>,
    pub to: Option<VersionNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_metric: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_metric: Option<f64>,
}

impl From<store::AliasMove> for AliasMove {
    fn from(m: store::AliasMove) -> Self {
        let store::AliasMove { model, alias, from, to, from_metric, to_metric } = m;
        Self { model, alias, from, to, from_metric, to_metric }
    }
}

impl From<AliasMove> for store::AliasMove {
    fn from(m: AliasMove) -> Self {
        let AliasMove { model, alias, from, to, from_metric, to_metric } = m;
        Self { model, alias, from, to, from_metric, to_metric }
    }
}

/// The `report` of bulk alias changes, promotions and rollbacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasReport {
    pub batch_id: Option<i64>,
    pub dry_run: bool,
    pub examined: i64,
    pub moves: Vec<AliasMove>,
}

impl From<store::AliasReport> for AliasReport {
    fn from(r: store::AliasReport) -> Self {
        Self {
            batch_id: r.batch_id,
            dry_run: r.dry_run,
            examined: r.examined,
            moves: r.moves.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<AliasReport> for store::AliasReport {
    fn from(r: AliasReport) -> Self {
        Self {
            batch_id: r.batch_id,
            dry_run: r.dry_run,
            examined: r.examined,
            moves: r.moves.into_iter().map(Into::into).collect(),
        }
    }
}

/// `GET /resolve`'s `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionTarget {
    pub model: String,
    pub version: VersionNumber,
    pub partition: Vec<PartitionValue>,
    pub fallback: bool,
}

impl From<store::PartitionTarget> for PartitionTarget {
    fn from(t: store::PartitionTarget) -> Self {
        Self { model: t.model, version: t.version, partition: t.partition, fallback: t.fallback }
    }
}

/// An item of `GET /audit`'s `events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasEvent {
    pub event_id: i64,
    pub batch_id: i64,
    pub time: i64,
    pub actor: String,
    pub actor_verified: bool,
    pub kind: String,
    pub reason: String,
    pub model: String,
    pub alias: String,
    pub from: Option<VersionNumber>,
    pub to: Option<VersionNumber>,
}

impl From<store::AliasEvent> for AliasEvent {
    fn from(e: store::AliasEvent) -> Self {
        let store::AliasEvent { event_id, batch_id, time, actor, actor_verified, kind, reason, model, alias, from, to } =
            e;
        Self { event_id, batch_id, time, actor, actor_verified, kind, reason, model, alias, from, to }
    }
}

impl From<AliasEvent> for store::AliasEvent {
    fn from(e: AliasEvent) -> Self {
        let AliasEvent { event_id, batch_id, time, actor, actor_verified, kind, reason, model, alias, from, to } = e;
        Self { event_id, batch_id, time, actor, actor_verified, kind, reason, model, alias, from, to }
    }
}
