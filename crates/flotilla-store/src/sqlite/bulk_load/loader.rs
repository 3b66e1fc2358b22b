//! The bulk loader's connection: it has the store to itself for the whole load.
//!
//! Why not the store's usual writer: in WAL mode every page is written twice
//! (to the WAL, then into the database by a checkpoint), which for a
//! million-model load is ~1.5 GB more I/O and ~10 s. With the store to
//! itself the loader switches to a rollback journal, where pages appended to
//! the file need no journal at all, and switches back to WAL when done. A
//! crash half-way leaves a rollback journal that SQLite replays on the next
//! open, which also puts the store back in WAL mode and rebuilds whatever
//! indexes the load had dropped (`bulk_load::check`).
//!
//! Foreign keys are not checked: the loader makes every id itself. Index
//! builds spill their sorted batches to temporary files: kept in memory
//! (the store's usual setting), the batches made them 2x slower, every
//! write of one allocating and copying its chunks.

use std::path::Path;

use flotilla_core::Error;
use rusqlite::{Connection, TransactionBehavior};

use super::super::{SqliteStore, configure};
use crate::error::StoreResult;

/// Page cache while loading, in KiB: the right-most pages of every table stay cached.
const LOAD_CACHE_KIB: i64 = 262_144;

/// A connection that has the store to itself (see the module docs).
pub struct Loader {
    conn: Connection,
}

impl Loader {
    /// Opens the store at `path` (applying migrations and finishing any
    /// interrupted load), then takes it over; fails if another process has it open.
    pub fn open(path: &Path) -> StoreResult<Self> {
        drop(SqliteStore::open(path)?);
        let conn = Connection::open(path)?;
        configure(&conn)?;
        conn.execute_batch(&format!(
            "PRAGMA locking_mode = EXCLUSIVE; PRAGMA foreign_keys = OFF; PRAGMA temp_store = FILE;
             PRAGMA cache_size = -{LOAD_CACHE_KIB}; PRAGMA mmap_size = 2147418112;"
        ))?;
        let in_use = || {
            Error::invalid_state(format!(
                "the store {} is open in another process (a running server?); the generator needs it to itself",
                path.display()
            ))
        };
        // Another process's connection would hold the store until it closes: fail at once.
        conn.busy_timeout(std::time::Duration::ZERO)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .map_err(|e| if is_busy(&e) { in_use().into() } else { crate::StoreError::from(e) })?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(in_use().into());
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self { conn })
    }

    /// Runs `f` in one write transaction; any error rolls everything back.
    pub fn write<T>(&mut self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Like [`Self::write`], with the database file `other` attached as `name`.
    pub fn write_attached<T>(
        &mut self,
        other: &Path,
        name: &str,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let path = other.to_str().ok_or_else(|| Error::internal(format!("{} is not UTF-8", other.display())))?;
        self.conn.execute("ATTACH DATABASE ? AS ?", [path, name])?;
        let out = self.write(f);
        let detached = self.conn.execute("DETACH DATABASE ?", [name]);
        let out = out?;
        detached?;
        Ok(out)
    }

    /// Puts the store back in WAL mode and lets other processes in.
    pub fn close(self) -> StoreResult<()> {
        self.conn.execute_batch("PRAGMA locking_mode = NORMAL;")?;
        self.conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}
