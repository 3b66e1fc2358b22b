//! `flotilla-bench`: starts flotilla and the real MLflow 3.17.2 server, runs one workload with
//! one in-process load generator against each, and prints a markdown table of ratios.
//! Subcommands: `load` (keep-alive clients, mixed reads and writes, with a token), `crash`
//! (kill -9 trials), `auth-overhead` (tracking and serving with auth off, Basic, Bearer),
//! `create-cost` (the store's part of a create under auth; no server), `pair-write-cost` (what the
//! metric-pair triggers add to a log-batch; no server), `profile` (flotilla-profile against whylogs on a million-row frame; no server), `lineage`
//! (the data API's lineage queries on a generated fleet of 10⁶ models) and `drift`
//! (flotilla-drift's models/s judging daily windows; no server), `telemetry-overhead` (V2
//! infer with serving telemetry on and off), `group-commit` (concurrent writers with and without
//! group commit), `ingest` (200 clients' log-batches against flotilla and MLflow), `monitor-backends`
//! (the monitor and report reads on PostgreSQL against SQLite; no server), `placement` (serving
//! replicas on PostgreSQL behind nginx: model bytes per replica).

mod daily_drift;
mod drift;
mod driver;
mod group_commit;
mod health;
mod http;
mod ingest;
mod lineage;
mod monitor_backends;
mod overhead;
mod overhead_store;
mod pair_write_cost;
mod placement;
mod profile;
mod report;
mod resilience;
mod server;
mod telemetry_memory;
mod telemetry_overhead;
mod venv;
mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

use flotilla_testkit::{Launch, procfs};
use report::{Better, Cell, Measure, Unit, column, merge, table, thousands};
use workload::Plan;

const IDLE_WAIT: Duration = Duration::from_secs(2);

#[derive(Parser, Debug)]
#[command(about = "End-to-end benchmark of flotilla against the real MLflow server")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The flotilla binary to start.
    #[arg(long, global = true, env = "FLOTILLA_BIN", default_value = "target/release/flotilla")]
    flotilla_bin: PathBuf,
    /// Run flotilla only.
    #[arg(long)]
    skip_mlflow: bool,
    /// Run MLflow only (to validate the bench itself).
    #[arg(long)]
    skip_flotilla: bool,
    /// Registered models for flotilla's second, large section (0 skips it) [default: 100000, 2000 with --quick].
    #[arg(long)]
    models_large: Option<usize>,
    /// Registered models present for the side-by-side search [default: 2000, 200 with --quick].
    #[arg(long)]
    models: Option<usize>,
    /// Runs in the runs/search experiment [default: 1000, 100 with --quick].
    #[arg(long)]
    runs: Option<usize>,
    /// Concurrent clients for the registry writes and setup loaders.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Time cap in seconds of each timed operation.
    #[arg(long, default_value_t = 30)]
    op_seconds: u64,
    /// Also write the tables as markdown to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Small counts, for a smoke run.
    #[arg(long)]
    quick: bool,
    /// The venv holding mlflow (created when missing) [default: .venvs/mlflow-server in the repo].
    #[arg(long)]
    mlflow_venv: Option<PathBuf>,
    /// Also run flotilla and MLflow on this PostgreSQL server, each on a fresh database (a
    /// superuser libpq conninfo without dbname, as `scripts/postgres-test-server.sh start` prints),
    /// and print flotilla on PostgreSQL against flotilla on SQLite and against MLflow on PostgreSQL.
    #[arg(long)]
    postgres: Option<String>,
}

