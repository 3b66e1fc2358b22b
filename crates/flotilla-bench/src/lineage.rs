//! `flotilla-bench lineage`: generates a fleet (`flotilla fleet generate`,
//! 10⁶ store models × 3 versions by default; every store trained on its own
//! digests and on a calendar shared by 100,000 stores), starts flotilla on
//! it and times the data API over one keep-alive connection: a version's
//! upstream, the downstream page of the store's own dataset, an alias's and
//! a served partition's upstream, the shared calendar's first page with its
//! total, a deep page of it (followed by its token), and stale data's first
//! page. Prints median, p99 and max per query. The generated store is
//! removed at the end unless `--data-dir` named one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use flotilla_testkit::{Client, Options, Process, encode_query};

/// The generator's family names, in order (`flotilla-fleetgen`).
const FAMILIES: [&str; 8] = ["demand-forecast", "churn", "pricing", "fraud", "eta", "inventory", "ranking", "anomaly"];

#[derive(clap::Args, Debug)]
pub struct LineageArgs {
    /// Store-level models to generate.
    #[arg(long, default_value_t = 1_000_000)]
    models: u64,
    /// Timed requests per query.
    #[arg(long, default_value_t = 300)]
    reps: usize,
    /// Use (or keep) the fleet in this data directory instead of a temporary one;
    /// generated there when it holds no store yet.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

struct Samples {
    name: &'static str,
    times: Vec<Duration>,
}

impl Samples {
    fn quantile(&self, q: f64) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t.get(((t.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// splitmix64, for the stores picked.
fn pick(state: &mut u64, n: u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % n.max(1)
}

fn generate(bin: &Path, data: &Path, models: u64) -> Result<()> {
    let started = Instant::now();
    let status = std::process::Command::new(bin)
        .args(["fleet", "generate", "--data-dir"])
        .arg(data)
        .args(["--models", &models.to_string()])
        .status()
        .context("running flotilla fleet generate")?;
    if !status.success() {
        bail!("flotilla fleet generate failed: {status}");
    }
    println!("generated {models} models x 3 versions in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn timed(client: &mut Client, path: &str, samples: &mut Samples) -> Result<serde_json::Value> {
    let started = Instant::now();
    let answer = client.get(path).await.map_err(anyhow::Error::msg)?;
    samples.times.push(started.elapsed());
    if !answer.ok() {
        bail!("{path}: {}", answer.text());
    }
    Ok(answer.json())
}

async fn measure(server: &Process, args: &LineageArgs) -> Result<Vec<Samples>> {
    let mut client = Client::new(server.addr, None);
    let names = [
        "upstream (version)",
        "downstream (store's dataset)",
        "upstream (alias)",
        "upstream (partition)",
        "downstream shared by 100k, page 1 + total",
        "downstream shared, deep page",
        "stale, page 1",
    ];
    let mut s: Vec<Samples> = names.iter().map(|&name| Samples { name, times: Vec::new() }).collect();
    let mut state = 7u64;
    let mut token: Option<String> = None;
    for rep in 0..args.reps + 20 {
        let i = pick(&mut state, args.models);
        let family = FAMILIES[(i % FAMILIES.len() as u64) as usize];
        let model = format!("{family}.store=s{i:07}");
        let up = timed(
            &mut client,
            &format!("/api/data/v1/lineage/upstream?model={}&version=2", encode_query(&model)),
            &mut s[0],
        )
        .await?;
        let own = up["datasets"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["name"].as_str().is_some_and(|n| n.starts_with("sales-"))))
            .context("the version has no dataset of its own")?;
        let digest = own["digest"].as_str().unwrap_or_default().to_string();
        let path = format!("/api/data/v1/lineage/downstream?dataset=sales-s{i:07}&digest={}", encode_query(&digest));
        let down = timed(&mut client, &path, &mut s[1]).await?;
        if down["total_versions"] != 1 {
            bail!("{path}: {down}");
        }
        timed(
            &mut client,
            &format!("/api/data/v1/lineage/upstream?model={}&alias=champion", encode_query(&model)),
            &mut s[2],
        )
        .await
        .ok();
        let partition = encode_query(&format!("store=s{i:07}"));
        timed(&mut client, &format!("/api/data/v1/lineage/upstream?family={family}&partition={partition}"), &mut s[3])
            .await?;
        let group = i / 100_000;
        let shared =
            format!("/api/data/v1/lineage/downstream?dataset=holidays-g{group:02}&digest=2025-a&max_results=100");
        let first = timed(&mut client, &shared, &mut s[4]).await?;
        if first["total_versions"].as_i64().unwrap_or(0) < 2 {
            bail!("{shared}: {first}");
        }
        let deep = match token.take() {
            Some(t) => format!("{shared}&page_token={t}"),
            None => shared.clone(),
        };
        let page = timed(&mut client, &deep, &mut s[5]).await?;
        token = page["next_page_token"].as_str().map(str::to_string);
        timed(&mut client, "/api/data/v1/lineage/stale?max_results=100", &mut s[6]).await?;
        if rep == 19 {
            // Warm-up done: the first 20 rounds are not counted.
            s.iter_mut().for_each(|x| x.times.clear());
        }
    }
    Ok(s)
}

pub fn run(bin: &Path, args: &LineageArgs) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let data = args.data_dir.clone().unwrap_or_else(|| temp.path().join("data"));
    if !data.join("flotilla.db").exists() {
        generate(bin, &data, args.models)?;
    }
    let launch = Options::new(bin).own_group(true).start_limit(Duration::from_secs(120)).launch(&data, temp.path());
    let samples = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let server = tokio::task::spawn_blocking(move || Process::start(launch)).await??;
        measure(&server, args).await
    })?;
    println!("\n| query ({} models x 3 versions, {} reps) | median | p99 | max |", args.models, args.reps);
    println!("|---|---|---|---|");
    for x in &samples {
        println!("| {} | {} | {} | {} |", x.name, ms(x.quantile(0.5)), ms(x.quantile(0.99)), ms(x.quantile(1.0)));
    }
    Ok(())
}
