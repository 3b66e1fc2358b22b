//! Bulk registry writes: many versions, or many alias moves, in one
//! transaction. Every item is checked before anything is written, and a
//! refusal lists each failing item by its index, so a batch either applies
//! whole or not at all.

use std::collections::HashSet;

use flotilla_core::model::Tag;
use flotilla_core::{Error, validation};
use rusqlite::{Connection, OptionalExtension, params};

use super::aliases::{self, BatchKind, NewBatch};
use super::families;
use super::{SqliteStore, datasets, now_ms, registry, rows};
use crate::error::StoreResult;
use crate::fleet::{
    AliasChange, AliasMove, AliasReport, BulkStore, BulkVersion, ChangeContext, ModelAddress, RegisteredVersion,
};
use crate::fleet_checks::{ItemErrors, check_batch_size, check_version};

fn address_model(tx: &Connection, address: &ModelAddress) -> StoreResult<(i64, String)> {
    match address {
        ModelAddress::Name { model } => Ok((registry::rm_id(tx, model)?, model.clone())),
        ModelAddress::Partition { family, partition } => families::family(tx, family)?.ensure_member(tx, partition),
    }
}

fn insert_version(tx: &Connection, rm_id: i64, v: &BulkVersion, now: i64) -> StoreResult<i64> {
    let version: i64 = tx
        .prepare_cached(
            "UPDATE registered_models SET next_version = next_version + 1, last_update_time = ? WHERE rm_id = ?
             RETURNING next_version - 1",
        )?
        .query_row(params![now, rm_id], |r| r.get(0))?;
    let run_id = v.run_id.as_deref().filter(|r| !r.is_empty());
    tx.prepare_cached(
        "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, description, source, run_id, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'READY')",
    )?
    .execute(params![rm_id, version, now, now, v.description.as_deref().unwrap_or(""), v.source, run_id])?;
    let mut tag = tx
        .prepare_cached("INSERT OR REPLACE INTO model_version_tags (rm_id, version, key, value) VALUES (?, ?, ?, ?)")?;
    for Tag { key, value } in &v.tags {
        tag.execute(params![rm_id, version, key, value])?;
    }
    if let Some(run_id) = run_id {
        aliases::copy_run_metrics(tx, rm_id, version, run_id)?;
    }
    let mut metric = tx.prepare_cached(
        "INSERT OR REPLACE INTO model_version_metrics (rm_id, key, version, value) VALUES (?, ?, ?, ?)",
    )?;
    for (key, value) in &v.metrics {
        metric.execute(params![rm_id, key, version, value])?;
    }
    datasets::link_version(tx, rm_id, version, &v.datasets)?;
    Ok(version)
}

impl BulkStore for SqliteStore {
    fn register_versions(&self, versions: &[BulkVersion], ctx: &ChangeContext) -> StoreResult<Vec<RegisteredVersion>> {
        check_batch_size(versions.len(), "bulk registration")?;
        self.write_registry(|tx| {
            let now = now_ms();
            let mut errors = ItemErrors::default();
            let mut registered = Vec::with_capacity(versions.len());
            let mut batch = None;
            for (i, v) in versions.iter().enumerate() {
                let addressed = check_version(v).and_then(|()| address_model(tx, &v.model));
                let Some((rm_id, model)) = errors.check(i, addressed)? else { continue };
                let version = insert_version(tx, rm_id, v, now)?;
                if !v.aliases.is_empty() {
                    let batch = match batch {
                        Some(b) => b,
                        None => *batch.insert(open_bulk_batch(tx, ctx)?),
                    };
                    for alias in &v.aliases {
                        aliases::move_alias(tx, batch, rm_id, &model, alias, Some(version))?;
                    }
                }
                registered.push(RegisteredVersion { model, version: rows::version(version)? });
            }
            errors.finish("bulk registration")?;
            crate::audit::note(
                crate::audit::Change::new(
                    "fleet.register_versions",
                    "batch",
                    batch.map(|b| b.to_string()).unwrap_or_default(),
                )
                .count(registered.len()),
            );
            Ok(registered)
        })
    }

    fn set_aliases(&self, changes: &[AliasChange], ctx: &ChangeContext) -> StoreResult<AliasReport> {
        check_batch_size(changes.len(), "bulk alias change")?;
        let mut errors = ItemErrors::default();
        let mut seen = HashSet::new();
        for (i, c) in changes.iter().enumerate() {
            errors.check(i, validation::alias(&c.alias).map_err(Into::into))?;
            if !seen.insert((c.model.as_str(), c.alias.as_str())) {
                let twice = format!("alias '{}' of '{}' is changed twice in one request", c.alias, c.model);
                errors.check::<()>(i, Err(Error::invalid(twice).into()))?;
            }
        }
        errors.finish("bulk alias change")?;
        self.write_registry(|tx| {
            let mut errors = ItemErrors::default();
            let mut resolved = Vec::with_capacity(changes.len());
            for (i, c) in changes.iter().enumerate() {
                if let Some(rm_id) = errors.check(i, target(tx, c))? {
                    resolved.push((rm_id, c));
                }
            }
            errors.finish("bulk alias change")?;
            let batch = open_bulk_batch(tx, ctx)?;
            let now = now_ms();
            let mut moves = Vec::new();
            for (rm_id, c) in resolved {
                let from = aliases::move_alias(tx, batch, rm_id, &c.model, &c.alias, c.version)?;
                if from != c.version {
                    tx.prepare_cached("UPDATE registered_models SET last_update_time = ? WHERE rm_id = ?")?
                        .execute(params![now, rm_id])?;
                    moves.push(AliasMove {
                        model: c.model.clone(),
                        alias: c.alias.clone(),
                        from: from.map(rows::version).transpose()?,
                        to: c.version.map(rows::version).transpose()?,
                        from_metric: None,
                        to_metric: None,
                    });
                }
            }
            crate::audit::note(
                crate::audit::Change::new("fleet.set_aliases", "batch", batch.to_string()).count(moves.len()),
            );
            Ok(AliasReport { batch_id: Some(batch), dry_run: false, examined: changes.len() as i64, moves })
        })
    }
}

fn open_bulk_batch(tx: &Connection, ctx: &ChangeContext) -> StoreResult<i64> {
    aliases::open_batch(
        tx,
        &NewBatch {
            kind: BatchKind::Bulk,
            actor: &ctx.actor,
            actor_verified: ctx.actor_verified,
            reason: &ctx.reason,
            rule: None,
            reverts: None,
        },
    )
}

/// The model of an alias change, checking that the version exists.
fn target(tx: &Connection, c: &AliasChange) -> StoreResult<i64> {
    let rm_id = registry::rm_id(tx, &c.model)?;
    if let Some(v) = c.version {
        let exists: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM model_versions WHERE rm_id = ? AND version = ?")?
            .query_row(params![rm_id, v], |r| r.get(0))
            .optional()?;
        if exists.is_none() {
            return Err(Error::not_found(format!("Model Version (name={}, version={v}) not found", c.model)).into());
        }
    }
    Ok(rm_id)
}
