//! Schema migrations for PostgreSQL, applied in order at connect and recorded
//! in `flotilla_schema`. Numbers are SQLite's (`sqlite/migrations.rs`): a
//! version means the same schema on both backends. Each runs in its own
//! transaction under an advisory lock, so replicas starting at once apply it
//! exactly once. Shipped migrations are never edited; what opening a
//! database may apply is `crate::schema`'s rule.

use postgres::Client;

use crate::error::{StoreError, StoreResult};
use crate::schema::{SchemaStatus, Upgrade};

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_tracking_and_registry.sql")),
    (2, include_str!("migrations/0002_fleet.sql")),
    (3, include_str!("migrations/0003_facet_counts.sql")),
    (4, include_str!("migrations/0004_version_search.sql")),
    (5, include_str!("migrations/0005_version_default_order.sql")),
    (6, include_str!("migrations/0006_actor_verified.sql")),
    (7, include_str!("migrations/0007_registered_model_newest_first.sql")),
    (8, include_str!("migrations/0008_auth.sql")),
    (10, include_str!("migrations/0010_audit.sql")),
    (11, include_str!("migrations/0011_sessions.sql")),
    (12, include_str!("migrations/0012_grant_log.sql")),
    (14, include_str!("migrations/0014_datasets_lineage.sql")),
    (15, include_str!("migrations/0015_monitor.sql")),
    (16, include_str!("migrations/0016_health_alerts.sql")),
    (22, include_str!("migrations/0022_registry_notify.sql")),
    (25, include_str!("migrations/0025_serving_cache.sql")),
    (26, include_str!("migrations/0026_health_batches_reports.sql")),
    (27, include_str!("migrations/0027_report_serving_days.sql")),
    (28, include_str!("migrations/0028_report_latency.sql")),
];

/// The advisory lock key migrations hold ("flotilla" in ASCII, truncated).
const LOCK_KEY: i64 = 0x666c_6f74_696c_6c61;

/// A digest of every migration's text: test harnesses key their migrated
/// template databases on it.
pub fn digest() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    MIGRATIONS.hash(&mut h);
    h.finish()
}

/// The newest schema this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

fn versions() -> Vec<u32> {
    MIGRATIONS.iter().map(|(v, _)| *v).collect()
}

fn ensure_table(client: &mut Client) -> StoreResult<()> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS flotilla_schema (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    Ok(())
}

/// The database's schema against this build's migrations; changes nothing
/// (a database flotilla never touched is version 0).
pub(super) fn status(client: &mut Client) -> StoreResult<SchemaStatus> {
    let exists: bool = client.query_one("SELECT to_regclass('flotilla_schema') IS NOT NULL", &[])?.get(0);
    let current = if exists { current(client)? } else { 0 };
    SchemaStatus::of(&versions(), current)
}

/// Applies what `upgrade` allows (see `crate::schema`); returns the status before.
pub(super) fn apply(client: &mut Client, upgrade: Upgrade) -> StoreResult<SchemaStatus> {
    ensure_table(client)?;
    let before = status(client)?;
    let wanted = before.to_apply(upgrade)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| wanted.contains(v)) {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
        // Another replica starting at the same time may have applied it while this one waited.
        let done: bool = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM flotilla_schema WHERE version = $1)", &[&i64::from(*version)])?
            .get(0);
        if done {
            continue;
        }
        let migrate = |tx: &mut postgres::Transaction<'_>| {
            tx.batch_execute(sql)?;
            tx.execute("INSERT INTO flotilla_schema (version) VALUES ($1)", &[&i64::from(*version)])?;
            Ok::<_, postgres::Error>(())
        };
        migrate(&mut tx).map_err(|source| StoreError::PgMigration { version: *version, source })?;
        tx.commit().map_err(|source| StoreError::PgMigration { version: *version, source })?;
        tracing::info!(version, "applied migration");
    }
    Ok(before)
}

/// The newest migration applied.
pub(super) fn current(client: &mut Client) -> StoreResult<u32> {
    let v: Option<i64> = client.query_one("SELECT max(version) FROM flotilla_schema", &[])?.get(0);
    Ok(v.unwrap_or(0) as u32)
}
