//! The `flotilla` binary: command line, configuration, tracing and wiring.
//!
//! Configuration is read once here (defaults < `FLOTILLA_*` environment <
//! flags) and handed down as plain values; no library crate reads the
//! environment.

mod accounts;
mod artifact_store;
mod audit;
mod config;
mod data;
mod db;
mod exit_code;
mod fleet;
mod gc;
mod import;
mod jobs_leader;
mod monitor;
mod monitor_tasks;
mod report;
mod report_schedule;
mod server;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// flotilla runs a fleet of machine-learning models: MLflow-compatible tracking
/// and registry, built for thousands to millions of models.
#[derive(Parser)]
#[command(
    name = "flotilla",
    version,
    about = "flotilla runs a fleet of machine-learning models: MLflow-compatible tracking, registry and artifacts, built for millions of models",
    after_help = format!(
        "Quick start: `flotilla server`, then point the mlflow client at it with MLFLOW_TRACKING_URI=http://127.0.0.1:5000\n\n{}",
        exit_code::HELP
    )
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: MLflow REST API, artifact proxy, model serving (Open
    /// Inference Protocol V2) and health endpoints, on an embedded SQLite
    /// store and a local artifact directory.
    Server(config::ServerArgs),
    /// Serve inference only (Open Inference Protocol V2, and MLflow's scoring
    /// protocol: `--model NAME` answers `/invocations` as `mlflow models
    /// serve`) from the same data directory, to scale serving apart from tracking.
    Serve(config::ServerArgs),
    /// Work with the fleet: search, families, promote (with dry run),
    /// rollback, the audit log, and a synthetic-fleet generator.
    Fleet(fleet::FleetArgs),
    /// Manage users (for `--auth basic`) on a data directory.
    User(accounts::UserArgs),
    /// Manage API tokens (`flt_...`, for `MLFLOW_TRACKING_TOKEN`) on a data directory.
    Token(accounts::TokenArgs),
    /// The audit trail of every change: who, from where, what, before and after.
    Audit(audit::AuditArgs),
    /// Datasets and lineage: list, show, downstream, upstream, stale data.
    Data(data::DataArgs),
    /// Fleet health, drift, alert rules and deliveries.
    Monitor(monitor::MonitorArgs),
    /// A fleet report over a period: self-contained HTML, CSV and Parquet tables.
    Report(report::ReportArgs),
    /// The metadata store's schema (status, upgrade) and online backups.
    Db(db::DbArgs),
    /// Move another store into flotilla: `import mlflow --from sqlite:///...`.
    Import(import::ImportArgs),
    /// Purge deleted runs and experiments for good, with their artifacts (`--dry-run` to list).
    Gc(gc::GcArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    exit_code::report(match cli.command {
        Command::Server(args) if args.model.is_some() => Err(flotilla_core::Error::invalid(
            "--model binds `/invocations` to one model on `flotilla serve`; `flotilla server` answers the scoring \
             protocol per model at /invocations/models/{name}",
        )
        .into()),
        Command::Server(args) => args.into_config().and_then(|c| server::run(c, server::Mode::Full)),
        Command::Serve(args) => args.into_config().and_then(|c| server::run(c, server::Mode::InferenceOnly)),
        // Changes made on a data directory are audited under the local user.
        Command::Fleet(args) => local("fleet").run(|| fleet::run(args)),
        Command::User(args) => local("user").run(|| accounts::run_user(args)),
        Command::Token(args) => local("token").run(|| accounts::run_token(args)),
        Command::Audit(args) => audit::run(args),
        Command::Data(args) => local("data").run(|| data::run(args)),
        Command::Monitor(args) => monitor::run(args),
        Command::Report(args) => report::run(args),
        Command::Db(args) => db::run(args),
        Command::Gc(args) => local("gc").run(|| gc::run(args)),
        Command::Import(args) => local("import").run(|| import::run(args)),
    })
}

/// Logs to stderr, filtered by `FLOTILLA_LOG` (default `info`), as text or,
/// with `FLOTILLA_LOG_FORMAT=json`, one JSON object per line (the access
/// log's target, `flotilla::access`, kept so a collector can split it off).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOTILLA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("FLOTILLA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(false).with_span_list(false).init();
    } else {
        builder
            .with_target(false)
            // Colour codes only on a terminal: a log file or a collector gets plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// The audit context of a CLI command working on a data directory (with
/// `--server`, the server records the authenticated caller instead).
fn local(command: &str) -> flotilla_store::audit::AuditContext {
    flotilla_app::audit::local(std::env::var("USER").ok(), format!("cli {command}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