/// Runs other than the side-by-side comparison.
#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Keep-alive clients with mixed reads and writes under `--auth basic` and a token.
    Load(resilience::LoadArgs),
    /// kill -9 during mixed ingest, restart, check every acknowledged write.
    Crash(resilience::CrashArgs),
    /// The tracking and serving workloads with auth off, Basic and Bearer, and the cost of each.
    AuthOverhead(overhead::OverheadArgs),
    /// Where a create's time goes in the store: audit row, creator grant, reading the grant log back (no server).
    CreateCost(overhead_store::CreateCostArgs),
    /// What the metric-pair triggers add to a log-batch on a registered, aliased version (no server).
    PairWriteCost(pair_write_cost::PairWriteCostArgs),
    /// The monitor and report reads on PostgreSQL against SQLite, same data, one run (no server).
    MonitorBackends(monitor_backends::MonitorBackendsArgs),
    /// flotilla-profile against whylogs 1.6.4 on the same million-row frame (no server).
    Profile(profile::ProfileArgs),
    /// Lineage queries of the data API on a generated fleet (10⁶ models by default).
    Lineage(lineage::LineageArgs),
    /// The health API's roll-ups on a generated fleet with synthetic health (10⁶ models by default).
    Health(health::HealthArgs),
    /// The health job's daily drift pass on a generated fleet with synthetic telemetry (10⁶ models by default).
    DailyDrift(daily_drift::DailyDriftArgs),
    /// The serving telemetry recorder's memory per active version (RSS, on against off).
    TelemetryMemory(telemetry_memory::TelemetryMemoryArgs),
    /// flotilla-drift judging 10-feature models' daily windows: models/s (no server).
    Drift(drift::DriftArgs),
    /// V2 infer at 1 and 16 connections with serving telemetry on and off: the ratio.
    TelemetryOverhead(telemetry_overhead::TelemetryOverheadArgs),
    /// Concurrent writers (8, 64, 256) with group commit and without: throughput and tails.
    GroupCommit(group_commit::GroupCommitArgs),
    /// 200 clients looping 100-point log-batches for 30 s, flotilla then MLflow: points/s, tails, nothing lost.
    Ingest(ingest::IngestArgs),
    /// Serving replicas on PostgreSQL behind nginx, random requests over a generated fleet:
    /// model bytes per replica against one replica holding all.
    Placement(placement::PlacementArgs),
}

impl Args {
    fn plan(&self, models: usize) -> Plan {
        let q = self.quick;
        Plan {
            models,
            clients: self.clients,
            runs: self.runs.unwrap_or(if q { 100 } else { 1000 }),
            // Enough samples that p99 is not simply the slowest one.
            log_batch_reps: if q { 5 } else { 200 },
            get_reps: if q { 30 } else { 300 },
            search_reps: if q { 20 } else { 300 },
            runs_search_reps: if q { 10 } else { 200 },
            runs_search_1000_reps: if q { 5 } else { 100 },
            op_cap: Duration::from_secs(self.op_seconds),
            setup_cap: Duration::from_secs(30 * 60),
        }
    }
}

/// The workspace root: the nearest ancestor of the current directory with a `[workspace]`
/// Cargo.toml, else the one this crate was built in.
fn repo_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    for dir in cwd.ancestors() {
        let toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if toml.contains("[workspace]") {
            return dir.to_path_buf();
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn resolve(root: &Path, p: &Path) -> PathBuf {
    // Servers run in their own temp dir, so the program path must be absolute.
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let p = if p.is_absolute() || cwd.join(p).exists() { cwd.join(p) } else { root.join(p) };
    p.canonicalize().unwrap_or(p)
}

/// Starts a server, lets it idle, runs the workload, and stops it.
async fn measure(launch: Launch, plan: &Plan) -> Measure {
    let name = launch.name.clone();
    let mut m = Measure::default();
    eprintln!("bench: starting {name}");
    let mut server = match server::start(launch).await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("bench: {name}: {e:#}");
            m.error = Some(format!("{e:#}"));
            return m;
        }
    };
    let healthy = server.started_in;
    eprintln!("bench: {name} healthy after {healthy:.2?}");
    m.healthy = Some(healthy);
    tokio::time::sleep(IDLE_WAIT).await;
    let idle = procfs::tree_rss(server.pid());
    eprintln!("bench: {name} idle RSS {} MiB in {} processes", idle.bytes >> 20, idle.processes);
    m.idle = Some(idle);
    match workload::run(&http::Target::plain(server.base_url()), plan).await {
        Ok(results) => m.results = Some(results),
        Err(e) => {
            eprintln!("bench: {name} workload stopped: {e}\n{}", server.log_tail(30));
            m.error = Some(e);
        }
    }
    m.after = Some(procfs::tree_rss(server.pid()));
    server.stop();
    m
}

