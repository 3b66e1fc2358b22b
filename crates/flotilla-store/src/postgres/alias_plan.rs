//! Batches of alias moves on PostgreSQL: opening a batch of any kind, and
//! applying a planned list of moves set by set (as `sqlite/aliases.rs`'s
//! `apply_plan`). The plan travels as arrays (`unnest`) rather than a
//! temporary table: one statement per table whatever the plan's size, and
//! nothing left in the session. The single moves of the MLflow API stay in
//! `aliases.rs`.

use super::Tx;
use crate::error::StoreResult;
use crate::sqlite::aliases::NewBatch;
use crate::sqlite::now_ms;

/// Opens a batch; its id.
pub(super) fn open_batch(tx: &mut Tx<'_>, batch: &NewBatch<'_>) -> StoreResult<i64> {
    Ok(tx
        .query_one(
            "INSERT INTO alias_batches (time, actor, actor_verified, kind, reason, rule, reverts)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING batch_id",
            &[
                &now_ms(),
                &batch.actor,
                &batch.actor_verified,
                &batch.kind.as_str(),
                &batch.reason,
                &batch.rule,
                &batch.reverts,
            ],
        )?
        .get(0))
}

/// One planned move: `alias` of model `rm_id` (named `model`) from `from` to `to`.
#[derive(Debug, Clone)]
pub(super) struct PlannedMove {
    pub rm_id: i64,
    pub model: String,
    pub alias: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// The plan as `unnest`'s arrays: $1 rm_id, $2 alias, $3 model, $4 from, $5 to.
const PLAN: &str = "unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) \
                    WITH ORDINALITY AS p (rm_id, alias, model_name, from_version, to_version, seq)";

/// Applies `moves` under `batch`: the same rows as `aliases::move_alias`
/// for each in turn, written set by set. Every move changes something; a
/// (model, alias) moved more than once ends where its last move puts it,
/// and each move is an event. With `touch`, the moved models'
/// `last_update_time` becomes `now`.
pub(super) fn apply(tx: &mut Tx<'_>, batch: i64, moves: &[PlannedMove], touch: Option<i64>) -> StoreResult<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let mut last = std::collections::HashMap::new();
    for (i, m) in moves.iter().enumerate() {
        last.insert((m.rm_id, m.alias.as_str()), i);
    }
    let finals: Vec<PlannedMove> = moves
        .iter()
        .enumerate()
        .filter(|(i, m)| last[&(m.rm_id, m.alias.as_str())] == *i)
        .map(|(_, m)| m.clone())
        .collect();
    write_final_state(tx, &finals)?;
    let rm_ids: Vec<i64> = moves.iter().map(|m| m.rm_id).collect();
    let aliases: Vec<&str> = moves.iter().map(|m| m.alias.as_str()).collect();
    let models: Vec<&str> = moves.iter().map(|m| m.model.as_str()).collect();
    let from: Vec<Option<i64>> = moves.iter().map(|m| m.from).collect();
    let to: Vec<Option<i64>> = moves.iter().map(|m| m.to).collect();
    tx.execute(
        &format!(
            "INSERT INTO alias_events (batch_id, rm_id, model_name, alias, from_version, to_version)
             SELECT $6, p.rm_id, p.model_name, p.alias, p.from_version, p.to_version FROM {PLAN} ORDER BY p.seq"
        ),
        &[&rm_ids, &aliases, &models, &from, &to, &batch],
    )?;
    if let Some(now) = touch {
        tx.execute("UPDATE registered_models SET last_update_time = $1 WHERE rm_id = ANY($2)", &[&now, &rm_ids])?;
    }
    Ok(())
}

/// Points each (model, alias) of `moves` (each once) at its `to`, with its metrics.
fn write_final_state(tx: &mut Tx<'_>, moves: &[PlannedMove]) -> StoreResult<()> {
    let rm_ids: Vec<i64> = moves.iter().map(|m| m.rm_id).collect();
    let aliases: Vec<&str> = moves.iter().map(|m| m.alias.as_str()).collect();
    let models: Vec<&str> = moves.iter().map(|m| m.model.as_str()).collect();
    let from: Vec<Option<i64>> = moves.iter().map(|m| m.from).collect();
    let to: Vec<Option<i64>> = moves.iter().map(|m| m.to).collect();
    let plan: [&(dyn postgres::types::ToSql + Sync); 5] = [&rm_ids, &aliases, &models, &from, &to];
    tx.execute(
        &format!("DELETE FROM alias_metrics am USING {PLAN} WHERE am.rm_id = p.rm_id AND am.alias = p.alias"),
        &plan,
    )?;
    tx.execute(
        &format!(
            "INSERT INTO registered_model_aliases (rm_id, alias, version)
             SELECT p.rm_id, p.alias, p.to_version FROM {PLAN} WHERE p.to_version IS NOT NULL ORDER BY p.rm_id, p.alias
             ON CONFLICT (rm_id, alias) DO UPDATE SET version = excluded.version"
        ),
        &plan,
    )?;
    tx.execute(
        &format!(
            "DELETE FROM registered_model_aliases a USING {PLAN}
             WHERE a.rm_id = p.rm_id AND a.alias = p.alias AND p.to_version IS NULL"
        ),
        &plan,
    )?;
    tx.execute(
        &format!(
            "INSERT INTO alias_metrics (rm_id, alias, key, value)
             SELECT p.rm_id, p.alias, m.key, m.value FROM {PLAN}
             JOIN model_version_metrics m ON m.rm_id = p.rm_id AND m.version = p.to_version
             ORDER BY p.rm_id, p.alias, m.key"
        ),
        &plan,
    )?;
    Ok(())
}
