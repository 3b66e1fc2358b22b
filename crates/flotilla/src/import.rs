//! `flotilla import mlflow`: moves an MLflow store into a data directory or
//! a PostgreSQL store (`flotilla-import` does the work), as the local admin like the other
//! commands on a data directory, printing the reconciliation report and
//! failing when it finds any difference or conflict.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use flotilla_import::families::FamilyRule;
use flotilla_store::{PgStore, SqliteStore};

use crate::config;

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import an MLflow tracking store (its database, read directly) with
    /// ids, history, registry and artifacts; rerunnable, never overwrites.
    Mlflow(MlflowArgs),
}

#[derive(Args, Debug)]
pub struct MlflowArgs {
    /// The MLflow store's database: sqlite:////abs/path/mlflow.db or postgresql://user@host/db
    /// (mysql:// and a server's http(s):// REST API are not supported yet).
    #[arg(long)]
    pub from: String,
    /// The source's artifact root (MLflow's --artifacts-destination, or ./mlruns of a file store).
    #[arg(long)]
    pub artifacts_from: Option<PathBuf>,
    /// The destination data directory (as `flotilla server --data-dir`).
    #[arg(long, required_unless_present_any = ["database", "server"])]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL destination (as `flotilla server --database`).
    #[arg(long, conflicts_with = "data_dir")]
    pub database: Option<String>,
    /// With --database: the local artifact directory the server serves (its --artifacts).
    #[arg(long, requires = "database")]
    pub artifacts: Option<PathBuf>,
    /// A running flotilla server as the destination (not supported yet).
    #[arg(long, conflicts_with_all = ["data_dir", "database"])]
    pub server: Option<String>,
    /// Count everything and estimate time and bytes; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Leave deleted experiments, runs and logged models out.
    #[arg(long)]
    pub skip_deleted: bool,
    /// 'REGEX=FAMILY': models whose name matches join FAMILY, each named group a partition level.
    #[arg(long = "family-rule")]
    pub family_rules: Vec<String>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Artifact files copied at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    match args.command {
        ImportCommand::Mlflow(args) => mlflow(args),
    }
}

fn mlflow(args: MlflowArgs) -> anyhow::Result<()> {
    if args.server.is_some() {
        return Err(flotilla_core::Error::invalid(
            "importing through --server is not supported yet; import into a --data-dir or a --database",
        )
        .into());
    }
    let family_rules = args.family_rules.iter().map(|r| FamilyRule::parse(r)).collect::<Result<Vec<_>, _>>()?;
    let artifacts_to = match (&args.data_dir, &args.database) {
        (Some(dir), _) => Some(config::artifacts_path(dir)),
        (None, _) => args.artifacts.clone(),
    };
    let options = flotilla_import::Options {
        from: args.from.clone(),
        artifacts_from: args.artifacts_from.clone(),
        artifacts_to,
        dry_run: args.dry_run,
        skip_deleted: args.skip_deleted,
        family_rules,
        jobs: args.jobs,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    // The source is checked before anything is made: a bad one leaves no trace.
    let source = flotilla_import::source::Source::open(&flotilla_import::source::SourceUri::parse(&args.from)?)?;
    let report = match (args.dry_run, &args.database, &args.data_dir) {
        (true, _, _) => flotilla_import::import_from(source, None, &options)?,
        (false, Some(url), _) => {
            let store = PgStore::connect(url)?;
            flotilla_import::import_from(source, Some(&store), &options)?
        }
        (false, None, Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let store = SqliteStore::open(&config::database_path(dir))?;
            flotilla_import::import_from(source, Some(&store), &options)?
        }
        (false, None, None) => anyhow::bail!("give --data-dir or --database"),
    };
    report.print(&mut std::io::stdout().lock())?;
    if let Some(path) = &args.report_json {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if report.has_differences() {
        return Err(flotilla_core::Error::invalid_state(format!(
            "the reconciliation found differences ({} conflicts); see the report above",
            report.conflicts.len()
        ))
        .into());
    }
    Ok(())
}