fn notes(label: &str, m: &Measure) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &m.error {
        out.push(format!("{label}: {}", e.lines().next().unwrap_or_default()));
    }
    if let Some(r) = &m.results {
        out.extend(r.notes.iter().map(|n| format!("{label}: {n}")));
        for s in
            [&r.create, &r.rm_search, &r.log_batch, &r.runs_get, &r.runs_setup, &r.runs_search_100, &r.runs_search_1000]
        {
            out.extend(s.first_errors.iter().map(|e| format!("{label}: error: {e}")));
        }
    }
    out
}

fn bullet_list(lines: &[String]) -> String {
    lines.iter().map(|l| format!("- {l}\n")).collect()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let root = repo_root();
    if let Some(Command::Profile(a)) = &args.command {
        return profile::run(&root, a);
    }
    if let Some(Command::Drift(a)) = &args.command {
        return drift::run(a);
    }
    if let Some(Command::CreateCost(a)) = &args.command {
        return overhead_store::run(a);
    }
    if let Some(Command::PairWriteCost(a)) = &args.command {
        return pair_write_cost::run(a);
    }
    if let Some(Command::MonitorBackends(a)) = &args.command {
        return monitor_backends::run(a);
    }
    let flotilla_bin = resolve(&root, &args.flotilla_bin);
    if args.command.is_some() && !flotilla_bin.is_file() {
        anyhow::bail!("no flotilla binary at {} (build it or pass --flotilla-bin)", flotilla_bin.display());
    }
    match &args.command {
        Some(Command::Load(a)) => return resilience::load(&flotilla_bin, a),
        Some(Command::Crash(a)) => return resilience::crash(&flotilla_bin, a),
        Some(Command::AuthOverhead(a)) => return overhead::run(&flotilla_bin, a),
        Some(Command::Lineage(a)) => return lineage::run(&flotilla_bin, a),
        Some(Command::Health(a)) => return health::run(&flotilla_bin, a),
        Some(Command::DailyDrift(a)) => return daily_drift::run(&flotilla_bin, a),
        Some(Command::TelemetryMemory(a)) => return telemetry_memory::run(&flotilla_bin, a),
        Some(Command::TelemetryOverhead(a)) => return telemetry_overhead::run(&flotilla_bin, a),
        Some(Command::GroupCommit(a)) => return group_commit::run(&flotilla_bin, a),
        Some(Command::Placement(a)) => return placement::run(&flotilla_bin, a),
        Some(
            Command::Profile(_)
            | Command::Drift(_)
            | Command::CreateCost(_)
            | Command::PairWriteCost(_)
            | Command::Ingest(_)
            | Command::MonitorBackends(_),
        )
        | None => {}
    }
    if !args.skip_flotilla && !flotilla_bin.is_file() {
        anyhow::bail!(
            "no flotilla binary at {} (build it, pass --flotilla-bin, or use --skip-flotilla)",
            flotilla_bin.display()
        );
    }
    // The venv step blocks (it may wait minutes for another installer), so it runs before the
    // runtime takes over the signals: until then an interrupt simply ends the bench.
    let mlflow_bin = if args.skip_mlflow {
        None
    } else {
        let venv = args.mlflow_venv.clone().unwrap_or_else(|| root.join(".venvs/mlflow-server"));
        let mlflow = venv::ensure_mlflow(&venv).context("preparing the mlflow venv")?;
        if args.postgres.is_some() && args.command.is_none() {
            venv::ensure_psycopg2(&venv)?;
        }
        Some(mlflow)
    };
    if let Some(Command::Ingest(a)) = &args.command {
        return ingest::run(&flotilla_bin, mlflow_bin, a);
    }
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let mut term = signal(SignalKind::terminate())?;
        // Dropping the bench future on a signal drops its servers, which stops their
        // process groups.
        tokio::select! {
            result = bench(args, flotilla_bin, mlflow_bin) => result,
            _ = tokio::signal::ctrl_c() => stopped("interrupt"),
            _ = term.recv() => stopped("terminate signal"),
        }
    })
}

