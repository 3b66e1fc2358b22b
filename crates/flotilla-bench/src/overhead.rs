//! `flotilla-bench auth-overhead`: the tracking workload and a serving workload against
//! flotilla with auth off, then with `--auth basic` as a (non-admin) user sending Basic, then
//! as the same user sending a Bearer token; rounds alternate the three, each on a fresh data
//! directory, and the table gives the medians and each mode's cost against auth off.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use flotilla_testkit::{Client, Options, Process, basic, fixtures, procfs};
use serde_json::json;

use crate::driver::{OpStats, drive};
use crate::http::{Req, Target};
use crate::report::{fmt_time, thousands};
use crate::workload::{self, Plan};

const ADMIN_PASSWORD: &str = "bench-admin-password";
const USER: &str = "bench-user";
const USER_PASSWORD: &str = "bench-user-password";
const MODEL: &str = "overhead-infer";

/// `flotilla-bench auth-overhead`.
#[derive(clap::Args, Debug)]
pub struct OverheadArgs {
    /// Rounds of the three modes; medians are taken over them.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Registered models created (8 clients) and searched.
    #[arg(long, default_value_t = 1000)]
    models: usize,
    /// Runs in the runs/search experiment.
    #[arg(long, default_value_t = 500)]
    runs: usize,
    /// Single-client requests per tracking read or write measured.
    #[arg(long, default_value_t = 300)]
    reps: usize,
    /// Single-client inference requests.
    #[arg(long, default_value_t = 2000)]
    infer_reps: usize,
    /// Inference requests sent by 16 concurrent clients, for throughput.
    #[arg(long, default_value_t = 20000)]
    infer_total: usize,
    /// The most throughput any row may lose to auth, in percent, before the
    /// bench fails (a guard against a collapse, not the ≤ 5 % target: a
    /// shared machine moves throughput by more than that between runs).
    #[arg(long, default_value_t = 50.0)]
    max_throughput_loss: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Basic,
    Bearer,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Off, Mode::Basic, Mode::Bearer];

    fn label(self) -> &'static str {
        match self {
            Mode::Off => "auth off",
            Mode::Basic => "Basic (user)",
            Mode::Bearer => "Bearer token",
        }
    }
}

/// One measured value: seconds (lower is better) or a rate (higher is better).
#[derive(Debug, Clone, Copy)]
enum Value {
    Time(f64),
    Rate(f64),
}

/// Starts a server in `mode` and returns it with the `Authorization` its clients send.
async fn start(bin: &Path, dir: &Path, mode: Mode) -> Result<(Process, Option<String>)> {
    let mut options = Options::new(bin).own_group(true).start_limit(Duration::from_secs(60));
    if mode != Mode::Off {
        // The user edits what it did not create (the default experiment's
        // artifacts): everyone may edit, and every request is still checked.
        options = options
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_DEFAULT_PERMISSION", "EDIT");
    }
    let launch = options.launch(&dir.join("data"), dir);
    let server = tokio::task::spawn_blocking(move || Process::start(launch)).await??;
    let auth = match mode {
        Mode::Off => None,
        Mode::Basic | Mode::Bearer => {
            let mut admin = Client::new(server.addr, Some(&basic("admin", ADMIN_PASSWORD)));
            let user = json!({ "username": USER, "password": USER_PASSWORD });
            admin.call(hyper::Method::POST, "/api/2.0/mlflow/users/create", &user).await.map_err(anyhow::Error::msg)?;
            let user_basic = basic(USER, USER_PASSWORD);
            if mode == Mode::Basic {
                Some(user_basic)
            } else {
                let mut as_user = Client::new(server.addr, Some(&user_basic));
                let body = json!({ "name": "bench", "scope": "write" });
                let t = as_user
                    .call(hyper::Method::POST, "/api/fleet/v1/tokens", &body)
                    .await
                    .map_err(anyhow::Error::msg)?;
                Some(format!("Bearer {}", t["token"].as_str().context("no token in the answer")?))
            }
        }
    };
    Ok((server, auth))
}

