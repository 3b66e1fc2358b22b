//! Alias writes, the one place that moves an alias. Each move keeps
//! `alias_metrics` in step (the aliased version's metrics, for metric filters)
//! and appends an event to the audit log under a batch.
//!
//! Invariant: nothing else writes `registered_model_aliases` or
//! `alias_metrics`; a version's metrics change only when its run logs
//! metrics, which goes through [`run_metrics_changed`].

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::now_ms;
use crate::error::StoreResult;

/// Who made a batch of alias changes, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchKind {
    /// One change through the MLflow API.
    Api,
    Bulk,
    Promotion,
    Rollback,
}

impl BatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Bulk => "bulk",
            Self::Promotion => "promotion",
            Self::Rollback => "rollback",
        }
    }
}

pub(crate) struct NewBatch<'a> {
    pub kind: BatchKind,
    pub actor: &'a str,
    pub actor_verified: bool,
    pub reason: &'a str,
    pub rule: Option<&'a str>,
    pub reverts: Option<i64>,
}

impl<'a> NewBatch<'a> {
    /// A single change made through the MLflow REST API, by `ctx`'s actor.
    pub fn api(ctx: &'a crate::fleet::ChangeContext) -> Self {
        Self {
            kind: BatchKind::Api,
            actor: &ctx.actor,
            actor_verified: ctx.actor_verified,
            reason: &ctx.reason,
            rule: None,
            reverts: None,
        }
    }
}

impl NewBatch<'static> {
    /// Aliases set by the fleet generator.
    pub fn generated() -> Self {
        Self {
            kind: BatchKind::Bulk,
            actor: "generator",
            actor_verified: false,
            reason: "synthetic fleet",
            rule: None,
            reverts: None,
        }
    }
}

pub(crate) fn open_batch(tx: &Connection, batch: &NewBatch<'_>) -> StoreResult<i64> {
    tx.prepare_cached(
        "INSERT INTO alias_batches (time, actor, actor_verified, kind, reason, rule, reverts) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        now_ms(),
        batch.actor,
        batch.actor_verified,
        batch.kind.as_str(),
        batch.reason,
        batch.rule,
        batch.reverts
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The version an alias points at now.
pub(crate) fn current(tx: &Connection, rm_id: i64, alias: &str) -> StoreResult<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT version FROM registered_model_aliases WHERE rm_id = ? AND alias = ?")?
        .query_row(params![rm_id, alias], |r| r.get(0))
        .optional()?)
}

/// Points `alias` at `to` (or removes it when `to` is `None`), recording the
/// change under `batch`. Returns the version it pointed at before. A change
/// to where it already points records nothing.
pub(crate) fn move_alias(
    tx: &Connection,
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
    tx.prepare_cached("DELETE FROM alias_metrics WHERE rm_id = ? AND alias = ?")?.execute(params![rm_id, alias])?;
    match to {
        Some(version) => {
            tx.prepare_cached(
                "INSERT INTO registered_model_aliases (rm_id, alias, version) VALUES (?, ?, ?)
                 ON CONFLICT (rm_id, alias) DO UPDATE SET version = excluded.version",
            )?
            .execute(params![rm_id, alias, version])?;
            tx.prepare_cached(
                "INSERT INTO alias_metrics (rm_id, alias, key, value)
                 SELECT rm_id, ?2, key, value FROM model_version_metrics WHERE rm_id = ?1 AND version = ?3",
            )?
            .execute(params![rm_id, alias, version])?;
        }
        None => {
            tx.prepare_cached("DELETE FROM registered_model_aliases WHERE rm_id = ? AND alias = ?")?
                .execute(params![rm_id, alias])?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO alias_events (batch_id, rm_id, model_name, alias, from_version, to_version) VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![batch, rm_id, model_name, alias, from, to])?;
    Ok(from)
}

/// Starts a set-based plan of alias moves: an empty `temp.alias_plan`, which
/// the caller fills (one `INSERT ... SELECT`) and [`apply_plan`] applies.
///
/// At 100,000 moves, six statements per move cost seconds; the same writes
/// as a handful of set-based statements over the plan cost a fraction. The
/// table lives in the writer connection's temp schema (memory), so it is
/// never part of the database file; `seq` keeps the order of the audit log.
pub(crate) fn start_plan(tx: &Connection) -> StoreResult<()> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS alias_plan (
             seq          INTEGER PRIMARY KEY,
             rm_id        INTEGER NOT NULL,
             alias        TEXT NOT NULL,
             model_name   TEXT NOT NULL,
             from_version INTEGER,
             to_version   INTEGER,
             from_metric  REAL,
             to_metric    REAL
         );
         DELETE FROM temp.alias_plan;",
    )?;
    Ok(())
}

