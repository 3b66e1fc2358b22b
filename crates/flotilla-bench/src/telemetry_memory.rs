//! `flotilla-bench telemetry-memory`: the serving telemetry recorder's
//! memory per active version, measured: a server with `--monitor on` and
//! one with it off each get the same model registered as N versions and
//! one V2 request per version (so each version is loaded and, when on,
//! gets its recorder state); the resident-set growth from before the
//! requests to after them is read from /proc, and the difference between
//! on and off over N is the recorder's cost per active version (models
//! loaded cost the same in both). Medians over rounds.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use flotilla_testkit::{Client, Options, Process, fixtures, procfs};
use serde_json::json;

const MODEL: &str = "telemetry-memory";

#[derive(clap::Args, Debug)]
pub struct TelemetryMemoryArgs {
    /// Versions served (each one request).
    #[arg(long, default_value_t = 2000)]
    versions: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// The resident-set growth over serving every version once.
async fn growth(bin: &Path, on: bool, versions: usize) -> Result<i64> {
    let dir = tempfile::Builder::new().prefix("flotilla-telemetry-memory-").tempdir()?;
    let options = Options::new(bin)
        .own_group(true)
        .start_limit(Duration::from_secs(60))
        .env("FLOTILLA_MONITOR", if on { "on" } else { "off" })
        .env("FLOTILLA_MONITOR_WINDOW", "10m");
    let launch = options.launch(&dir.path().join("data"), dir.path());
    let mut server = tokio::task::spawn_blocking(move || Process::start(launch)).await??;
    let mut c = Client::new(server.addr, None);
    fixtures::register_lightgbm(&mut c, MODEL, "memory/v1").await.map_err(anyhow::Error::msg)?;
    for _ in 1..versions {
        let body = json!({ "name": MODEL, "source": "mlflow-artifacts:/memory/v1" });
        let made = c.post("/api/2.0/mlflow/model-versions/create", &body).await.map_err(anyhow::Error::msg)?;
        if !made.ok() {
            bail!("creating a version: {}", made.text());
        }
    }
    // One version served first, so the serving path's one-off allocations are made before measuring.
    let infer = fixtures::infer_body();
    let warm = c.post(&format!("/v2/models/{MODEL}/versions/1/infer"), &infer).await.map_err(anyhow::Error::msg)?;
    if !warm.ok() {
        bail!("infer: {}", warm.text());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = procfs::tree_rss(server.pid()).bytes as i64;
    for v in 2..=versions {
        let answer =
            c.post(&format!("/v2/models/{MODEL}/versions/{v}/infer"), &infer).await.map_err(anyhow::Error::msg)?;
        if !answer.ok() {
            bail!("infer version {v}: {}", answer.text());
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = procfs::tree_rss(server.pid()).bytes as i64;
    server.stop();
    Ok(after - before)
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

pub fn run(bin: &Path, args: &TelemetryMemoryArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        for k in 0..2 {
            let monitor = (round + k) % 2 == 0;
            let g = rt.block_on(growth(bin, monitor, args.versions))?;
            eprintln!("telemetry-memory: round {}: monitor {}: +{} KiB", round + 1, monitor, g / 1024);
            if monitor { on.push(g) } else { off.push(g) }
        }
    }
    let (on, off) = (median(on), median(off));
    let served = args.versions.saturating_sub(1).max(1) as i64;
    println!("| versions served | RSS growth, telemetry off | telemetry on | recorder per active version |");
    println!("|---|---|---|---|");
    println!(
        "| {} | {:.1} MiB | {:.1} MiB | {:.0} B |",
        served,
        off as f64 / 1048576.0,
        on as f64 / 1048576.0,
        (on - off) as f64 / served as f64
    );
    Ok(())
}
