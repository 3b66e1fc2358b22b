//! Operations on the database file itself: its schema version (for
//! `flotilla db status|upgrade`) and an online, consistent copy (`flotilla db backup`).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::SqliteStore;
use super::migrations;
use crate::error::StoreResult;
use crate::schema::{SchemaStatus, Upgrade};

impl SqliteStore {
    /// The schema of the database at `path`, without changing it (a missing
    /// file is version 0). A schema newer than this build is `SchemaTooNew`.
    pub fn schema_status(path: &Path) -> StoreResult<SchemaStatus> {
        if !path.exists() {
            return migrations::status(&Connection::open_in_memory()?);
        }
        migrations::status(&Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?)
    }

    /// Applies the pending migrations (all, or up to and including `to`) to
    /// the database at `path`; the status before. Each migration commits on
    /// its own, so an interrupted upgrade resumes where it stopped.
    pub fn upgrade(path: &Path, to: Option<u32>) -> StoreResult<SchemaStatus> {
        let mut conn = Connection::open(path)?;
        super::configure(&conn)?;
        let before = migrations::status(&conn)?;
        migrations::apply(&mut conn, Upgrade::UpTo(to))?;
        Ok(before)
    }

    /// Writes a consistent copy of the database at `path` to `out` (which
    /// must not exist) while servers keep reading and writing it: one read
    /// transaction's snapshot, compacted (`VACUUM INTO`). The schema is
    /// copied as it is, never upgraded.
    pub fn backup(path: &Path, out: &Path) -> StoreResult<()> {
        let target = out.to_str().ok_or_else(|| flotilla_core::Error::invalid("the backup path is not UTF-8"))?;
        if out.exists() {
            return Err(flotilla_core::Error::already_exists(format!("{} already exists", out.display())).into());
        }
        // VACUUM runs outside any transaction: on a connection of its own.
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        migrations::status(&conn)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute("VACUUM INTO ?", [target])?;
        Ok(())
    }
}
