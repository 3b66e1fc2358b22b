//! Registered models, versions, aliases and family membership as the source
//! has them (see `sqlite/import/registry.rs` and `family.rs`).

use flotilla_core::fleet::{self, PartitionValue};
use flotilla_core::model::{ModelVersion, ModelVersionStatus, RegisteredModel};

use super::super::tx::Tx;
use super::super::{aliases, families, metrics, registry_search};
use crate::error::StoreResult;
use crate::import::{ImportedAlias, Outcome, compare_models, compare_versions};

fn model_id(tx: &mut Tx<'_>, name: &str) -> StoreResult<Option<i64>> {
    Ok(tx.query_opt("SELECT rm_id FROM registered_models WHERE name = $1", &[&name])?.map(|r| r.get(0)))
}

pub(super) fn model(tx: &mut Tx<'_>, m: &RegisteredModel) -> StoreResult<Outcome> {
    if let Some(id) = model_id(tx, &m.name)? {
        let have = registry_search::registered_models_by_ids(tx, &[id])?.remove(0);
        return Ok(compare_models(m, &have));
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO registered_models (name, creation_time, last_update_time, description, user_id)
             VALUES ($1, $2, $3, $4, $5) RETURNING rm_id",
            &[&m.name, &m.creation_timestamp, &m.last_updated_timestamp, &m.description, &m.user_id],
        )?
        .get(0);
    for t in &m.tags {
        tx.execute(
            "INSERT INTO registered_model_tags (rm_id, key, value) VALUES ($1, $2, $3)",
            &[&id, &t.key, &t.value],
        )?;
    }
    Ok(Outcome::Inserted)
}

fn status(s: ModelVersionStatus) -> &'static str {
    match s {
        ModelVersionStatus::PendingRegistration => "PENDING_REGISTRATION",
        ModelVersionStatus::FailedRegistration => "FAILED_REGISTRATION",
        ModelVersionStatus::Ready => "READY",
    }
}

pub(super) fn version(tx: &mut Tx<'_>, v: &ModelVersion) -> StoreResult<Outcome> {
    let Some(id) = model_id(tx, &v.name)? else {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    };
    let number = i64::from(v.version);
    if let Some(have) = registry_search::versions_by_keys(tx, &[(id, number)])?.pop() {
        return Ok(compare_versions(v, &have));
    }
    tx.execute(
        "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, description, user_id,
                                     current_stage, source, run_id, run_link, model_id, status, status_message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &id,
            &number,
            &v.creation_timestamp,
            &v.last_updated_timestamp,
            &v.description,
            &v.user_id,
            &v.current_stage,
            &v.source,
            &v.run_id,
            &v.run_link,
            &v.model_id,
            &status(v.status),
            &v.status_message,
        ],
    )?;
    for t in &v.tags {
        tx.execute(
            "INSERT INTO model_version_tags (rm_id, version, key, value) VALUES ($1, $2, $3, $4)",
            &[&id, &number, &t.key, &t.value],
        )?;
    }
    tx.execute(
        "UPDATE registered_models SET next_version = GREATEST(next_version, $1::BIGINT + 1) WHERE rm_id = $2",
        &[&number, &id],
    )?;
    if let Some(run_id) = &v.run_id {
        metrics::copy_run_metrics(tx, id, number, run_id)?;
    }
    Ok(Outcome::Inserted)
}

pub(super) fn alias(tx: &mut Tx<'_>, a: &ImportedAlias) -> StoreResult<Outcome> {
    let Some(id) = model_id(tx, &a.model)? else {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    };
    let number = i64::from(a.version);
    match aliases::current(tx, id, &a.alias)? {
        Some(have) if have == number => Ok(Outcome::Unchanged),
        Some(_) => Ok(Outcome::Conflict(vec!["version".into()])),
        None => {
            tx.execute(
                "INSERT INTO registered_model_aliases (rm_id, alias, version) VALUES ($1, $2, $3)",
                &[&id, &a.alias, &number],
            )?;
            metrics::refresh_alias_metrics(tx, id, Some(number))?;
            Ok(Outcome::Inserted)
        }
    }
}

pub(super) fn join_family(
    tx: &mut Tx<'_>,
    model: &str,
    family: &str,
    partition: &[(String, String)],
) -> StoreResult<Outcome> {
    let Some(rm_id) = model_id(tx, model)? else {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    };
    let family = families::family(tx, family)?;
    let path: Vec<PartitionValue> = partition.iter().map(|(k, v)| PartitionValue::new(k, v)).collect();
    if path.is_empty() || family.levels.iter().take(path.len()).ne(partition.iter().map(|(k, _)| k)) {
        return Ok(Outcome::Conflict(vec!["family.levels".into()]));
    }
    let member = tx.query_opt("SELECT 1 FROM fleet_members WHERE rm_id = $1", &[&rm_id])?.is_some();
    match (member, families::find_member(tx, &family, &path)?) {
        (true, Some(holder)) if holder == rm_id => return Ok(Outcome::Unchanged),
        (true, _) => return Ok(Outcome::Conflict(vec!["family".into()])),
        (false, Some(_)) => return Ok(Outcome::Conflict(vec!["partition".into()])),
        (false, None) => {}
    }
    let (leaf, ancestors) = path.split_last().ok_or_else(|| flotilla_core::Error::internal("empty partition"))?;
    let parent =
        if ancestors.is_empty() { family.default_rm_id } else { families::ensure_member(tx, &family, ancestors)?.0 };
    tx.execute(
        "INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent) VALUES ($1, $2, $3, $4, $5)",
        &[&rm_id, &family.id, &(path.len() as i64), &leaf.value, &parent],
    )?;
    for p in &path {
        tx.execute(
            "INSERT INTO member_partitions (rm_id, key, value) VALUES ($1, $2, $3)",
            &[&rm_id, &p.key, &p.value],
        )?;
    }
    for (key, value) in [(fleet::FAMILY_TAG, family.name.clone()), (fleet::PARTITION_TAG, fleet::path_string(&path))] {
        tx.execute(
            "INSERT INTO registered_model_tags (rm_id, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (rm_id, key) DO UPDATE SET value = excluded.value",
            &[&rm_id, &key, &value],
        )?;
    }
    Ok(Outcome::Inserted)
}
