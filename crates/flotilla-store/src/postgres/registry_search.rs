//! Registry reads on PostgreSQL (as `sqlite/registry_search.rs`): whole
//! registered models and versions for a page of keys, the clauses and
//! orders of the two registry searches, and the reads the registry's writes
//! check first (a tag's old value, whether a family member may go).
//! Name patterns (`LIKE '%…%'`, ILIKE) are answered by the `pg_trgm` index
//! on `registered_models.name`, which the planner uses by itself.

use std::collections::HashMap;

use flotilla_core::filter::{Attr, Clause, Entity, Field, OrderBy};
use flotilla_core::model::{ModelVersion, ModelVersionStatus, RegisteredModel, RegisteredModelAlias, Tag};
use flotilla_core::{Error, VersionNumber};

use super::Tx;
use super::sql::{self, MissingKey, SortKey, Value};
use crate::error::StoreResult;

fn version(n: i64) -> StoreResult<VersionNumber> {
    VersionNumber::new(n)
        .ok_or_else(|| flotilla_core::Error::internal(format!("stored version {n} out of range")).into())
}

pub(super) fn registered_models_by_ids(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<Vec<RegisteredModel>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.to_vec();
    let mut models: HashMap<i64, RegisteredModel> = HashMap::with_capacity(ids.len());
    for r in tx.query(
        "SELECT rm_id, name, creation_time, last_update_time, description, user_id FROM registered_models
         WHERE rm_id = ANY($1)",
        &[&list],
    )? {
        models.insert(
            r.get(0),
            RegisteredModel {
                name: r.get(1),
                creation_timestamp: r.get(2),
                last_updated_timestamp: r.get(3),
                description: r.get(4),
                user_id: r.get(5),
                latest_versions: Vec::new(),
                tags: Vec::new(),
                aliases: Vec::new(),
            },
        );
    }
    for r in tx.query(
        "SELECT rm_id, key, value FROM registered_model_tags WHERE rm_id = ANY($1) ORDER BY rm_id, key",
        &[&list],
    )? {
        if let Some(m) = models.get_mut(&r.get(0)) {
            m.tags.push(Tag::new(r.get::<_, String>(1), r.get::<_, String>(2)));
        }
    }
    for r in tx.query(
        "SELECT rm_id, alias, version FROM registered_model_aliases WHERE rm_id = ANY($1) ORDER BY rm_id, alias",
        &[&list],
    )? {
        if let Some(m) = models.get_mut(&r.get(0)) {
            m.aliases.push(RegisteredModelAlias { alias: r.get(1), version: version(r.get(2))? });
        }
    }
    // The latest version in each stage, as MLflow's `latest_versions`: one
    // seek to the end of the (model, stage) index range per model and stage.
    let stages: Vec<String> = flotilla_core::model::STAGES.iter().map(|s| s.to_string()).collect();
    let mut latest: Vec<(i64, i64)> = tx
        .query(
            "SELECT m.id, (SELECT max(v.version) FROM model_versions v WHERE v.rm_id = m.id AND v.current_stage = s.stage)
             FROM unnest($1::BIGINT[]) m(id) CROSS JOIN unnest($2::TEXT[]) s(stage)",
            &[&list, &stages],
        )?
        .iter()
        .filter_map(|r| Some((r.get::<_, i64>(0), r.get::<_, Option<i64>>(1)?)))
        .collect();
    latest.sort_unstable();
    for ((id, _), v) in versions_keyed(tx, &latest)? {
        if let Some(m) = models.get_mut(&id) {
            m.latest_versions.push(v);
        }
    }
    Ok(ids.iter().filter_map(|id| models.remove(id)).collect())
}

pub(super) fn versions_by_keys(tx: &mut Tx<'_>, keys: &[(i64, i64)]) -> StoreResult<Vec<ModelVersion>> {
    Ok(versions_keyed(tx, keys)?.into_iter().map(|(_, v)| v).collect())
}

