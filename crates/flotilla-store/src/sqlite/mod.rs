//! The embedded SQLite backend: one writer connection, a small pool of readers,
//! WAL journaling, migrations applied at open.
//!
//! SQLite allows one writer at a time, so writes share one connection behind a
//! mutex and never wait on `SQLITE_BUSY`; readers run concurrently against WAL
//! snapshots. Each public call runs in exactly one transaction.

mod alert_eval;
mod alerts;
pub(crate) mod aliases;
mod audit;
mod auth;
mod bulk;
pub mod bulk_load;
mod checkpoint;
mod counted;
mod datasets;
mod experiments;
mod facets;
pub(crate) mod families;
mod far_end;
mod filter_sql;
mod fleet_rows;
pub(crate) mod fleet_search;
mod gc;
mod grant_log;
mod group_commit;
mod health;
mod health_write;
mod import;
pub(crate) mod insights;
mod keyset;
mod lineage;
mod logged_models;
mod maintenance;
mod metric_pairs;
pub use metric_pairs::{MAX_PAIRED_METRICS, bucket as metric_bucket};
mod metrics;
mod migrations;
mod monitor;
mod monitor_facts;
#[cfg(test)]
mod monitor_tests;
mod name_order;
mod name_order_respace;
mod profiles;
mod promotion;
mod registry;
mod registry_search;
mod report;
mod report_counts;
mod report_schedules;
mod report_sections;
mod rows;
mod runs;
mod search_plan;
mod search_runs;
mod session;
pub(crate) mod version_search;
mod visible;

pub(crate) use experiments::parse_id as parse_experiment_id;
pub use grant_log::take_written as take_written_grants;
pub(crate) use grant_log::{
    begin as grant_log_begin, committed as grant_log_committed, event as grant_event, pending as grant_log_pending,
};

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use self::search_plan::SearchPlanning;
use crate::error::StoreResult;

const READERS: usize = 4;
/// SQLite VM steps between two checks of the request budget.
const PROGRESS_STEPS: u64 = 1_000;
/// The writer's page cache, in KiB.
pub(crate) const WRITER_CACHE_KIB: i64 = 65_536;

pub struct SqliteStore {
    /// Bumped after every committed registry write (see `write_registry`).
    registry_generation: AtomicU64,
    /// Copies the WAL into the database in the background (see `checkpoint`).
    checkpointer: checkpoint::Checkpointer,
    /// The one writer connection; concurrent writes share its commits.
    writer: group_commit::GroupWriter,
    readers: Mutex<Vec<Connection>>,
    path: String,
    /// How fleet and version searches choose their plan.
    planning: SearchPlanning,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        // Bulk changes (promotions over 100,000 models) touch index pages all
        // over a large store: the writer gets a bigger page cache than readers.
        writer.execute_batch(&format!("PRAGMA cache_size = -{WRITER_CACHE_KIB};"))?;
        migrations::apply(&mut writer, crate::schema::Upgrade::OneStep)?;
        bulk_load::check(&writer)?;
        // Checkpoints run on their own thread, not in the write that crosses the threshold.
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        let checkpointer = checkpoint::Checkpointer::start(path)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let conn =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            configure(&conn)?;
            // Readers map the file: a search that visits a few thousand rows scattered over a
            // million-model store then reads memory instead of making a system call per page.
            // (Writes still go through the WAL; SQLite caps the map at its compile-time limit.)
            conn.execute_batch("PRAGMA mmap_size = 2147418112;")?;
            readers.push(conn);
        }
        Ok(Self {
            registry_generation: AtomicU64::new(1),
            checkpointer,
            writer: group_commit::GroupWriter::new(writer, group_commit::GroupLimits::default()),
            readers: Mutex::new(readers),
            path: path.display().to_string(),
            planning: SearchPlanning::default(),
        })
    }

    /// Changes how fleet and version searches choose their plans: for
    /// tests, which make every plan run on small fleets.
    #[doc(hidden)]
    pub fn set_search_planning(&mut self, planning: SearchPlanning) {
        self.planning = planning;
    }

    /// Writes committed together at most (group commit; 1: each alone).
    pub fn set_write_group(&mut self, members: usize) {
        self.writer.set_limits(group_commit::GroupLimits { members: members.max(1), ..Default::default() });
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Caps what each pooled reader memory-maps (bytes; 0: read through the
    /// page cache only). A one-shot process that scans much of a large
    /// store (`flotilla report`) keeps its resident set small this way;
    /// the server keeps the map, which its scattered page reads gain from.
    pub fn limit_reader_mmap(&self, bytes: u64) -> StoreResult<()> {
        for conn in self.readers.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            conn.execute_batch(&format!("PRAGMA mmap_size = {bytes};"))?;
        }
        Ok(())
    }

    /// Runs `f` in a read transaction on a pooled reader (a consistent snapshot).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                configure(&c)?;
                c
            }
        };
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let out = f(&tx)?;
            tx.finish()?;
            Ok(out)
        })();
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
        result
    }

    /// A registry write: like [`Self::write`], then bumps the registry generation.
    pub(crate) fn write_registry<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let out = self.write(f)?;
        self.registry_generation.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    /// Runs `f` in a write transaction; its error rolls back its changes.
    /// Concurrent writes share one transaction and commit (see
    /// [`group_commit`]); each returns only once its changes are committed.
    /// Under an audit context the write also appends its audit row (see
    /// [`crate::audit`]), so the change and its record commit together.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let out = self.writer.write(|conn| {
            crate::audit::take_note();
            grant_log::begin();
            let out = f(conn)?;
            audit::append(conn)?;
            Ok(out)
        })?;
        grant_log::committed();
        self.checkpointer.wrote();
        Ok(out)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    metric_pairs::register(conn)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA case_sensitive_like = ON;
         PRAGMA recursive_triggers = ON;
         PRAGMA cache_size = -16000;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    // Stops a statement whose request has run past its budget or lost its
    // client (see `budget`); a few microseconds of VM work between checks.
    conn.progress_handler(PROGRESS_STEPS as i32, Some(crate::budget::should_stop));
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A random 32-hex-digit id, the shape MLflow uses for runs.
pub(crate) fn new_hex_id() -> String {
    let v: u128 = rand::random();
    format!("{v:032x}")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use flotilla_core::ErrorKind;

    use super::SqliteStore;
    use crate::budget::Budget;
    use crate::error::StoreResult;

    /// A statement that never ends on its own.
    fn count_forever(store: &SqliteStore) -> StoreResult<i64> {
        store.read(|tx| {
            let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
            Ok(tx.query_row(sql, [], |r| r.get(0))?)
        })
    }

    #[test]
    fn a_statement_stops_at_its_budget_or_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        // (budget, cancel after) -> stops within
        for (name, budget, cancel_after) in [
            ("deadline", Duration::from_millis(100), None),
            ("cancelled", Duration::from_secs(3600), Some(Duration::from_millis(100))),
        ] {
            let budget = Budget::new(budget);
            let canceller = cancel_after.map(|after| {
                let budget = budget.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(after);
                    budget.cancel();
                })
            });
            let started = Instant::now();
            let err = budget.run(|| count_forever(&store)).expect_err(name);
            assert_eq!(err.kind(), ErrorKind::Interrupted, "{name}: {err}");
            assert!(started.elapsed() < Duration::from_secs(2), "{name}: stopped after {:?}", started.elapsed());
            if let Some(t) = canceller {
                t.join().unwrap();
            }
        }
        // The pooled connection still serves the next call, and work without a budget runs.
        let n = store.read(|tx| Ok(tx.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0))?)).unwrap();
        assert_eq!(n, 42);
    }
}