/// Applies the moves in `temp.alias_plan` under `batch`: the same rows as
/// [`move_alias`] for each, written set by set. The caller guarantees each
/// (model, alias) appears at most once and that every move changes
/// something (`from_version IS NOT to_version`). With `touch`, the moved
/// models' `last_update_time` becomes `now`.
pub(crate) fn apply_plan(tx: &Connection, batch: i64, touch: Option<i64>) -> StoreResult<usize> {
    // The moves touch `alias_metrics_by_value` all over (it is ordered by
    // value): a page cache that holds it saves most of the time. The
    // writer's usual cache comes back (and the memory is freed) afterwards.
    tx.execute_batch(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB};"))?;
    let applied = apply_plan_writes(tx, batch, touch);
    tx.execute_batch(&format!("PRAGMA cache_size = -{};", super::WRITER_CACHE_KIB))?;
    applied
}

/// The writer's page cache while it applies a large plan.
const BULK_CACHE_KIB: i64 = 262_144;

fn apply_plan_writes(tx: &Connection, batch: i64, touch: Option<i64>) -> StoreResult<usize> {
    let deleted_metrics =
        "DELETE FROM alias_metrics WHERE (rm_id, alias) IN (SELECT rm_id, alias FROM temp.alias_plan)";
    tx.prepare_cached(deleted_metrics)?.execute([])?;
    tx.prepare_cached(
        "INSERT INTO registered_model_aliases (rm_id, alias, version)
         SELECT rm_id, alias, to_version FROM temp.alias_plan WHERE to_version IS NOT NULL ORDER BY rm_id, alias
         ON CONFLICT (rm_id, alias) DO UPDATE SET version = excluded.version",
    )?
    .execute([])?;
    tx.prepare_cached(
        "DELETE FROM registered_model_aliases
         WHERE (rm_id, alias) IN (SELECT rm_id, alias FROM temp.alias_plan WHERE to_version IS NULL)",
    )?
    .execute([])?;
    tx.prepare_cached(
        "INSERT INTO alias_metrics (rm_id, alias, key, value)
         SELECT p.rm_id, p.alias, m.key, m.value FROM temp.alias_plan p
         JOIN model_version_metrics m ON m.rm_id = p.rm_id AND m.version = p.to_version
         ORDER BY p.rm_id, p.alias, m.key",
    )?
    .execute([])?;
    let moved = tx
        .prepare_cached(
            "INSERT INTO alias_events (batch_id, rm_id, model_name, alias, from_version, to_version)
             SELECT ?, rm_id, model_name, alias, from_version, to_version FROM temp.alias_plan ORDER BY seq",
        )?
        .execute([batch])?;
    if let Some(now) = touch {
        tx.prepare_cached(
            "UPDATE registered_models SET last_update_time = ? WHERE rm_id IN (SELECT rm_id FROM temp.alias_plan)",
        )?
        .execute([now])?;
    }
    Ok(moved)
}

