//! `flotilla-bench ingest`: a fleet retrain's metric ingest. `--clients` concurrent keep-alive
//! clients (200 by default) each loop `runs/log-batch` of 100 metric points on a run of their
//! own for `--seconds` (30), against flotilla and then the real MLflow 3.17.2 server (unless
//! `--skip-mlflow`). Prints per server: sustained points/s, log-batch p50/p99, peak RSS, and
//! whether exactly the acknowledged points are stored (counted in the server's SQLite file once
//! it has stopped).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use flotilla_testkit::{Launch, procfs};
use serde_json::json;

use crate::driver::{OpStats, drive};
use crate::http::{Http, Req, Target};

/// `flotilla-bench ingest`.
#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Concurrent clients, each with its own run and connection.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// How long they send, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

/// Points in one log-batch: 100 keys at one step.
const POINTS: usize = 100;
const API: &str = "/api/2.0/mlflow";

/// What one server did.
struct Ingest {
    name: &'static str,
    stats: OpStats,
    peak_rss_kib: u64,
    stored: u64,
}

impl Ingest {
    fn acknowledged(&self) -> u64 {
        (self.stats.ok() * POINTS) as u64
    }
}

/// One server: start, set up runs, send, stop, count.
async fn ingest(name: &'static str, launch: Launch, db: PathBuf, args: &IngestArgs) -> Result<Ingest> {
    let mut server = crate::server::start(launch).await.with_context(|| format!("starting {name}"))?;
    let target = Target::plain(server.base_url());
    let http = Http::new(&target);
    let exp = http.json(&Req::post(format!("{API}/experiments/create"), &json!({ "name": "ingest" }))).await;
    let exp = exp.map_err(anyhow::Error::msg)?;
    let experiment = exp["experiment_id"].as_str().context("no experiment id")?.to_owned();
    let mut runs = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let body = json!({ "experiment_id": experiment, "run_name": format!("retrain-{i}"), "start_time": 0 });
        let run = http.json(&Req::post(format!("{API}/runs/create"), &body)).await.map_err(anyhow::Error::msg)?;
        runs.push(run["run"]["info"]["run_id"].as_str().context("no run id")?.to_owned());
    }
    let runs = Arc::new(runs);
    let _ = std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5");
    let clients = args.clients;
    let stats = drive(&target, clients, usize::MAX, Duration::from_secs(args.seconds), move |http, i| {
        let runs = Arc::clone(&runs);
        async move {
            // Job i is the (i / clients)-th batch of run i % clients: every point is its own.
            let (run, step) = (&runs[i % clients], (i / clients) as i64);
            let metrics: Vec<_> = (0..POINTS)
                .map(|k| json!({ "key": format!("m{k}"), "value": (k as f64) * 0.5, "timestamp": step, "step": step }))
                .collect();
            http.timed(&Req::post(format!("{API}/runs/log-batch"), &json!({ "run_id": run, "metrics": metrics }))).await
        }
    })
    .await;
    let peak_rss_kib = procfs::status_kib(server.pid(), "VmHWM:").unwrap_or(0);
    server.stop();
    let stored = count_points(&db)?;
    Ok(Ingest { name, stats, peak_rss_kib, stored })
}

/// Metric points in a stopped server's SQLite file (flotilla's and MLflow's tables are both `metrics`).
fn count_points(db: &Path) -> Result<u64> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", db.display()))?;
    Ok(conn.query_row("SELECT count(*) FROM metrics", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Runs the bench and prints its table.
pub fn run(bin: &Path, mlflow_bin: Option<PathBuf>, args: &IngestArgs) -> Result<()> {
    let _ = rlimit::increase_nofile_limit((args.clients as u64 + 256).max(4096));
    let load_before = procfs::load_average();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut done = Vec::new();
    let dir = tempfile::Builder::new().prefix("flotilla-ingest-").tempdir()?;
    let data = dir.path().join("data");
    let launch = crate::server::flotilla(bin, &data, dir.path(), Duration::from_secs(60));
    done.push(runtime.block_on(ingest("flotilla", launch, data.join("flotilla.db"), args))?);
    if let Some(mlflow) = mlflow_bin {
        let dir = tempfile::Builder::new().prefix("mlflow-ingest-").tempdir()?;
        let launch = crate::server::mlflow(&mlflow, dir.path(), Duration::from_secs(300))?;
        done.push(runtime.block_on(ingest("MLflow 3.17.2", launch, dir.path().join("mlflow.db"), args))?);
    }
    let ms = |d: Option<Duration>| d.map_or("–".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3));
    let mut out = format!(
        "## Ingest: {} clients, each looping log-batch of {POINTS} points on its own run for {} s\n\n\
         | server | batches | errors | points/s | p50 | p99 | p99/p50 | peak RSS | stored = acknowledged |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        args.clients, args.seconds
    );
    for d in &done {
        let rate = d.acknowledged() as f64 / d.stats.wall.as_secs_f64();
        let ratio = match (d.stats.percentile(0.5), d.stats.percentile(0.99)) {
            (Some(a), Some(b)) => format!("{:.1}", b.as_secs_f64() / a.as_secs_f64()),
            _ => "–".to_owned(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {rate:.0} | {} | {} | {ratio} | {:.0} MiB | {} ({} stored, {} acknowledged) |\n",
            d.name,
            d.stats.ok(),
            d.stats.errors,
            ms(d.stats.percentile(0.5)),
            ms(d.stats.percentile(0.99)),
            d.peak_rss_kib as f64 / 1024.0,
            if d.stored == d.acknowledged() { "yes" } else { "NO" },
            d.stored,
            d.acknowledged(),
        ));
    }
    if let [a, b] = done.as_slice() {
        let rate = |d: &Ingest| d.acknowledged() as f64 / d.stats.wall.as_secs_f64();
        out.push_str(&format!("\nflotilla / MLflow sustained points/s: {:.1}×\n", rate(a) / rate(b).max(1e-9)));
    }
    for d in &done {
        for e in &d.stats.first_errors {
            out.push_str(&format!("\n{} error: {e}", d.name));
        }
    }
    out.push_str(&format!(
        "\n{} cores; load average before {}, after {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        procfs::load_average()
    ));
    println!("{out}");
    // MLflow may legitimately store fewer on errors it answered; flotilla must store exactly.
    anyhow::ensure!(done[0].stored == done[0].acknowledged(), "flotilla stored a different number of points");
    Ok(())
}
