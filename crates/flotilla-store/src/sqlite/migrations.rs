//! Schema migrations for SQLite, applied in order at open and recorded in
//! `PRAGMA user_version`. Shipped migrations are never edited; what opening a
//! store may apply is `crate::schema`'s rule.

use rusqlite::Connection;

use crate::error::{StoreError, StoreResult};
use crate::schema::{SchemaStatus, Upgrade};

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_tracking_and_registry.sql")),
    (2, include_str!("migrations/0002_fleet.sql")),
    // Shipped with the recount appended from the live `facet_recount.sql`; that
    // file now evolves with the bulk loader, and this copy stays frozen.
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
    (17, include_str!("migrations/0017_metric_pairs.sql")),
    (19, include_str!("migrations/0019_report_schedules.sql")),
    // Ends with the statements of the live `report_recount.sql`, copied.
    (20, include_str!("migrations/0020_report_counts.sql")),
    (21, include_str!("migrations/0021_health_batched_rollups.sql")),
    (23, include_str!("migrations/0023_name_order.sql")),
    (24, include_str!("migrations/0024_report_serving.sql")),
    (25, include_str!("migrations/0025_serving_cache.sql")),
    // 26-28 are PostgreSQL's (health, alerts and reports there).
    (29, include_str!("migrations/0029_name_order_bounded.sql")),
];

fn versions() -> Vec<u32> {
    MIGRATIONS.iter().map(|(v, _)| *v).collect()
}

pub(super) fn status(conn: &Connection) -> StoreResult<SchemaStatus> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    SchemaStatus::of(&versions(), current)
}

/// Applies what `upgrade` allows (see `crate::schema`), each migration in its own transaction.
pub(super) fn apply(conn: &mut Connection, upgrade: Upgrade) -> StoreResult<()> {
    let wanted = status(conn)?.to_apply(upgrade)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| wanted.contains(v)) {
        let tx = conn.transaction().map_err(|source| StoreError::Migration { version: *version, source })?;
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { version: *version, source })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|source| StoreError::Migration { version: *version, source })?;
        tx.commit().map_err(|source| StoreError::Migration { version: *version, source })?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}
