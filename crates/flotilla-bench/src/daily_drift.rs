//! `flotilla-bench daily-drift`: the health job's daily pass (issue 15's
//! target: drift for every model's daily window at 10⁶ models in ≤ 60 s)
//! on a generated fleet with synthetic telemetry (`flotilla fleet generate
//! --health --telemetry`, 10⁶ store models by default), run in this process
//! on the store as the server's job runs it: every version served in the
//! week, yesterday's day window judged for drift, baseline, staleness,
//! performance and idleness, and the statuses recorded (roll-ups and
//! alert rules moved). Prints the time of each run (with its stages' busy
//! times) and the fleet's counts of the checks it judged.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Result, bail};
use flotilla_app::monitor::drift::ReferenceCache;
use flotilla_app::monitor::health::job::{Objectives, Pass, judge_timed};
use flotilla_store::health::{Check, HealthScope, HealthStore};
use flotilla_store::monitor::DAY_MS;
use flotilla_store::{SqliteStore, Visible};
use flotilla_testkit::procfs::cpu_seconds;

#[derive(clap::Args, Debug)]
pub struct DailyDriftArgs {
    /// Store-level models to generate.
    #[arg(long, default_value_t = 1_000_000)]
    models: u64,
    /// Runs of the daily pass (the first may insert statuses, the next update them).
    #[arg(long, default_value_t = 2)]
    runs: usize,
    /// Use (or keep) the fleet in this data directory instead of a temporary one.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn generate(bin: &Path, data: &Path, models: u64) -> Result<()> {
    let started = Instant::now();
    let status = std::process::Command::new(bin)
        .args(["fleet", "--data-dir"])
        .arg(data)
        .args(["generate", "--health", "--telemetry", "--models", &models.to_string()])
        .status()?;
    if !status.success() {
        bail!("flotilla fleet generate failed: {status}");
    }
    println!("generated {models} models with health and telemetry in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn run(bin: &Path, args: &DailyDriftArgs) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let data = args.data_dir.clone().unwrap_or_else(|| temp.path().join("data"));
    if !data.join("flotilla.db").exists() {
        generate(bin, &data, args.models)?;
    }
    let store = SqliteStore::open(&data.join("flotilla.db"))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let day = now.div_euclid(DAY_MS) * DAY_MS;
    // The stages overlap (reader, judging and recorder threads): their busy times add to more than the wall.
    println!("| run | models judged | alert events | seconds | CPU seconds | read busy | judge busy | record busy |");
    println!("|---|---|---|---|---|---|---|---|");
    for run in 1..=args.runs {
        let references = Mutex::new(ReferenceCache::default());
        let (started, cpu) = (Instant::now(), cpu_seconds(std::process::id()));
        let r = judge_timed(&store, day - DAY_MS, day, Pass::Daily, &Objectives::default(), &references)?;
        println!(
            "| {run} | {} | {} | {:.1} | {} | {:.1} | {:.1} | {:.1} |",
            r.models,
            r.events,
            started.elapsed().as_secs_f64(),
            cpu.zip(cpu_seconds(std::process::id())).map_or("-".into(), |(a, b)| format!("{:.1}", b - a)),
            r.read.as_secs_f64(),
            r.judge.as_secs_f64(),
            r.record.as_secs_f64()
        );
    }
    let counts = store.health_counts(&HealthScope::Fleet, &Visible::everything())?;
    for check in [Check::DataDrift, Check::PredictionDrift, Check::Traffic, Check::Staleness, Check::Baseline] {
        let row: Vec<String> = counts
            .counts
            .iter()
            .filter(|c| c.check == check)
            .map(|c| format!("{} {}", c.status.as_str(), c.models))
            .collect();
        println!("{}: {}", check.as_str(), row.join(", "));
    }
    Ok(())
}
