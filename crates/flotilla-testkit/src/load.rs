//! The load run: `clients` concurrent keep-alive connections, each sending a mix of MLflow
//! reads and writes, registry writes and V2 inference, one request after the other, until the
//! time is up. Every answer must be a 2xx and every connection must live throughout (an error
//! is counted and described, never retried); the server's peak resident memory over the run is
//! read from `/proc` (VmHWM, reset after the set-up).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::Method;
use serde_json::json;
use tokio::task::JoinSet;

use crate::client::{Client, encode_query};
use crate::{fixtures, procfs};

const API: &str = "/api/2.0/mlflow";
/// The model every client infers on.
const INFER_MODEL: &str = "load-infer";

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub clients: usize,
    pub duration: Duration,
    /// Registered models the clients share for version creates and alias moves.
    pub models: usize,
    /// What each client sends.
    pub mix: Mix,
}

/// The requests of a client's cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Reads, writes and inference: three writes in ten requests ([`MIXED`]).
    Mixed,
    /// Writes only ([`WRITES`]): what group commit is for; log-batches of 100 points.
    Writes,
}

impl Mix {
    /// The ops a client sends, in order.
    pub fn cycle(self) -> &'static [Op] {
        match self {
            Mix::Mixed => &MIXED,
            Mix::Writes => &WRITES,
        }
    }

    /// Metric points in each of the mix's log-batches.
    pub fn metrics_per_batch(self) -> usize {
        match self {
            Mix::Mixed => 10,
            Mix::Writes => 100,
        }
    }
}

/// One kind of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    LogBatch,
    GetRun,
    SearchRuns,
    SearchModels,
    CreateVersion,
    SetAlias,
    Infer,
    CreateModel,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::LogBatch,
        Op::GetRun,
        Op::SearchRuns,
        Op::SearchModels,
        Op::CreateVersion,
        Op::SetAlias,
        Op::Infer,
        Op::CreateModel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::LogBatch => "runs/log-batch",
            Op::GetRun => "runs/get",
            Op::SearchRuns => "runs/search (10)",
            Op::SearchModels => "registered-models/search (10)",
            Op::CreateVersion => "model-versions/create",
            Op::SetAlias => "registered-models/alias",
            Op::Infer => "V2 infer (LightGBM, 1 row)",
            Op::CreateModel => "registered-models/create",
        }
    }

    fn index(self) -> usize {
        match self {
            Op::LogBatch => 0,
            Op::GetRun => 1,
            Op::SearchRuns => 2,
            Op::SearchModels => 3,
            Op::CreateVersion => 4,
            Op::SetAlias => 5,
            Op::Infer => 6,
            Op::CreateModel => 7,
        }
    }
}

/// [`Mix::Mixed`]: three writes in ten requests.
const MIXED: [Op; 10] = [
    Op::LogBatch,
    Op::GetRun,
    Op::Infer,
    Op::SearchRuns,
    Op::GetRun,
    Op::SearchModels,
    Op::CreateVersion,
    Op::SetAlias,
    Op::Infer,
    Op::GetRun,
];

/// [`Mix::Writes`]: creates, log-batches and alias moves (a version made for each move).
const WRITES: [Op; 5] = [Op::CreateModel, Op::LogBatch, Op::CreateVersion, Op::SetAlias, Op::LogBatch];

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub clients: usize,
    pub wall: Duration,
    /// Latencies of the 2xx answers per op (indexed like [`Op::ALL`]), sorted.
    pub latencies: Vec<Vec<Duration>>,
    pub errors: usize,
    pub first_errors: Vec<String>,
    /// Connections opened in all (equal to `clients` when every one lived throughout).
    pub connects: usize,
    pub rss_before_kib: u64,
    pub peak_rss_kib: u64,
    pub rss_after_kib: u64,
}

impl LoadReport {
    pub fn ok(&self) -> usize {
        self.latencies.iter().map(Vec::len).sum()
    }

    /// The latencies of `op`'s 2xx answers, sorted.
    pub fn latencies_of(&self, op: Op) -> &[Duration] {
        &self.latencies[op.index()]
    }

    pub fn requests(&self) -> usize {
        self.ok() + self.errors
    }

    pub fn throughput(&self) -> f64 {
        self.ok() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Nearest-rank percentile over every op, `q` in 0..=1.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        let mut all: Vec<Duration> = self.latencies.iter().flatten().copied().collect();
        all.sort_unstable();
        percentile(&all, q)
    }