fn stopped(why: &str) -> Result<()> {
    anyhow::bail!("stopped by {why}; servers stopped")
}

async fn bench(args: Args, flotilla_bin: PathBuf, mlflow_bin: Option<PathBuf>) -> Result<()> {
    let models = args.models.unwrap_or(if args.quick { 200 } else { 2000 });
    let models_large = args.models_large.unwrap_or(if args.quick { 2000 } else { 100_000 });
    let plan = args.plan(models);

    let load_before = procfs::load_average();
    let mut columns = Vec::new();
    let mut headers = Vec::new();
    let mut all_notes = Vec::new();
    if !args.skip_flotilla {
        let dir = tempdir()?;
        let data = dir.path().join("data");
        let launch = server::flotilla(&flotilla_bin, &data, dir.path(), Duration::from_secs(60));
        let m = measure(launch, &plan).await;
        all_notes.extend(notes("flotilla", &m));
        columns.push(column(&m, plan.models, plan.runs, plan.clients));
        headers.push("flotilla");
    }
    if let Some(bin) = &mlflow_bin {
        let dir = tempdir()?;
        let launch = server::mlflow(bin, dir.path(), Duration::from_secs(300))?;
        let m = measure(launch, &plan).await;
        all_notes.extend(notes("mlflow", &m));
        columns.push(column(&m, plan.models, plan.runs, plan.clients));
        headers.push("MLflow 3.17.2");
    }

    let on_postgres = match &args.postgres {
        Some(conninfo) => {
            Some(postgres_columns(conninfo, &flotilla_bin, mlflow_bin.as_deref(), &plan, &mut all_notes).await?)
        }
        None => None,
    };

    let mut doc = format!(
        "## flotilla vs MLflow {} — same workload, same load generator\n\n\
         {} cores; {} registered models created with {} clients, {} runs; in-process tokio + hyper \
         client, one keep-alive connection per client; single-client latencies; each op capped at {} s; \
         load average before/after: {} / {}.\n\n",
        venv::MLFLOW_VERSION,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        thousands(plan.models),
        plan.clients,
        thousands(plan.runs),
        args.op_seconds,
        load_before,
        procfs::load_average(),
    );
    let flotilla_on_sqlite = columns.first().filter(|_| !args.skip_flotilla).cloned();
    doc.push_str(&table(&headers, &merge(columns)));
    if !all_notes.is_empty() {
        doc.push_str("\nNotes:\n");
        doc.push_str(&bullet_list(&all_notes));
    }
    if let Some(pg) = on_postgres {
        let pairs = [
            (&pg.flotilla, flotilla_on_sqlite.as_ref(), "flotilla on SQLite"),
            (&pg.flotilla, pg.mlflow.as_ref(), "MLflow 3.17.2 on PostgreSQL"),
        ];
        for (first, second, name) in pairs {
            if let Some(second) = second {
                doc.push_str(&format!("\n### flotilla on PostgreSQL against {name}\n\n"));
                doc.push_str(&table(&["flotilla on PostgreSQL", name], &merge(vec![first.clone(), second.clone()])));
            }
        }
    }
    println!("{doc}");

    if !args.skip_flotilla && models_large > 0 {
        let large = large_section(&flotilla_bin, &args.plan(models_large)).await?;
        println!("{large}");
        doc.push('\n');
        doc.push_str(&large);
    }
    if let Some(out) = &args.out {
        std::fs::write(out, &doc).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("bench: wrote {}", out.display());
    }
    Ok(())
}

/// The columns of flotilla and MLflow each on a fresh database of the PostgreSQL server `conninfo`.
struct PostgresColumns {
    flotilla: Vec<(String, Unit, Better, Cell)>,
    mlflow: Option<Vec<(String, Unit, Better, Cell)>>,
}

