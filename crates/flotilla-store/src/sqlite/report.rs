//! [`ReportStore`] for SQLite. Alias batches are written in time order, so
//! the period is found on the batch key (`batch_id`) by two index seeks on
//! the rowid and the events of those batches by `alias_events_by_batch`.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::error::StoreResult;
use crate::report::{MoveCount, ReportStore, WEEK_MS};

impl ReportStore for SqliteStore {
    fn alias_moves(&self, from: i64, to: i64, family: Option<&str>, limit: usize) -> StoreResult<Vec<MoveCount>> {
        self.read(|tx| {
            // The first batch at or after `from`: batches are appended in time order.
            let first: Option<i64> = tx
                .query_row(
                    "SELECT batch_id FROM alias_batches WHERE time >= ?1 ORDER BY batch_id LIMIT 1",
                    params![from],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(first) = first else { return Ok(Vec::new()) };
            let mut stmt = tx.prepare_cached(
                "SELECT (b.time / ?1) * ?1 AS week, b.actor, b.kind, count(*) AS n
                 FROM alias_batches b JOIN alias_events e ON e.batch_id = b.batch_id
                 WHERE b.batch_id >= ?2 AND b.time >= ?3 AND b.time < ?4
                   AND (?5 IS NULL OR e.rm_id IN (
                        SELECT m.rm_id FROM fleet_members m JOIN families f ON f.family_id = m.family_id
                        WHERE f.name = ?5))
                 GROUP BY week, b.actor, b.kind
                 ORDER BY week, n DESC, b.actor
                 LIMIT ?6",
            )?;
            let rows = stmt.query_map(params![WEEK_MS, first, from, to, family, limit as i64], |r| {
                Ok(MoveCount { week: r.get(0)?, actor: r.get(1)?, kind: r.get(2)?, moves: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}