/// Loads versions for `(rm_id, version)` keys, in key order, with their tags
/// and aliases; keys that no longer exist are skipped.
fn versions_keyed(tx: &mut Tx<'_>, keys: &[(i64, i64)]) -> StoreResult<Vec<((i64, i64), ModelVersion)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
    let numbers: Vec<i64> = keys.iter().map(|k| k.1).collect();
    let page = "unnest($1::BIGINT[], $2::BIGINT[]) k(rm_id, version)";
    let mut versions: HashMap<(i64, i64), ModelVersion> = HashMap::with_capacity(keys.len());
    let sql = format!(
        "SELECT mv.rm_id, mv.version, rm.name, mv.creation_time, mv.last_update_time, mv.user_id, mv.current_stage,
                mv.description, mv.source, mv.run_id, mv.status, mv.status_message, mv.run_link, mv.model_id
         FROM {page}
         JOIN model_versions mv ON mv.rm_id = k.rm_id AND mv.version = k.version
         JOIN registered_models rm ON rm.rm_id = mv.rm_id"
    );
    for r in tx.query(&sql, &[&ids, &numbers])? {
        let status = match r.get::<_, String>(10).as_str() {
            "PENDING_REGISTRATION" => ModelVersionStatus::PendingRegistration,
            "FAILED_REGISTRATION" => ModelVersionStatus::FailedRegistration,
            _ => ModelVersionStatus::Ready,
        };
        versions.insert(
            (r.get(0), r.get(1)),
            ModelVersion {
                version: version(r.get(1))?,
                name: r.get(2),
                creation_timestamp: r.get(3),
                last_updated_timestamp: r.get(4),
                user_id: r.get(5),
                current_stage: r.get(6),
                description: r.get(7),
                source: r.get(8),
                run_id: r.get(9),
                status,
                status_message: r.get(11),
                tags: Vec::new(),
                run_link: r.get(12),
                aliases: Vec::new(),
                model_id: r.get(13),
            },
        );
    }
    let sql = format!(
        "SELECT t.rm_id, t.version, t.key, t.value FROM {page}
         JOIN model_version_tags t ON t.rm_id = k.rm_id AND t.version = k.version
         ORDER BY t.rm_id, t.version, t.key"
    );
    for r in tx.query(&sql, &[&ids, &numbers])? {
        if let Some(v) = versions.get_mut(&(r.get(0), r.get(1))) {
            v.tags.push(Tag::new(r.get::<_, String>(2), r.get::<_, String>(3)));
        }
    }
    let sql = format!(
        "SELECT a.rm_id, a.version, a.alias FROM {page}
         JOIN registered_model_aliases a ON a.rm_id = k.rm_id AND a.version = k.version
         ORDER BY a.rm_id, a.version, a.alias"
    );
    for r in tx.query(&sql, &[&ids, &numbers])? {
        if let Some(v) = versions.get_mut(&(r.get(0), r.get(1))) {
            v.aliases.push(r.get(2));
        }
    }
    Ok(keys.iter().filter_map(|k| versions.remove(k).map(|v| (*k, v))).collect())
}

pub(super) fn order_keys(
    entity: Entity,
    orders: &[OrderBy],
    defaults: &[SortKey],
    tiebreak: &[SortKey],
) -> StoreResult<Vec<SortKey>> {
    let mut keys = Vec::new();
    for o in orders {
        let columns: &[(Attr, &str)] = if entity == Entity::RegisteredModels {
            &[
                (Attr::Name, "rm.name"),
                (Attr::CreationTime, "rm.creation_time"),
                (Attr::LastUpdateTime, "rm.last_update_time"),
            ]
        } else {
            &[
                (Attr::Name, "rm.name"),
                (Attr::CreationTime, "mv.creation_time"),
                (Attr::LastUpdateTime, "mv.last_update_time"),
                (Attr::VersionNumber, "mv.version"),
            ]
        };
        let expr = match &o.field {
            Field::Attr(a) => sql::attr_column(*a, columns, "ordering")?,
            Field::Metric(_) | Field::Param(_) | Field::Tag(_) | Field::Dataset(_) => {
                return Err(sql::unsupported(&o.field, "ordering"));
            }
        };
        keys.push(SortKey { expr: expr.into(), desc: !o.ascending });
    }
    if keys.is_empty() {
        keys.extend_from_slice(defaults);
    }
    for k in tiebreak {
        if !keys.iter().any(|have| have.expr == k.expr) {
            keys.push(k.clone());
        }
    }
    Ok(keys)
}