    /// A markdown summary: the totals, then one row per op.
    pub fn markdown(&self) -> String {
        let ms = |d: Option<Duration>| d.map_or("–".to_owned(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3));
        let mut out = format!(
            "{} keep-alive clients for {:.1} s: {} requests, {} errors, {} connections opened, {:.0} req/s, \
             p50 {}, p99 {}; server RSS {:.1} MiB before, peak {:.1} MiB (VmHWM), {:.1} MiB after\n\n\
             | request | count | p50 | p99 |\n|---|---|---|---|\n",
            self.clients,
            self.wall.as_secs_f64(),
            self.requests(),
            self.errors,
            self.connects,
            self.throughput(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            self.rss_before_kib as f64 / 1024.0,
            self.peak_rss_kib as f64 / 1024.0,
            self.rss_after_kib as f64 / 1024.0,
        );
        for op in Op::ALL {
            let lat = &self.latencies[op.index()];
            if lat.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                op.name(),
                lat.len(),
                ms(percentile(lat, 0.5)),
                ms(percentile(lat, 0.99))
            ));
        }
        for e in &self.first_errors {
            out.push_str(&format!("\nerror: {e}"));
        }
        out
    }
}

/// Nearest-rank percentile of sorted latencies, `q` in 0..=1.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    let n = sorted.len();
    (n > 0).then(|| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1])
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Creates an API token with write scope for the admin (Basic credentials `admin_basic`) and
/// returns its secret.
pub async fn create_token(addr: SocketAddr, admin_basic: &str) -> Result<String, String> {
    let mut client = Client::new(addr, Some(admin_basic));
    let body = json!({ "name": "load", "scope": "write" });
    let answer = client.call(Method::POST, "/api/fleet/v1/tokens", &body).await?;
    answer["token"].as_str().map(str::to_owned).ok_or_else(|| format!("no token in {answer}"))
}

/// What every client shares, made before the clock starts.
#[derive(Clone)]
struct Shared {
    experiment: String,
    models: Vec<String>,
}

async fn set_up(addr: SocketAddr, auth: Option<&str>, plan: &LoadPlan) -> Result<Shared, String> {
    let mut c = Client::new(addr, auth);
    let name = format!("load-{}", now_ms());
    let exp = c.call(Method::POST, &format!("{API}/experiments/create"), &json!({ "name": name })).await?;
    let experiment = exp["experiment_id"].as_str().ok_or_else(|| format!("no experiment_id in {exp}"))?.to_owned();
    let mut models = Vec::new();
    for j in 0..plan.models.max(1) {
        let model = format!("{name}-model-{j:03}");
        fixtures::register_lightgbm(&mut c, &model, &format!("{name}/model-{j:03}")).await?;
        models.push(model);
    }
    fixtures::register_lightgbm(&mut c, INFER_MODEL, "load-infer/v1").await?;
    // Loaded once before the clock starts, as a served model would be.
    let infer = c.post(&format!("/v2/models/{INFER_MODEL}/infer"), &fixtures::infer_body()).await?;
    if !infer.ok() {
        return Err(format!("first inference: {} {}", infer.status, infer.text()));
    }
    Ok(Shared { experiment, models })
}