async fn postgres_columns(
    conninfo: &str,
    flotilla_bin: &Path,
    mlflow_bin: Option<&Path>,
    plan: &Plan,
    all_notes: &mut Vec<String>,
) -> Result<PostgresColumns> {
    // The synchronous client runs its own runtime: off this one.
    let create_database = |what: &'static str| {
        let server = flotilla_testkit::postgres::Postgres::Shared(conninfo.to_owned());
        async move {
            tokio::task::spawn_blocking(move || server.create_database())
                .await?
                .with_context(|| format!("creating {what}'s database"))
        }
    };
    let dir = tempdir()?;
    let url = create_database("flotilla").await?;
    let mut launch = server::flotilla(flotilla_bin, &dir.path().join("data"), dir.path(), Duration::from_secs(60));
    launch.env.push(("FLOTILLA_DATABASE_URL".into(), url));
    launch.name = "flotilla-postgres".into();
    let m = measure(launch, plan).await;
    all_notes.extend(notes("flotilla on PostgreSQL", &m));
    let flotilla = column(&m, plan.models, plan.runs, plan.clients);
    let mlflow = match mlflow_bin {
        Some(bin) => {
            let dir = tempdir()?;
            let url = create_database("MLflow").await?;
            let launch = server::mlflow_on(bin, dir.path(), Duration::from_secs(300), &server::sqlalchemy_url(&url)?)?;
            let m = measure(launch, plan).await;
            all_notes.extend(notes("MLflow on PostgreSQL", &m));
            Some(column(&m, plan.models, plan.runs, plan.clients))
        }
        None => None,
    };
    Ok(PostgresColumns { flotilla, mlflow })
}

fn tempdir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("flotilla-bench-").tempdir().context("creating a temp dir")
}

/// flotilla alone at a large registry, then restarted on the same data to time a warm start.
async fn large_section(bin: &Path, plan: &Plan) -> Result<String> {
    let dir = tempdir()?;
    let data = dir.path().join("data");
    let m = measure(server::flotilla(bin, &data, dir.path(), Duration::from_secs(60)), plan).await;
    let mut col = column(&m, plan.models, plan.runs, plan.clients);
    let create_wall = m.results.as_ref().map(|r| r.create.wall);
    col.insert(
        2,
        (
            format!("time to create {} models", thousands(plan.models)),
            Unit::Time,
            Better::Lower,
            Cell::time(create_wall),
        ),
    );

    let mut restart = Measure::default();
    if m.results.is_some() {
        eprintln!("bench: restarting flotilla on {} models", plan.models);
        let launch = server::flotilla(bin, &data, dir.path(), Duration::from_secs(120));
        match server::start(launch).await {
            Ok(mut s) => {
                restart.healthy = Some(s.started_in);
                tokio::time::sleep(IDLE_WAIT).await;
                restart.idle = Some(procfs::tree_rss(s.pid()));
                s.stop();
            }
            Err(e) => restart.error = Some(format!("{e:#}")),
        }
    }
    let n = thousands(plan.models);
    col.push((
        format!("restart to healthy with {n} models stored"),
        Unit::Time,
        Better::Lower,
        Cell::time(restart.healthy),
    ));
    let idle = restart.idle.map(|r| Cell { value: Some(r.bytes as f64), note: format!("{} proc", r.processes) });
    col.push((format!("idle RSS after restart with {n} models"), Unit::Bytes, Better::Lower, idle.unwrap_or_default()));

    let mut doc = format!("## flotilla alone at {n} registered models\n\n");
    doc.push_str(&table(&[&format!("flotilla, {n} models")], &merge(vec![col])));
    let mut all = notes("flotilla", &m);
    all.extend(notes("flotilla restart", &restart));
    if !all.is_empty() {
        doc.push_str("\nNotes:\n");
        doc.push_str(&bullet_list(&all));
    }
    Ok(doc)
}