pub(super) fn registered_model_clause(c: &Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    match &c.field {
        Field::Attr(a) => sql::compare(sql::attr_column(*a, &[(Attr::Name, "rm.name")], "registered models")?, c, args),
        Field::Tag(key) => {
            sql::key_value("registered_model_tags", "kv.rm_id = rm.rm_id", key, c, MissingKey::Matches, args)
        }
        Field::Metric(_) | Field::Param(_) | Field::Dataset(_) => Err(sql::unsupported(&c.field, "registered models")),
    }
}

const VERSION_COLUMNS: &[(Attr, &str)] = &[
    (Attr::Name, "rm.name"),
    (Attr::VersionNumber, "mv.version"),
    (Attr::RunId, "mv.run_id"),
    (Attr::SourcePath, "mv.source"),
];

pub(super) fn model_version_clause(c: &Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    match &c.field {
        Field::Attr(a) => sql::compare(sql::attr_column(*a, VERSION_COLUMNS, "model versions")?, c, args),
        Field::Tag(key) => sql::key_value(
            "model_version_tags",
            "kv.rm_id = mv.rm_id AND kv.version = mv.version",
            key,
            c,
            MissingKey::Matches,
            args,
        ),
        Field::Metric(_) | Field::Param(_) | Field::Dataset(_) => Err(sql::unsupported(&c.field, "model versions")),
    }
}

pub(super) fn model_tag(tx: &mut Tx<'_>, id: i64, key: &str) -> StoreResult<Option<String>> {
    Ok(tx
        .query_opt("SELECT value FROM registered_model_tags WHERE rm_id = $1 AND key = $2", &[&id, &key])?
        .map(|r| r.get(0)))
}

pub(super) fn version_tag(tx: &mut Tx<'_>, id: i64, v: i64, key: &str) -> StoreResult<Option<String>> {
    Ok(tx
        .query_opt(
            "SELECT value FROM model_version_tags WHERE rm_id = $1 AND version = $2 AND key = $3",
            &[&id, &v, &key],
        )?
        .map(|r| r.get(0)))
}

/// A family's default model, or a partition with child partitions, cannot
/// be deleted (as `sqlite/families.rs`).
pub(super) fn check_deletable(tx: &mut Tx<'_>, rm_id: i64, name: &str) -> StoreResult<()> {
    let is_default: Option<String> =
        tx.query_opt("SELECT name FROM families WHERE default_rm_id = $1", &[&rm_id])?.map(|r| r.get(0));
    if let Some(family) = is_default {
        return Err(Error::invalid_state(format!(
            "Registered model '{name}' is the default of family '{family}' and cannot be deleted"
        ))
        .into());
    }
    if tx.query_opt("SELECT 1 FROM fleet_members WHERE parent = $1 LIMIT 1", &[&rm_id])?.is_some() {
        return Err(Error::invalid_state(format!(
            "Registered model '{name}' is a partition with child partitions and cannot be deleted"
        ))
        .into());
    }
    Ok(())
}

/// A family member is named after its partition and cannot be renamed.
pub(super) fn check_renamable(tx: &mut Tx<'_>, rm_id: i64, name: &str) -> StoreResult<()> {
    if tx.query_opt("SELECT 1 FROM fleet_members WHERE rm_id = $1", &[&rm_id])?.is_some() {
        return Err(Error::invalid_state(format!(
            "Registered model '{name}' belongs to a family and is named after its partition; it cannot be renamed"
        ))
        .into());
    }
    Ok(())
}
