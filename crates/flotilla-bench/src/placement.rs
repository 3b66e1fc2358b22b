//! `flotilla-bench placement`: serving replicas on one PostgreSQL database behind nginx with
//! the deployment configuration (consistent hashing on the model name), driven by uniformly
//! random V2 requests over a generated fleet of real (tiny LightGBM) models. Prints each
//! replica's loaded models and model bytes against one replica holding every model that was
//! asked for (the same models, asked directly), and the request latencies through nginx.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use flotilla_testkit::nginx::Nginx;
use flotilla_testkit::{Client, Process, procfs};
use hyper::Method;

use crate::report::thousands;
use crate::server;

#[derive(clap::Args, Debug)]
pub struct PlacementArgs {
    /// The PostgreSQL server the replicas share (a superuser libpq conninfo without dbname, as
    /// `scripts/postgres-test-server.sh start` prints); a fresh database is made on it.
    #[arg(long)]
    postgres: String,
    /// Store-level models generated, each with one version and a model file.
    #[arg(long, default_value_t = 100_000)]
    models: u64,
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Requests through nginx, each for a model drawn uniformly at random.
    #[arg(long, default_value_t = 200_000)]
    requests: usize,
    /// Concurrent clients (one keep-alive connection each).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Each replica's model memory budget (large enough that nothing is evicted).
    #[arg(long, default_value = "4GiB")]
    model_memory: String,
}

/// What one replica holds.
struct Holding {
    models: usize,
    bytes: f64,
}

pub fn run(bin: &Path, a: &PlacementArgs) -> Result<()> {
    let load_before = procfs::load_average();
    let work = tempfile::Builder::new().prefix("flotilla-bench-placement-").tempdir()?;
    let url = flotilla_testkit::postgres::Postgres::Shared(a.postgres.clone())
        .create_database()
        .context("creating the replicas' database")?;
    let data = work.path().join("fleet");
    eprintln!("bench: generating {} models with model files into PostgreSQL", thousands(a.models as usize));
    let started = Instant::now();
    let generated = Command::new(bin)
        .args(["fleet", "generate", "--json", "--versions", "1", "--regions", "10", "--with-files", "1"])
        .args(["--models", &a.models.to_string(), "--database", &url])
        .arg("--data-dir")
        .arg(&data)
        .env("FLOTILLA_LOG", "warn")
        .output()
        .context("running flotilla fleet generate")?;
    anyhow::ensure!(generated.status.success(), "fleet generate: {}", String::from_utf8_lossy(&generated.stderr));
    let generate_secs = started.elapsed().as_secs_f64();
    let artifacts = data.join("artifacts");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut replicas: Vec<Process> = Vec::new();
    for i in 0..a.replicas {
        let dir = work.path().join(format!("replica-{i}"));
        let mut launch = server::flotilla(bin, &dir.join("data"), work.path(), Duration::from_secs(60));
        launch.name = format!("replica-{i}");
        launch.env.extend([
            ("FLOTILLA_DATABASE_URL".to_owned(), url.clone()),
            ("FLOTILLA_ARTIFACTS".to_owned(), artifacts.display().to_string()),
            ("FLOTILLA_MODEL_MEMORY".to_owned(), a.model_memory.clone()),
        ]);
        replicas.push(runtime.block_on(server::start(launch))?);
    }
    let addrs: Vec<_> = replicas.iter().map(|r| r.addr).collect();
    let nginx = Nginx::start(&addrs, &[]).context("nginx is not installed (tests/deploy/install-nginx.sh)")?;

    runtime.block_on(async {
        let names = store_models(nginx.addr).await?;
        anyhow::ensure!(!names.is_empty(), "the generated fleet has no store models");
        eprintln!("bench: {} requests over {} models through nginx, {} clients", a.requests, names.len(), a.clients);
        let drive = drive(nginx.addr, &names, a.requests, a.clients).await?;
        let mut holdings = Vec::new();
        for addr in &addrs {
            holdings.push(holding(*addr).await?);
        }
        eprintln!("bench: the same {} models asked of replica 0 alone", drive.touched.len());
        let alone = ask_each(addrs[0], &drive.touched).await?;
        let everything = holding(addrs[0]).await?;
        anyhow::ensure!(alone == 0, "{alone} direct requests to replica 0 failed");
        print_report(a, &Report { generate_secs, drive, holdings, everything, load_before });
        Ok(())
    })?;
    drop(nginx);
    for mut r in replicas {
        r.stop();
    }
    Ok(())
}

/// The names of the fleet's store-level models (those with a version and a file).
async fn store_models(at: std::net::SocketAddr) -> Result<Vec<String>> {
    let mut client = Client::new(at, None);
    let (mut names, mut token) = (Vec::new(), String::new());
    loop {
        let mut path = "/api/2.0/mlflow/registered-models/search?max_results=1000".to_owned();
        if !token.is_empty() {
            path.push_str(&format!("&page_token={}", flotilla_testkit::encode_query(&token)));
        }
        let answer = client.get(&path).await.map_err(anyhow::Error::msg)?;
        anyhow::ensure!(answer.ok(), "search: {}", answer.text());
        let page = answer.json();
        for m in page["registered_models"].as_array().into_iter().flatten() {
            if let Some(name) = m["name"].as_str().filter(|n| n.contains(".store=")) {
                names.push(name.to_owned());
            }
        }
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_owned(),
            _ => return Ok(names),
        }
    }
}

