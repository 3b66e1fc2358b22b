//! `flotilla-bench health`: generates a fleet with synthetic health and
//! telemetry (`flotilla fleet generate --health --telemetry`, 10⁶ store models by default), starts
//! flotilla on it and times the health API over one keep-alive connection:
//! the fleet's roll-up with its worst models, a family's, a region's
//! (a partition) and a page deep into a family's worst models, and the
//! monitoring UI pages (`/monitor`, a worst model's `/models/{name}/monitor`
//! over its synthetic telemetry, `/alerts`). Prints
//! median, p99 and max per query. The generated store is removed at the end
//! unless `--data-dir` named one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use flotilla_testkit::{Client, Options, Process};

const FAMILIES: [&str; 8] = ["demand-forecast", "churn", "pricing", "fraud", "eta", "inventory", "ranking", "anomaly"];

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// Store-level models to generate.
    #[arg(long, default_value_t = 1_000_000)]
    models: u64,
    /// Timed requests per query.
    #[arg(long, default_value_t = 300)]
    reps: usize,
    /// Use (or keep) the fleet in this data directory instead of a temporary one.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn quantile(times: &[Duration], q: f64) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t.get(((t.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default()
}

fn generate(bin: &Path, data: &Path, models: u64) -> Result<()> {
    let started = Instant::now();
    let status = std::process::Command::new(bin)
        .args(["fleet", "generate", "--health", "--telemetry", "--data-dir"])
        .arg(data)
        .args(["--models", &models.to_string()])
        .status()?;
    if !status.success() {
        bail!("flotilla fleet generate failed: {status}");
    }
    println!("generated {models} models with health and telemetry in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn measure(server: &Process, reps: usize) -> Result<Vec<(String, Vec<Duration>)>> {
    let mut client = Client::new(server.addr, None);
    let mut queries: Vec<(String, Vec<Duration>)> = vec![
        ("fleet".into(), Vec::new()),
        ("family".into(), Vec::new()),
        ("partition (a region)".into(), Vec::new()),
        ("family, worst page 2".into(), Vec::new()),
        ("page /monitor".into(), Vec::new()),
        ("page /models/{name}/monitor".into(), Vec::new()),
        ("page /alerts".into(), Vec::new()),
    ];
    let worst = client.get("/api/monitor/v1/health?max_results=50").await.map_err(anyhow::Error::msg)?.json();
    let names: Vec<String> = worst["worst"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["model"].as_str().map(str::to_string))
        .collect();
    if names.is_empty() {
        bail!("the fleet has no worst models: {worst}");
    }
    for rep in 0..reps + 20 {
        let family = FAMILIES[rep % FAMILIES.len()];
        let paths = [
            "/api/monitor/v1/health?max_results=20".to_string(),
            format!("/api/monitor/v1/health?family={family}&max_results=20"),
            format!("/api/monitor/v1/health?family={family}&partition=region%3Dr{:03}&max_results=20", rep % 50),
        ];
        let mut token = None;
        for (i, path) in paths.iter().enumerate() {
            let started = Instant::now();
            let answer = client.get(path).await.map_err(anyhow::Error::msg)?;
            queries[i].1.push(started.elapsed());
            if !answer.ok() {
                bail!("{path}: {}", answer.text());
            }
            if i == 1 {
                token = answer.json()["next_page_token"].as_str().map(str::to_string);
            }
        }
        if let Some(t) = token {
            let path = format!("{}&page_token={t}", paths[1]);
            let started = Instant::now();
            let answer = client.get(&path).await.map_err(anyhow::Error::msg)?;
            queries[3].1.push(started.elapsed());
            if !answer.ok() {
                bail!("{path}: {}", answer.text());
            }
        }
        let model = &names[rep % names.len()];
        let pages = ["/monitor".to_string(), format!("/models/{model}/monitor"), "/alerts".to_string()];
        for (i, path) in pages.iter().enumerate() {
            let started = Instant::now();
            let answer = client.get(path).await.map_err(anyhow::Error::msg)?;
            queries[4 + i].1.push(started.elapsed());
            if !answer.ok() {
                bail!("{path}: {}", answer.text());
            }
        }
        if rep == 19 {
            queries.iter_mut().for_each(|q| q.1.clear());
        }
    }
    Ok(queries)
}

pub fn run(bin: &Path, args: &HealthArgs) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let data = args.data_dir.clone().unwrap_or_else(|| temp.path().join("data"));
    if !data.join("flotilla.db").exists() {
        generate(bin, &data, args.models)?;
    }
    let launch = Options::new(bin).own_group(true).start_limit(Duration::from_secs(120)).launch(&data, temp.path());
    let reps = args.reps;
    let samples = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let server = tokio::task::spawn_blocking(move || Process::start(launch)).await??;
        measure(&server, reps).await
    })?;
    println!("\n| health query ({} models, {} reps) | median | p99 | max |", args.models, args.reps);
    println!("|---|---|---|---|");
    for (name, times) in &samples {
        println!(
            "| {name} | {} | {} | {} |",
            ms(quantile(times, 0.5)),
            ms(quantile(times, 0.99)),
            ms(quantile(times, 1.0))
        );
    }
    Ok(())
}
