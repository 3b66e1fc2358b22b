//! The generator's second writer: the version and alias metric tables (two
//! fifths of a fleet's rows, and its largest index sorts) are drawn, loaded
//! and indexed in a scratch database on a second thread while the loader
//! writes everything else; then one statement per table copies them into
//! the store.
//!
//! Why this is fast and safe: SQLite writes one database from one thread,
//! so the only way to use the second core of a load is a second file.
//! `INSERT INTO t SELECT * FROM side.t`, into an empty table whose schema
//! (indexes included) matches the source's, is SQLite's transfer
//! optimization: it copies the table's and each index's records in order,
//! with no sorting and no re-encoding. The scratch tables are made from
//! the store's own DDL, so the schemas match by construction. The copy runs
//! in one store transaction: a crash before its commit leaves the store as
//! it was, and the scratch file (in the data directory) is deleted.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use flotilla_core::Error;
use rusqlite::{Connection, Transaction};

use super::stores::{DrawPlan, MetricInserts};
use crate::error::StoreResult;

/// The tables the second writer loads.
pub(super) const SIDE_TABLES: [&str; 2] = ["model_version_metrics", "alias_metrics"];

pub(super) struct SideWriter {
    path: PathBuf,
    thread: Option<JoinHandle<StoreResult<()>>>,
}

impl SideWriter {
    /// Starts the second writer on a fresh scratch file beside `store`,
    /// with the tables and index definitions read from the store, to write
    /// the metrics of stores `0..plan.models`.
    pub fn start(store: &Transaction<'_>, store_path: &Path, plan: DrawPlan) -> StoreResult<Self> {
        let path = store_path.with_extension("db-generating");
        remove_scratch(&path)?;
        let mut ddl: Vec<(String, String)> = Vec::new();
        for table in SIDE_TABLES {
            let mut stmt = store.prepare(
                "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL
                 ORDER BY type = 'index', name",
            )?;
            for row in stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))? {
                ddl.push(row?);
            }
        }
        let scratch = path.clone();
        let thread = std::thread::Builder::new()
            .name("flotilla-generate-side".into())
            .spawn(move || load(&scratch, &ddl, plan))
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(Self { path, thread: Some(thread) })
    }

    /// Waits for the second writer to load and index its tables.
    pub fn finish(mut self) -> StoreResult<PathBuf> {
        let thread = self.thread.take().expect("joined once");
        let loaded = thread.join().map_err(|_| Error::internal("the generator's second writer panicked"));
        if !matches!(loaded, Ok(Ok(()))) {
            let _ = remove_scratch(&self.path);
        }
        loaded??;
        Ok(self.path.clone())
    }

    /// Copies the side tables into the store in one transaction (rows the
    /// store already had go through the scratch tables, so that each store
    /// table is empty when its copy starts), then deletes the scratch file.
    pub fn copy_into(conn: &rusqlite::Connection, scratch: &Path) -> StoreResult<()> {
        let scratch_text = scratch.to_str().ok_or_else(|| Error::internal("scratch path is not UTF-8"))?;
        conn.execute("ATTACH DATABASE ? AS side", [scratch_text])?;
        let copied = (|| {
            let tx = conn.unchecked_transaction()?;
            for table in SIDE_TABLES {
                tx.execute_batch(&format!(
                    "INSERT INTO side.{table} SELECT * FROM main.{table};
                     DELETE FROM main.{table};
                     INSERT INTO main.{table} SELECT * FROM side.{table};"
                ))?;
            }
            tx.commit()?;
            StoreResult::Ok(())
        })();
        let detached = conn.execute_batch("DETACH DATABASE side;");
        copied?;
        detached?;
        remove_scratch(scratch)
    }
}

impl Drop for SideWriter {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            let _ = remove_scratch(&self.path);
        }
    }
}

fn remove_scratch(path: &Path) -> StoreResult<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::internal(format!("removing {}: {e}", path.display())).into()),
    }
}

/// The second writer's thread: tables first, then rows, indexes last. The
/// scratch file needs no journal: it is thrown away unless copied whole.
fn load(path: &Path, ddl: &[(String, String)], plan: DrawPlan) -> StoreResult<()> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = FILE; PRAGMA cache_size = -65536;",
    )?;
    let (tables, indexes): (Vec<_>, Vec<_>) = ddl.iter().partition(|(kind, _)| kind == "table");
    for (_, sql) in &tables {
        conn.execute_batch(sql)?;
    }
    let tx = conn.transaction()?;
    {
        let mut inserts = MetricInserts::prepare(&tx)?;
        for i in 0..plan.models {
            inserts.store(&plan.draw(i))?;
        }
        inserts.finish()?;
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA threads = 2; PRAGMA cache_size = -16384;")?;
    for (_, sql) in &indexes {
        conn.execute_batch(sql)?;
    }
    Ok(())
}