fn p(stats: &OpStats, q: f64) -> Option<Value> {
    stats.percentile(q).map(|d| Value::Time(d.as_secs_f64()))
}

/// One mode's measures, in table order.
async fn measure(bin: &Path, mode: Mode, args: &OverheadArgs) -> Result<Vec<(String, Option<Value>)>> {
    let dir = tempfile::Builder::new().prefix("flotilla-overhead-").tempdir()?;
    let (mut server, auth) = start(bin, dir.path(), mode).await?;
    let target = match &auth {
        Some(a) => Target::with_auth(server.base_url(), a),
        None => Target::plain(server.base_url()),
    };
    // The first request with a credential verifies it (Argon2id for a password) and fills the
    // cache; it is timed on its own, and every later request is a cache hit.
    let mut first = Client::new(server.addr, auth.as_deref());
    let started = std::time::Instant::now();
    first
        .call(hyper::Method::GET, "/api/2.0/mlflow/experiments/search?max_results=1", &json!({}))
        .await
        .map_err(anyhow::Error::msg)?;
    let first_request = started.elapsed();
    let plan = Plan {
        models: args.models,
        clients: 8,
        runs: args.runs,
        log_batch_reps: args.reps.min(200),
        get_reps: args.reps,
        search_reps: args.reps,
        runs_search_reps: args.reps.min(200),
        runs_search_1000_reps: args.reps.min(100),
        op_cap: Duration::from_secs(30),
        setup_cap: Duration::from_secs(600),
    };
    let pid = server.pid();
    let cpu = || procfs::cpu_seconds(pid).unwrap_or(f64::NAN);
    let cpu_before = cpu();
    let r = workload::run(&target, &plan).await.map_err(anyhow::Error::msg)?;
    let tracking_cpu = cpu() - cpu_before;
    let mut c = Client::new(server.addr, auth.as_deref());
    fixtures::register_lightgbm(&mut c, MODEL, "overhead/v1").await.map_err(anyhow::Error::msg)?;
    let infer = Req::post(format!("/v2/models/{MODEL}/infer"), &fixtures::infer_body());
    let req = infer.clone();
    let one = drive(&target, 1, args.infer_reps + 10, Duration::from_secs(60), move |http, _| {
        let req = req.clone();
        async move { http.timed(&req).await }
    })
    .await;
    let req = infer.clone();
    let cpu_before = cpu();
    let many = drive(&target, 16, args.infer_total, Duration::from_secs(60), move |http, _| {
        let req = req.clone();
        async move { http.timed(&req).await }
    })
    .await;
    let infer_cpu = (cpu() - cpu_before) / (many.ok() + many.errors).max(1) as f64;
    let errors: usize = [&r.create, &r.rm_search, &r.log_batch, &r.runs_get, &r.runs_search_100, &one, &many]
        .iter()
        .map(|s| s.errors)
        .sum();
    server.stop();
    if errors > 0 {
        let first: Vec<_> =
            [&r.create, &r.log_batch, &r.runs_get, &one, &many].iter().flat_map(|s| s.first_errors.clone()).collect();
        anyhow::bail!("{}: {errors} failed requests: {first:?}", mode.label());
    }
    let models = thousands(args.models);
    Ok(vec![
        ("first request (credential not yet cached)".into(), Some(Value::Time(first_request.as_secs_f64()))),
        ("create registered model, 8 clients: throughput".into(), r.create.throughput().map(Value::Rate)),
        ("log-batch 1,000 metrics p50".into(), p(&r.log_batch, 0.5)),
        ("runs/get p50".into(), p(&r.runs_get, 0.5)),
        ("runs/get p99".into(), p(&r.runs_get, 0.99)),
        (format!("registered-models/search first page at {models} p50"), p(&r.rm_search, 0.5)),
        ("runs/search 100 of runs p50".into(), p(&r.runs_search_100, 0.5)),
        ("V2 infer, 1 client p50".into(), p(&one, 0.5)),
        ("V2 infer, 1 client p99".into(), p(&one, 0.99)),
        ("V2 infer, 16 clients: throughput".into(), many.throughput().map(Value::Rate)),
        // The server's own CPU for the same work: what the checks cost, apart
        // from how the machine schedules the clients beside it.
        ("server CPU, the whole tracking workload".into(), cpu_time(tracking_cpu)),
        ("server CPU per V2 inference, 16 clients".into(), cpu_time(infer_cpu)),
    ])
}