/// Sets aliases on a model that has none yet (a bulk load): the same rows
/// as [`move_alias`] in three statements, with audit events under `batch`
/// (`None` only for synthetic fleets, whose batch records the load itself).
pub(crate) fn insert_fresh(
    tx: &Connection,
    batch: Option<i64>,
    rm_id: i64,
    model_name: &str,
    set: &[(&str, i64)],
) -> StoreResult<()> {
    let rows = |width: usize| vec![format!("({})", vec!["?"; width].join(", ")); set.len()].join(", ");
    let mut aliases: Vec<SqlValue> = Vec::with_capacity(3 * set.len());
    let mut events: Vec<SqlValue> = Vec::with_capacity(4 * set.len());
    for (alias, version) in set {
        aliases.extend([rm_id.into(), SqlValue::from(alias.to_string()), (*version).into()]);
        events.extend([
            batch.into(),
            rm_id.into(),
            SqlValue::from(model_name.to_string()),
            SqlValue::from(alias.to_string()),
            (*version).into(),
        ]);
    }
    tx.prepare_cached(&format!("INSERT INTO registered_model_aliases (rm_id, alias, version) VALUES {}", rows(3)))?
        .execute(params_from_iter(&aliases))?;
    refresh_alias_metrics(tx, rm_id)?;
    if batch.is_some() {
        tx.prepare_cached(&format!(
            "INSERT INTO alias_events (batch_id, rm_id, model_name, alias, to_version) VALUES {}",
            rows(5)
        ))?
        .execute(params_from_iter(&events))?;
    }
    Ok(())
}

/// After a run logged metrics: the versions registered from that run take
/// the run's latest values, and so do the aliases pointing at them. Runs
/// without registered versions (nearly all) cost one index probe.
pub(crate) fn run_metrics_changed(tx: &Connection, run_id: &str, keys: &[&str]) -> StoreResult<()> {
    let versions: Vec<(i64, i64)> = tx
        .prepare_cached("SELECT rm_id, version FROM model_versions WHERE run_id = ?")?
        .query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if versions.is_empty() {
        return Ok(());
    }
    // Only the logged keys, and only rows whose value moves: a batch costs the
    // metric-pair triggers of what it changed, not of every metric the run has.
    let keys = serde_json::to_string(keys).map_err(|e| flotilla_core::Error::internal(e.to_string()))?;
    for (rm_id, version) in versions {
        tx.prepare_cached(
            "INSERT INTO model_version_metrics (rm_id, key, version, value)
             SELECT ?1, lm.key, ?2, lm.value FROM runs r JOIN latest_metrics lm ON lm.run_key = r.run_key
             WHERE r.run_uuid = ?3 AND lm.is_nan = 0 AND lm.key IN (SELECT value FROM json_each(?4))
             ON CONFLICT (rm_id, key, version) DO UPDATE SET value = excluded.value
             WHERE value IS NOT excluded.value",
        )?
        .execute(params![rm_id, version, run_id, keys])?;
        tx.prepare_cached(
            "INSERT INTO alias_metrics (rm_id, alias, key, value)
             SELECT a.rm_id, a.alias, m.key, m.value FROM registered_model_aliases a
             JOIN model_version_metrics m ON m.rm_id = a.rm_id AND m.version = a.version
             WHERE a.rm_id = ?1 AND a.version = ?2 AND m.key IN (SELECT value FROM json_each(?3))
             ON CONFLICT (rm_id, alias, key) DO UPDATE SET value = excluded.value
             WHERE value IS NOT excluded.value",
        )?
        .execute(params![rm_id, version, keys])?;
    }
    Ok(())
}

/// Copies into `alias_metrics` the metrics of the versions `rm_id`'s aliases point at.
fn refresh_alias_metrics(tx: &Connection, rm_id: i64) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO alias_metrics (rm_id, alias, key, value)
         SELECT a.rm_id, a.alias, m.key, m.value FROM registered_model_aliases a
         JOIN model_version_metrics m ON m.rm_id = a.rm_id AND m.version = a.version
         WHERE a.rm_id = ?1",
    )?
    .execute([rm_id])?;
    Ok(())
}

/// A new version registered from a run starts with the run's latest metrics.
pub(crate) fn copy_run_metrics(tx: &Connection, rm_id: i64, version: i64, run_id: &str) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO model_version_metrics (rm_id, key, version, value)
         SELECT ?1, lm.key, ?2, lm.value FROM runs r JOIN latest_metrics lm ON lm.run_key = r.run_key
         WHERE r.run_uuid = ?3 AND lm.is_nan = 0",
    )?
    .execute(params![rm_id, version, run_id])?;
    Ok(())
}
