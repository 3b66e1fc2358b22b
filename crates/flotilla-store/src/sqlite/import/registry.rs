//! Registered models, versions (numbers kept) and aliases written as the
//! source has them; see the parent module.

use flotilla_core::model::{ModelVersion, ModelVersionStatus, RegisteredModel};
use rusqlite::{Connection, OptionalExtension, params};

use super::super::{aliases, name_order_respace, registry_search};
use crate::error::StoreResult;
use crate::import::{ImportedAlias, Outcome, compare_models, compare_versions};

fn model_id(tx: &Connection, name: &str) -> StoreResult<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT rm_id FROM registered_models WHERE name = ?")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub(super) fn model(tx: &Connection, m: &RegisteredModel) -> StoreResult<Outcome> {
    if let Some(id) = model_id(tx, &m.name)? {
        let have = registry_search::registered_models_by_ids(tx, &[id])?.remove(0);
        return Ok(compare_models(m, &have));
    }
    tx.prepare_cached(
        "INSERT INTO registered_models (name, creation_time, last_update_time, description, user_id) VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![m.name, m.creation_timestamp, m.last_updated_timestamp, m.description, m.user_id])?;
    let id = tx.last_insert_rowid();
    name_order_respace::place_if_unplaced(tx, id)?;
    let mut insert = tx.prepare_cached("INSERT INTO registered_model_tags (rm_id, key, value) VALUES (?, ?, ?)")?;
    for t in &m.tags {
        insert.execute(params![id, t.key, t.value])?;
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

pub(super) fn version(tx: &Connection, v: &ModelVersion) -> StoreResult<Outcome> {
    let Some(id) = model_id(tx, &v.name)? else {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    };
    let number = i64::from(v.version);
    if let Some(have) = registry_search::versions_by_keys(tx, &[(id, number)])?.pop() {
        return Ok(compare_versions(v, &have));
    }
    tx.prepare_cached(
        "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, description, user_id,
                                     current_stage, source, run_id, run_link, model_id, status, status_message)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        id,
        number,
        v.creation_timestamp,
        v.last_updated_timestamp,
        v.description,
        v.user_id,
        v.current_stage,
        v.source,
        v.run_id,
        v.run_link,
        v.model_id,
        status(v.status),
        v.status_message
    ])?;
    let mut insert =
        tx.prepare_cached("INSERT INTO model_version_tags (rm_id, version, key, value) VALUES (?, ?, ?, ?)")?;
    for t in &v.tags {
        insert.execute(params![id, number, t.key, t.value])?;
    }
    // Numbers are never reused: the next version created here follows the highest imported.
    tx.prepare_cached("UPDATE registered_models SET next_version = max(next_version, ?1 + 1) WHERE rm_id = ?2")?
        .execute(params![number, id])?;
    if let Some(run_id) = &v.run_id {
        aliases::copy_run_metrics(tx, id, number, run_id)?;
    }
    Ok(Outcome::Inserted)
}

pub(super) fn alias(tx: &Connection, a: &ImportedAlias) -> StoreResult<Outcome> {
    let Some(id) = model_id(tx, &a.model)? else {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    };
    let number = i64::from(a.version);
    match aliases::current(tx, id, &a.alias)? {
        Some(have) if have == number => Ok(Outcome::Unchanged),
        Some(_) => Ok(Outcome::Conflict(vec!["version".into()])),
        None => {
            aliases::insert_fresh(tx, None, id, &a.model, &[(a.alias.as_str(), number)])?;
            Ok(Outcome::Inserted)
        }
    }
}