fn cpu_time(seconds: f64) -> Option<Value> {
    seconds.is_finite().then_some(Value::Time(seconds))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

fn show(v: Option<Value>) -> String {
    match v {
        Some(Value::Time(s)) => fmt_time(s),
        Some(Value::Rate(r)) => format!("{r:.0}/s"),
        None => "–".into(),
    }
}

/// The cost of `auth` against `off`, in percent (positive: auth is slower).
fn cost(off: Option<Value>, auth: Option<Value>) -> String {
    match (off, auth) {
        (Some(Value::Time(a)), Some(Value::Time(b))) if a > 0.0 => format!("{:+.1} %", (b / a - 1.0) * 100.0),
        (Some(Value::Rate(a)), Some(Value::Rate(b))) if b > 0.0 => format!("{:+.1} %", (a / b - 1.0) * 100.0),
        _ => "–".into(),
    }
}

pub fn run(bin: &Path, args: &OverheadArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let load_before = procfs::load_average();
    // rows[mode][row] over rounds.
    let mut names: Vec<String> = Vec::new();
    let mut values: Vec<Vec<Vec<Value>>> = vec![Vec::new(); Mode::ALL.len()];
    for round in 0..args.rounds {
        // Each round starts with a different mode, so a drift in the machine's load spreads.
        for k in 0..Mode::ALL.len() {
            let m = (round + k) % Mode::ALL.len();
            let mode = Mode::ALL[m];
            eprintln!("auth-overhead: round {}/{}: {}", round + 1, args.rounds, mode.label());
            let rows = rt.block_on(measure(bin, mode, args))?;
            if names.is_empty() {
                names = rows.iter().map(|(n, _)| n.clone()).collect();
            }
            values[m].resize(rows.len(), Vec::new());
            for (i, (_, v)) in rows.into_iter().enumerate() {
                values[m][i].extend(v);
            }
        }
    }
    let med = |m: usize, i: usize| -> Option<Value> {
        let vs = values[m].get(i)?;
        let first = *vs.first()?;
        let nums = vs.iter().map(|v| match v {
            Value::Time(x) | Value::Rate(x) => *x,
        });
        let m = median(nums.collect())?;
        Some(match first {
            Value::Time(_) => Value::Time(m),
            Value::Rate(_) => Value::Rate(m),
        })
    };
    let mut doc = format!(
        "## Authentication overhead: auth off, Basic, Bearer\n\n{} cores; medians of {} rounds (modes alternating, \
         a fresh server and data directory each); {} models, {} runs; load average before/after {} / {}.\n\n\
         | metric | auth off | Basic (user) | Bearer token | Basic cost | Bearer cost |\n|---|---|---|---|---|---|\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.rounds,
        thousands(args.models),
        thousands(args.runs),
        load_before,
        procfs::load_average(),
    );
    for (i, name) in names.iter().enumerate() {
        let (off, b, t) = (med(0, i), med(1, i), med(2, i));
        doc.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            show(off),
            show(b),
            show(t),
            cost(off, b),
            cost(off, t)
        ));
    }
    println!("{doc}");
    let collapsed: Vec<String> = names
        .iter()
        .enumerate()
        .flat_map(|(i, name)| [(1, i, name), (2, i, name)])
        .filter_map(|(m, i, name)| match (med(0, i), med(m, i)) {
            (Some(Value::Rate(off)), Some(Value::Rate(auth)))
                if auth < off * (1.0 - args.max_throughput_loss / 100.0) =>
            {
                Some(format!("{name} with {}: {auth:.0}/s against {off:.0}/s", Mode::ALL[m].label()))
            }
            _ => None,
        })
        .collect();
    if !collapsed.is_empty() {
        anyhow::bail!("auth costs more than {} % of throughput: {}", args.max_throughput_loss, collapsed.join("; "));
    }
    Ok(())
}
