//! The generator's second writer: the version and alias metric tables (two
//! fifths of a fleet's rows, and its largest index sorts) and the trigram
//! index of model names are drawn, loaded and indexed in a scratch database
//! on a second thread while the loader writes everything else; then one
//! statement per table copies them into the store.
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
//!
//! The name index is an FTS5 table made from the store's own definition
//! (external content, trigram tokens): its index lives in ordinary shadow
//! tables, which are copied whole in place of the store's. The store's index
//! is then exactly what indexing the same names there would have made
//! (tests check it with FTS5's `integrity-check` against the names).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use flotilla_core::Error;
use rusqlite::{Connection, params};

use super::stores::{DrawPlan, MetricInserts, store_name};
use flotilla_store::StoreResult;

/// The tables the second writer loads.
pub(super) const SIDE_TABLES: [&str; 2] = ["model_version_metrics", "alias_metrics"];
/// The name index and the shadow tables that hold it.
const NAME_INDEX: &str = "registered_model_names";
const NAME_INDEX_SHADOWS: [&str; 4] = ["data", "idx", "docsize", "config"];

/// What the load leaves pending until the copy: the store's indexes on the
/// copied tables, and the trigger that keeps the name index in step.
pub(super) const PENDING_UNTIL_COPIED: [&str; 3] =
    ["model_version_metrics_by_value", "alias_metrics_by_value", "registered_model_names_insert"];

/// What the second writer is to load.
pub(super) struct SideLoad {
    pub plan: DrawPlan,
    /// Family names, as store `i` is in family `i % families.len()`.
    pub families: Vec<String>,
}

pub(super) struct SideWriter {
    path: PathBuf,
    thread: Option<JoinHandle<StoreResult<()>>>,
    /// Set when the load is abandoned (the loader failed): the thread stops early.
    abandoned: Arc<AtomicBool>,
}

impl SideWriter {
    /// Starts the second writer on a fresh scratch file beside `store`,
    /// with the tables and index definitions read from the store, to write
    /// the metrics of stores `0..plan.models`.
    pub fn start(store: &Connection, store_path: &Path, load: SideLoad) -> StoreResult<Self> {
        let path = store_path.with_extension("db-generating");
        remove_scratch(&path)?;
        let mut ddl: Vec<(String, String)> = Vec::new();
        for table in SIDE_TABLES {
            let mut stmt = store.prepare(
                "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL AND type <> 'trigger'
                 ORDER BY type = 'index', name",
            )?;
            for row in stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))? {
                ddl.push(row?);
            }
        }
        let names_ddl: String =
            store.query_row("SELECT sql FROM sqlite_master WHERE name = ?", [NAME_INDEX], |r| r.get(0))?;
        ddl.push(("virtual".into(), names_ddl));
        // The names already in the store are indexed first.
        let existing: Vec<(i64, String)> = store
            .prepare("SELECT rm_id, name FROM registered_models ORDER BY rm_id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let scratch = path.clone();
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&abandoned);
        let thread = std::thread::Builder::new()
            .name("flotilla-generate-side".into())
            .spawn(move || load_scratch(&scratch, &ddl, &load, &existing, &stop))
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(Self { path, thread: Some(thread), abandoned })
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

    /// Copies the scratch tables, attached as `side`, into the store (rows
    /// the store already had go through the scratch tables, so that each
    /// store table is empty when its copy starts), and the name index in
    /// place of the store's. Runs in the caller's transaction, after the
    /// store's indexes on these tables are back (the copy carries their
    /// entries) and while the name index's trigger is still off.
    pub fn copy_attached(tx: &Connection) -> StoreResult<()> {
        for table in SIDE_TABLES {
            tx.execute_batch(&format!(
                "INSERT INTO side.{table} SELECT * FROM main.{table};
                 DELETE FROM main.{table};
                 INSERT INTO main.{table} SELECT * FROM side.{table};"
            ))?;
        }
        for shadow in NAME_INDEX_SHADOWS {
            let table = format!("{NAME_INDEX}_{shadow}");
            tx.execute_batch(&format!(
                "DELETE FROM main.{table}; INSERT INTO main.{table} SELECT * FROM side.{table};"
            ))?;
        }
        Ok(())
    }
}

impl Drop for SideWriter {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            let _ = remove_scratch(&self.path);
        }
    }
}

pub(super) fn remove_scratch(path: &Path) -> StoreResult<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::internal(format!("removing {}: {e}", path.display())).into()),
    }
}

/// The second writer's thread: tables first, then rows, indexes last. The
/// scratch file needs no journal: it is thrown away unless copied whole.
fn load_scratch(
    path: &Path,
    ddl: &[(String, String)],
    load: &SideLoad,
    existing: &[(i64, String)],
    abandoned: &AtomicBool,
) -> StoreResult<()> {
    let check = |i: u64| {
        if i.is_multiple_of(10_000) && abandoned.load(Ordering::Acquire) {
            return Err(flotilla_store::StoreError::from(Error::internal("the generation was abandoned")));
        }
        Ok(())
    };
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = FILE; PRAGMA cache_size = -65536;",
    )?;
    let (indexes, tables): (Vec<_>, Vec<_>) = ddl.iter().partition(|(kind, _)| kind == "index");
    for (_, sql) in &tables {
        conn.execute_batch(sql)?;
    }
    let plan = load.plan;
    let tx = conn.transaction()?;
    {
        let mut inserts = MetricInserts::prepare(&tx)?;
        for i in 0..plan.models {
            check(i)?;
            inserts.store(&plan.draw(i))?;
        }
        inserts.finish()?;
        let mut name = tx.prepare(&format!("INSERT INTO {NAME_INDEX} (rowid, name) VALUES (?, ?)"))?;
        for (rm_id, model) in existing {
            name.execute(params![rm_id, model])?;
        }
        for i in 0..plan.models {
            check(i)?;
            let family = &load.families[(i % load.families.len() as u64) as usize];
            name.execute(params![plan.first_id + i as i64, store_name(family, i)])?;
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA threads = 2; PRAGMA cache_size = -16384;")?;
    for (_, sql) in &indexes {
        conn.execute_batch(sql)?;
    }
    Ok(())
}