/// One client: its own run, then the cycle until `end`.
async fn client_loop(
    addr: SocketAddr,
    auth: Option<String>,
    shared: Shared,
    mix: Mix,
    index: usize,
    ready: Arc<AtomicUsize>,
    start: tokio::sync::watch::Receiver<Option<Instant>>,
) -> (Vec<Vec<Duration>>, Vec<String>, usize) {
    let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); Op::ALL.len()];
    let mut errors = Vec::new();
    let mut c = Client::new(addr, auth.as_deref());
    let body =
        json!({ "experiment_id": shared.experiment, "run_name": format!("client-{index}"), "start_time": now_ms() });
    let created = c.call(Method::POST, &format!("{API}/runs/create"), &body).await;
    ready.fetch_add(1, Ordering::Release);
    let run = match created {
        Ok(r) => r["run"]["info"]["run_id"].as_str().unwrap_or_default().to_owned(),
        Err(e) => return (lat, vec![format!("set-up: {e}")], c.connects),
    };
    let model = &shared.models[index % shared.models.len()];
    let mut version = "1".to_owned();
    let mut start = start;
    let end = loop {
        if let Some(at) = *start.borrow() {
            break at;
        }
        if start.changed().await.is_err() {
            return (lat, errors, c.connects);
        }
    };
    let search_runs = json!({ "experiment_ids": [shared.experiment], "max_results": 10, "filter": "metrics.m0 > 0.5" });
    let search_models =
        format!("{API}/registered-models/search?max_results=10&filter={}", encode_query("name LIKE 'load-%'"));
    let infer_path = format!("/v2/models/{INFER_MODEL}/infer");
    let mut i = index;
    let mut step = 0i64;
    let mut created = 0usize;
    let cycle = mix.cycle();
    while Instant::now() < end {
        let op = cycle[i % cycle.len()];
        i += 1;
        let began = Instant::now();
        let answer = match op {
            Op::LogBatch => {
                step += 1;
                let metrics: Vec<_> = (0..mix.metrics_per_batch())
                    .map(|k| json!({ "key": format!("m{k}"), "value": (step % 100) as f64 / 100.0, "timestamp": now_ms(), "step": step }))
                    .collect();
                c.post(&format!("{API}/runs/log-batch"), &json!({ "run_id": run, "metrics": metrics })).await
            }
            Op::GetRun => c.get(&format!("{API}/runs/get?run_id={run}")).await,
            Op::SearchRuns => c.post(&format!("{API}/runs/search"), &search_runs).await,
            Op::SearchModels => c.get(&search_models).await,
            Op::CreateVersion => {
                let body = json!({ "name": model, "source": format!("mlflow-artifacts:/load/{model}") });
                let answer = c.post(&format!("{API}/model-versions/create"), &body).await;
                if let Ok(a) = &answer
                    && let Some(v) = a.json()["model_version"]["version"].as_str()
                {
                    version = v.to_owned();
                }
                answer
            }
            Op::SetAlias => {
                let body = json!({ "name": model, "alias": "champion", "version": version });
                c.post(&format!("{API}/registered-models/alias"), &body).await
            }
            Op::Infer => c.post(&infer_path, &fixtures::infer_body()).await,
            Op::CreateModel => {
                created += 1;
                let body = json!({ "name": format!("{model}-client-{index}-{created}") });
                c.post(&format!("{API}/registered-models/create"), &body).await
            }
        };
        let took = began.elapsed();
        match answer {
            Ok(a) if a.ok() => lat[op.index()].push(took),
            Ok(a) => errors.push(format!("{}: {} {}", op.name(), a.status, a.text())),
            Err(e) => errors.push(format!("{}: {e}", op.name())),
        }
    }
    (lat, errors, c.connects)
}

/// Runs the load against the server at `addr` (process `pid`, for its memory), each request
/// carrying `auth` (a whole `Authorization` value) if given.
pub async fn run(addr: SocketAddr, pid: u32, auth: Option<&str>, plan: &LoadPlan) -> Result<LoadReport, String> {
    // Each client holds a socket; the caller's limit may be 1,024.
    let _ = rlimit::increase_nofile_limit((plan.clients as u64 + 256).max(4096));
    let shared = set_up(addr, auth, plan).await?;
    let (tx, rx) = tokio::sync::watch::channel(None);
    let ready = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for index in 0..plan.clients {
        let ready = Arc::clone(&ready);
        set.spawn(client_loop(addr, auth.map(str::to_owned), shared.clone(), plan.mix, index, ready, rx.clone()));
    }
    // The clock starts once every client has made its run (and opened its connection), so
    // set-up is not measured.
    while ready.load(Ordering::Acquire) < plan.clients {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_before_kib = procfs::status_kib(pid, "VmRSS:").unwrap_or(0);
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let started = Instant::now();
    let _ = tx.send(Some(started + plan.duration));
    let mut report = LoadReport {
        clients: plan.clients,
        latencies: vec![Vec::new(); Op::ALL.len()],
        rss_before_kib,
        ..LoadReport::default()
    };
    while let Some(joined) = set.join_next().await {
        let (lat, errors, connects) = joined.map_err(|e| format!("a client task failed: {e}"))?;
        for (all, mine) in report.latencies.iter_mut().zip(lat) {
            all.extend(mine);
        }
        report.errors += errors.len();
        report.connects += connects;
        for e in errors {
            if report.first_errors.len() < 5 {
                report.first_errors.push(e);
            }
        }
    }
    report.wall = started.elapsed();
    report.peak_rss_kib = procfs::status_kib(pid, "VmHWM:").unwrap_or(0);
    report.rss_after_kib = procfs::status_kib(pid, "VmRSS:").unwrap_or(0);
    for lat in &mut report.latencies {
        lat.sort_unstable();
    }
    Ok(report)
}
