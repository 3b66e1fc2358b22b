//! Bulk loads: the store's surface for a loader that writes its tables
//! directly (the fleet generator, `flotilla-fleetgen`, the one user), kept
//! as narrow as it can be:
//!
//! - [`Loader`] opens the store to itself, out of WAL mode, for the load;
//! - [`begin`] drops the secondary indexes and the name-index trigger before
//!   the load, and [`finish`] (or [`finish_except`]) rebuilds them once
//!   after it, which is several times faster than maintaining them row by
//!   row;
//! - [`open_generated_batch`] and [`insert_aliases`] write aliases with
//!   their audit trail and metrics, as the store does.
//!
//! Crash safety: the definitions of what was dropped are saved in
//! `bulk_load_pending` in the same transaction as the drop, and the next
//! open of the store rebuilds whatever a dead load left pending.

use rusqlite::Connection;

use super::aliases;
use crate::error::StoreResult;

mod loader;

pub use loader::Loader;

/// Secondary structures a load may drop: every one is rebuilt from its saved SQL.
const DEFERRED: &[&str] = &[
    "registered_model_names_insert",
    // Name order (migration 23): every model placed afresh after the load.
    "registered_model_name_order_insert",
    "registered_models_by_creation",
    "registered_models_by_update",
    "registered_models_by_creation_desc",
    "registered_models_by_update_desc",
    "registered_model_tags_by_key",
    "registered_model_aliases_by_alias",
    "model_versions_by_stage",
    "model_versions_by_creation",
    "model_version_metrics_by_value",
    "member_partitions_by_value",
    "alias_metrics_by_value",
    "alias_events_by_batch",
    "alias_events_by_model",
    "fleet_members_by_parent",
    "facet_models_insert",
    "facet_aliases_insert",
    "facet_versions_insert",
    "facet_tags_insert",
    "facet_members_insert",
    // Lineage (migration 14): a loader writes the counts this trigger keeps.
    "dataset_versions_count_insert",
    "dataset_versions_by_version",
    "dataset_entities_by_name_time",
    // Metric pairs (migration 17): rebuilt from the metric tables.
    "alias_metric_pairs_by_bucket",
    "alias_metric_pairs_delete",
    "alias_metric_pairs_insert",
    "alias_metric_pairs_overflow",
    "alias_metric_pairs_update",
    "version_metric_pairs_by_bucket",
    "version_metric_pairs_delete",
    "version_metric_pairs_insert",
    "version_metric_pairs_overflow",
    "version_metric_pairs_update",
    // Report counters (migration 20): recounted after the load (`report_recount.sql`).
    "report_models_insert",
    "report_models_before_delete",
    "report_aliases_insert",
    "report_aliases_update",
    "report_aliases_delete",
    "report_versions_insert",
    "report_versions_delete",
    "report_versions_time",
    "report_members_insert",
    "report_members_update",
    "report_members_delete",
    "report_lineage_before_insert",
    "report_lineage_insert",
    "report_lineage_before_delete",
    "report_lineage_delete",
    "report_datasets_insert",
    "report_datasets_change",
    "report_datasets_delete",
];

/// The metric pairs' triggers and indexes, which a load leaving the metric
/// tables to a later copy leaves pending until then.
pub const METRIC_PAIRS: &[&str] = super::metric_pairs::DEFERRED;

/// Saves and drops the deferred indexes and trigger.
pub fn begin(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS bulk_load_pending (name TEXT PRIMARY KEY, kind TEXT NOT NULL, sql TEXT NOT NULL);",
    )?;
    for name in DEFERRED {
        let saved = conn.execute(
            "INSERT OR IGNORE INTO bulk_load_pending (name, kind, sql)
             SELECT name, type, sql FROM sqlite_master WHERE name = ? AND sql IS NOT NULL",
            [name],
        )?;
        if saved > 0 {
            let kind: String =
                conn.query_row("SELECT kind FROM bulk_load_pending WHERE name = ?", [name], |r| r.get(0))?;
            let verb = if kind == "trigger" { "TRIGGER" } else { "INDEX" };
            conn.execute_batch(&format!("DROP {verb} IF EXISTS {name};"))?;
        }
    }
    Ok(())
}

