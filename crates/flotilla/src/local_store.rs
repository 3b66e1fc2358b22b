//! Where a command that works on the store itself (not through `--server`)
//! finds it: the SQLite file of `--data-dir`, or the PostgreSQL database of
//! `--database` (env `FLOTILLA_DATABASE_URL`), the same two flags and
//! precedence as `flotilla server`. Whoever can open the store is its local
//! admin; each command says so where it reads or writes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use flotilla_store::{PgStore, SqliteStore, Store};

#[derive(Args, Debug, Clone)]
pub struct StoreLocation {
    /// The data directory whose store to use (as `flotilla server --data-dir`).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value = "./flotilla-data", global = true)]
    pub data_dir: PathBuf,
    /// The PostgreSQL database to use instead (as `flotilla server --database`).
    #[arg(long = "database", env = "FLOTILLA_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

impl StoreLocation {
    /// The PostgreSQL URL, when one is given (an empty variable is none).
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_url.as_deref().filter(|u| !u.trim().is_empty())
    }

    /// Opens the store; a data directory without a store is an error naming
    /// it and `hint` (what makes one), never a new empty store.
    pub fn open(&self, hint: &str) -> anyhow::Result<Arc<dyn Store>> {
        if let Some(url) = self.postgres_url() {
            let store = PgStore::connect(url).context("connecting to the PostgreSQL database (--database)")?;
            return Ok(Arc::new(store));
        }
        Ok(Arc::new(self.open_sqlite(hint)?))
    }

    /// Opens the data directory's SQLite store (for what only SQLite does).
    pub fn open_sqlite(&self, hint: &str) -> anyhow::Result<SqliteStore> {
        let db = crate::config::database_path(&self.data_dir);
        anyhow::ensure!(db.exists(), "no store at {} ({hint})", db.display());
        SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))
    }
}
