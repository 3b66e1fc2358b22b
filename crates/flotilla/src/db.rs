//! `flotilla db`: the metadata store's schema and backups, on either backend
//! (`--data-dir` for the embedded SQLite file, `--database URL` for PostgreSQL).
//!
//! - `status` prints the schema version a store is at, the migrations an
//!   upgrade would apply and the oldest schema this build runs on, changing
//!   nothing;
//! - `upgrade [--to N]` applies them (each in its own transaction). A server,
//!   or any command opening a store, applies at most the one migration a
//!   store one step behind needs and refuses an older one
//!   (`flotilla_store::schema`), so replicas can be replaced one at a time;
//!   a store written by a newer flotilla is refused by all of them;
//! - `backup` writes an online, consistent copy of a SQLite database while
//!   the server keeps running (the artifact directory is plain files: copy
//!   it with any tool after the database). PostgreSQL is backed up with its
//!   own tool, `pg_dump`, which the command names instead.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use flotilla_core::Error;
use flotilla_store::{PgStore, SchemaStatus, SqliteStore};

#[derive(Args, Debug)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// The schema version of the store and the migrations an upgrade would apply.
    Status(Target),
    /// Apply pending schema migrations.
    Upgrade {
        #[command(flatten)]
        target: Target,
        /// Stop after this migration (default: apply all).
        #[arg(long)]
        to: Option<u32>,
    },
    /// Write a consistent copy of the database to a new file, online (SQLite).
    Backup {
        #[command(flatten)]
        target: Target,
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
struct Target {
    /// The data directory whose store to work on (as `flotilla server --data-dir`).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value = "./flotilla-data")]
    data_dir: PathBuf,
    /// The PostgreSQL database to work on instead (as `flotilla server --database`).
    #[arg(long = "database", env = "FLOTILLA_DATABASE_URL")]
    database_url: Option<String>,
}

/// The store a command works on.
enum Store {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    fn store(&self) -> anyhow::Result<Store> {
        if let Some(url) = self.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
            return Ok(Store::Postgres(url.to_string()));
        }
        let db = crate::config::database_path(&self.data_dir);
        anyhow::ensure!(db.exists(), "no store at {}", db.display());
        Ok(Store::Sqlite(db))
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<()> {
    match args.command {
        DbCommand::Status(target) => {
            let status = match target.store()? {
                Store::Sqlite(db) => SqliteStore::schema_status(&db)?,
                Store::Postgres(url) => PgStore::schema_status(&url).context("reading the PostgreSQL schema")?,
            };
            let pending = status.pending();
            println!(
                "schema version {} (this flotilla knows up to {} and runs on {} or newer)",
                status.current, status.latest, status.oldest_served
            );
            if pending.is_empty() {
                println!("up to date");
            } else {
                println!("pending migrations: {}", join(&pending));
            }
        }
        DbCommand::Upgrade { target, to } => {
            let before = match target.store()? {
                Store::Sqlite(db) => {
                    SqliteStore::upgrade(&db, to).with_context(|| format!("upgrading {}", db.display()))?
                }
                Store::Postgres(url) => PgStore::upgrade(&url, to).context("upgrading the PostgreSQL database")?,
            };
            report_upgrade(&before, to);
        }
        DbCommand::Backup { target, out } => match target.store()? {
            Store::Sqlite(db) => {
                SqliteStore::backup(&db, &out).with_context(|| format!("backing up {}", db.display()))?;
                let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
                println!("backed up {} to {} ({bytes} bytes)", db.display(), out.display());
            }
            Store::Postgres(_) => {
                return Err(Error::invalid(
                    "a PostgreSQL database is backed up with PostgreSQL's own tool, online and consistent: \
                     pg_dump --format=custom --file=flotilla.dump \"$FLOTILLA_DATABASE_URL\" \
                     (restore with pg_restore --dbname=URL flotilla.dump)",
                )
                .into());
            }
        },
    }
    Ok(())
}

fn report_upgrade(before: &SchemaStatus, to: Option<u32>) {
    let applied: Vec<u32> = before.pending().into_iter().filter(|v| to.is_none_or(|to| *v <= to)).collect();
    match applied.last() {
        None => println!("schema version {}: up to date", before.current),
        Some(now) => println!("schema version {} -> {now} (applied {})", before.current, join(&applied)),
    }
}

fn join(versions: &[u32]) -> String {
    versions.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