/// How the counters and the name index get back in step after a load.
#[derive(Debug, Clone, Copy)]
pub enum CatchUp {
    /// Recount the facet counters and rebuild the name index from the tables.
    FromTables,
    /// The loader adds the counts it tallied and copies in a name index it
    /// built itself (cheaper than a recount, which groups every tag,
    /// version and alias of the registry, and than a rebuild).
    ByLoader,
}

/// Rebuilds everything pending and, as `catch_up` says, the facet counters
/// and the trigram name index.
pub fn finish(conn: &Connection, catch_up: CatchUp) -> StoreResult<()> {
    finish_except(conn, catch_up, &[])
}

/// Like [`finish`], leaving the structures named in `later` pending (for a
/// later transaction, or for the next open if that one never commits).
pub fn finish_except(conn: &Connection, catch_up: CatchUp, later: &[&str]) -> StoreResult<()> {
    let pending: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM bulk_load_pending ORDER BY name")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .filter(|row| row.as_ref().map_or(true, |(name, _)| !later.contains(&name.as_str())))
        .collect::<Result<_, _>>()?;
    // Sorts run in 16 MB batches on a second thread (the batch size follows the page cache's).
    conn.execute_batch("PRAGMA threads = 2; PRAGMA cache_size = -16384;")?;
    // The pairs, while their triggers and indexes are still off (the indexes
    // are then made in one sort each).
    if pending.iter().any(|(name, _)| name == "version_metric_pairs_insert") {
        let started = std::time::Instant::now();
        conn.execute_batch(super::metric_pairs::REBUILD)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "rebuilt the metric pairs");
    }
    for (name, sql) in &pending {
        let started = std::time::Instant::now();
        conn.execute_batch(sql)?;
        conn.execute("DELETE FROM bulk_load_pending WHERE name = ?", [name])?;
        tracing::debug!(name, seconds = started.elapsed().as_secs_f64(), "rebuilt");
    }
    let from_tables = matches!(catch_up, CatchUp::FromTables);
    if from_tables && pending.iter().any(|(name, _)| name == "registered_model_names_insert") {
        let started = std::time::Instant::now();
        conn.execute_batch("INSERT INTO registered_model_names (registered_model_names) VALUES ('rebuild');")?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "rebuilt the trigram name index");
    }
    // Whichever way the loader catches up, the places are made from the tables.
    if pending.iter().any(|(name, _)| name == "registered_model_name_order_insert") {
        let started = std::time::Instant::now();
        conn.execute_batch(include_str!("name_order_rebuild.sql"))?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "placed the models in name order");
    }
    conn.execute_batch(&format!("PRAGMA threads = 0; PRAGMA cache_size = -{};", super::WRITER_CACHE_KIB))?;
    if from_tables && pending.iter().any(|(name, _)| name.starts_with("facet_")) {
        conn.execute_batch(include_str!("facet_recount.sql"))?;
    }
    // No loader tallies these: whichever way it catches up, they are recounted.
    if pending.iter().any(|(name, _)| name.starts_with("report_")) {
        let started = std::time::Instant::now();
        conn.execute_batch(include_str!("report_recount.sql"))?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "recounted the report counters");
    }
    Ok(())
}

/// Opens the audit batch under which generated aliases are recorded (actor
/// `generator`, kind `bulk`); returns its id.
pub fn open_generated_batch(tx: &Connection) -> StoreResult<i64> {
    aliases::open_batch(tx, &aliases::NewBatch::generated())
}

/// Sets aliases (name, version) on a model that has none yet, with their
/// audit events under `batch` and their metrics, as an alias move would.
pub fn insert_aliases(
    tx: &Connection,
    batch: i64,
    rm_id: i64,
    model_name: &str,
    set: &[(&str, i64)],
) -> StoreResult<()> {
    aliases::insert_fresh(tx, Some(batch), rm_id, model_name, set)
}

/// At open: finishes a load that died half-way.
pub(crate) fn check(conn: &Connection) -> StoreResult<()> {
    let table: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'bulk_load_pending'",
        [],
        |r| r.get(0),
    )?;
    if table == 0 {
        return Ok(());
    }
    let pending: i64 = conn.query_row("SELECT count(*) FROM bulk_load_pending", [], |r| r.get(0))?;
    if pending > 0 {
        tracing::warn!(pending, "an interrupted bulk load left indexes to rebuild; rebuilding them");
        let tx = conn.unchecked_transaction()?;
        finish(&tx, CatchUp::FromTables)?;
        tx.commit()?;
    }
    Ok(())
}
