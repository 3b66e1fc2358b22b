//! `flotilla db`: the metadata store's schema and backups.
//!
//! - `status` prints the schema version a store is at and the migrations an
//!   upgrade would apply, changing nothing;
//! - `upgrade` applies them (each in its own transaction). `flotilla server`
//!   on the embedded store upgrades at start too, being its only user; a
//!   store written by a newer flotilla is refused by both;
//! - `backup` writes an online, consistent copy of the database while the
//!   server keeps running (the artifact directory is plain files: copy it
//!   with any tool after the database).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use flotilla_store::SqliteStore;

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
    Upgrade(Target),
    /// Write a consistent copy of the database to a new file, online.
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
}

impl Target {
    fn database(&self) -> anyhow::Result<PathBuf> {
        let db = crate::config::database_path(&self.data_dir);
        anyhow::ensure!(db.exists(), "no store at {}", db.display());
        Ok(db)
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<()> {
    match args.command {
        DbCommand::Status(target) => {
            let status = SqliteStore::schema_status(&target.database()?)?;
            let pending = status.pending();
            println!("schema version {} (this flotilla knows up to {})", status.current, status.latest);
            if pending.is_empty() {
                println!("up to date");
            } else {
                println!("pending migrations: {}", join(&pending));
            }
        }
        DbCommand::Upgrade(target) => {
            let db = target.database()?;
            let before = SqliteStore::schema_status(&db)?;
            SqliteStore::open(&db).with_context(|| format!("upgrading {}", db.display()))?;
            let pending = before.pending();
            if pending.is_empty() {
                println!("schema version {}: up to date", before.current);
            } else {
                println!("schema version {} -> {} (applied {})", before.current, before.latest, join(&pending));
            }
        }
        DbCommand::Backup { target, out } => {
            let db = target.database()?;
            SqliteStore::backup(&db, &out).with_context(|| format!("backing up {}", db.display()))?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            println!("backed up {} to {} ({bytes} bytes)", db.display(), out.display());
        }
    }
    Ok(())
}

fn join(versions: &[u32]) -> String {
    versions.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