/// One inference of the generated models' shape (4 features).
fn infer_body() -> Bytes {
    Bytes::from_static(br#"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[0.9,0.1,0.2,0.3]}]}"#)
}

struct Drive {
    latencies: Vec<Duration>,
    errors: usize,
    wall: Duration,
    touched: Vec<String>,
}

/// `requests` uniformly random requests over `names` from `clients` concurrent clients.
async fn drive(at: std::net::SocketAddr, names: &[String], requests: usize, clients: usize) -> Result<Drive> {
    // splitmix64 per client: the draws are the same run to run.
    let draw = |state: &mut u64| {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let share = requests / clients + usize::from(c < requests % clients);
        let picks: Vec<usize> = {
            let mut state = c as u64 + 1;
            (0..share).map(|_| (draw(&mut state) % names.len() as u64) as usize).collect()
        };
        let paths: Vec<(usize, String)> =
            picks.into_iter().map(|i| (i, format!("/v2/models/{}/infer", names[i]))).collect();
        tasks.spawn(async move {
            let mut client = Client::new(at, None);
            let (mut latencies, mut errors, mut touched) = (Vec::with_capacity(paths.len()), 0, Vec::new());
            for (i, path) in paths {
                let t = Instant::now();
                match client.send(Method::POST, &path, Some(("application/json", infer_body()))).await {
                    Ok(answer) if answer.ok() => {
                        latencies.push(t.elapsed());
                        touched.push(i);
                    }
                    Ok(_) | Err(_) => errors += 1,
                }
            }
            (latencies, errors, touched)
        });
    }
    let mut drive = Drive { latencies: Vec::new(), errors: 0, wall: Duration::ZERO, touched: Vec::new() };
    let mut seen = vec![false; names.len()];
    while let Some(done) = tasks.join_next().await {
        let (latencies, errors, touched) = done?;
        drive.latencies.extend(latencies);
        drive.errors += errors;
        for i in touched {
            seen[i] = true;
        }
    }
    drive.wall = started.elapsed();
    drive.touched = names.iter().zip(seen).filter(|(_, s)| *s).map(|(n, _)| n.clone()).collect();
    drive.latencies.sort();
    Ok(drive)
}

/// Asks `at` directly for each of `names` once; the failures.
async fn ask_each(at: std::net::SocketAddr, names: &[String]) -> Result<usize> {
    let mut client = Client::new(at, None);
    let mut failed = 0;
    for name in names {
        let path = format!("/v2/models/{name}/infer");
        match client.send(Method::POST, &path, Some(("application/json", infer_body()))).await {
            Ok(answer) if answer.ok() => {}
            Ok(_) | Err(_) => failed += 1,
        }
    }
    Ok(failed)
}

/// A replica's loaded models and model bytes (`/metrics`); nothing may have been evicted.
async fn holding(at: std::net::SocketAddr) -> Result<Holding> {
    let mut client = Client::new(at, None);
    let metrics = client.get("/metrics").await.map_err(anyhow::Error::msg)?;
    anyhow::ensure!(metrics.ok(), "/metrics: {}", metrics.text());
    let text = String::from_utf8_lossy(&metrics.body);
    let gauge = |name: &str| -> Result<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
            .with_context(|| format!("no {name} in /metrics"))
    };
    let evictions = gauge("flotilla_model_evictions_total")?;
    anyhow::ensure!(evictions == 0.0, "{at} evicted {evictions} models: raise --model-memory");
    Ok(Holding { models: gauge("flotilla_models_loaded")? as usize, bytes: gauge("flotilla_model_memory_bytes")? })
}

struct Report {
    generate_secs: f64,
    drive: Drive,
    holdings: Vec<Holding>,
    everything: Holding,
    load_before: String,
}

fn print_report(a: &PlacementArgs, r: &Report) {
    let pct = |q: f64| {
        let l = &r.drive.latencies;
        l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let mib = |b: f64| b / 1_048_576.0;
    let mut out = format!(
        "## Placement: {} replicas on PostgreSQL behind nginx, {} models\n\n\
         `flotilla-bench placement --models {} --requests {} --clients {}`; fleet generated into PostgreSQL \
         with a model file per model in {:.1} s; {} requests drawn uniformly at random, {} models asked for at \
         least once; load average before/after: {} / {}.\n\n\
         | replica | models loaded | model bytes | share of one replica holding all |\n|---|---|---|---|\n",
        a.replicas,
        thousands(a.models as usize),
        a.models,
        a.requests,
        a.clients,
        r.generate_secs,
        thousands(a.requests),
        thousands(r.drive.touched.len()),
        r.load_before,
        procfs::load_average(),
    );
    for (i, h) in r.holdings.iter().enumerate() {
        out.push_str(&format!(
            "| {i} | {} | {:.1} MiB | {:.2} |\n",
            thousands(h.models),
            mib(h.bytes),
            h.bytes / r.everything.bytes.max(1.0)
        ));
    }
    let total: f64 = r.holdings.iter().map(|h| h.bytes).sum();
    out.push_str(&format!(
        "| all {} together | {} | {:.1} MiB | {:.2} |\n| replica 0 asked for every one | {} | {:.1} MiB | 1.00 |\n\n",
        a.replicas,
        thousands(r.holdings.iter().map(|h| h.models).sum()),
        mib(total),
        total / r.everything.bytes.max(1.0),
        thousands(r.everything.models),
        mib(r.everything.bytes),
    ));
    out.push_str(&format!(
        "Through nginx: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} errors.\n",
        r.drive.latencies.len() as f64 / r.drive.wall.as_secs_f64().max(1e-9),
        pct(0.5),
        pct(0.99),
        r.drive.errors
    ));
    println!("{out}");
}
