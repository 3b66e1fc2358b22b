//! Alias writes on PostgreSQL (as `sqlite/aliases.rs`), the one place that
//! moves an alias: each move keeps `alias_metrics` in step and appends an
//! event to the audit log under a batch. The set-based plans of bulk
//! changes belong to the bulk area, not yet ported.

use super::Tx;
use crate::error::StoreResult;
use crate::fleet::ChangeContext;
use crate::sqlite::now_ms;

/// Opens a batch for one change made through the MLflow API by `ctx`'s actor.
pub(super) fn open_api_batch(tx: &mut Tx<'_>, ctx: &ChangeContext) -> StoreResult<i64> {
    Ok(tx
        .query_one(
            "INSERT INTO alias_batches (time, actor, actor_verified, kind, reason, rule, reverts)
             VALUES ($1, $2, $3, 'api', $4, NULL, NULL) RETURNING batch_id",
            &[&now_ms(), &ctx.actor, &ctx.actor_verified, &ctx.reason],
        )?
        .get(0))
}

/// The version an alias points at now.
pub(super) fn current(tx: &mut Tx<'_>, rm_id: i64, alias: &str) -> StoreResult<Option<i64>> {
    Ok(tx
        .query_opt("SELECT version FROM registered_model_aliases WHERE rm_id = $1 AND alias = $2", &[&rm_id, &alias])?
        .map(|r| r.get(0)))
}

/// Points `alias` at `to` (or removes it when `to` is `None`), recording the
/// change under `batch`; answers the version it pointed at before. A change
/// to where it already points records nothing.
pub(super) fn move_alias(
    tx: &mut Tx<'_>,
    batch: i64,
    rm_id: i64,
    model_name: &str,
    alias: &str,
    to: Option<i64>,
) -> StoreResult<Option<i64>> {
    let from = current(tx, rm_id, alias)?;
    if from == to {
        return Ok(from);
    }
    tx.execute("DELETE FROM alias_metrics WHERE rm_id = $1 AND alias = $2", &[&rm_id, &alias])?;
    match to {
        Some(version) => {
            tx.execute(
                "INSERT INTO registered_model_aliases (rm_id, alias, version) VALUES ($1, $2, $3)
                 ON CONFLICT (rm_id, alias) DO UPDATE SET version = excluded.version",
                &[&rm_id, &alias, &version],
            )?;
            tx.execute(
                "INSERT INTO alias_metrics (rm_id, alias, key, value)
                 SELECT rm_id, $2, key, value FROM model_version_metrics WHERE rm_id = $1 AND version = $3",
                &[&rm_id, &alias, &version],
            )?;
        }
        None => {
            tx.execute("DELETE FROM registered_model_aliases WHERE rm_id = $1 AND alias = $2", &[&rm_id, &alias])?;
        }
    }
    tx.execute(
        "INSERT INTO alias_events (batch_id, rm_id, model_name, alias, from_version, to_version)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&batch, &rm_id, &model_name, &alias, &from, &to],
    )?;
    Ok(from)
}
