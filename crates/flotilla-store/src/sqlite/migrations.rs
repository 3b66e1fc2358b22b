//! Schema migrations for SQLite, applied in order at open and recorded in
//! `PRAGMA user_version`. Shipped migrations are never edited.

use rusqlite::Connection;

use crate::error::{StoreError, StoreResult};

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
    (21, include_str!("migrations/0021_health_batched_rollups.sql")),
];

/// The schema a database file is at, against the newest this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    /// `PRAGMA user_version`: 0 for a new, empty file.
    pub current: u32,
    /// The last migration this build ships.
    pub latest: u32,
}

impl SchemaStatus {
    /// The migrations an upgrade would apply, oldest first.
    pub fn pending(&self) -> Vec<u32> {
        MIGRATIONS.iter().map(|(v, _)| *v).filter(|v| *v > self.current).collect()
    }
}

pub(super) fn status(conn: &Connection) -> StoreResult<SchemaStatus> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let latest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > latest {
        return Err(StoreError::SchemaTooNew { found: current, known: latest });
    }
    Ok(SchemaStatus { current, latest })
}

pub(super) fn apply(conn: &mut Connection) -> StoreResult<()> {
    let current = status(conn)?.current;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction().map_err(|source| StoreError::Migration { version: *version, source })?;
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { version: *version, source })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|source| StoreError::Migration { version: *version, source })?;
        tx.commit().map_err(|source| StoreError::Migration { version: *version, source })?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}
