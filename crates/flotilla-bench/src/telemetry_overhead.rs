//! `flotilla-bench telemetry-overhead`: V2 infer (the LightGBM fixture, one row) at 1 and 16
//! connections against flotilla with serving telemetry on (`--monitor on`, 1 s windows so
//! flushes happen during the run) and off, rounds alternating the two on fresh data
//! directories; prints the medians and throughput on / off (target ≥ 90 %).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use flotilla_testkit::{Client, Options, Process, fixtures, procfs};

use crate::driver::drive;
use crate::http::{Req, Target};
use crate::report::fmt_time;

const MODEL: &str = "telemetry-infer";

/// `flotilla-bench telemetry-overhead`.
#[derive(clap::Args, Debug)]
pub struct TelemetryOverheadArgs {
    /// Rounds of on and off; medians are taken over them.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Single-connection inference requests per round.
    #[arg(long, default_value_t = 5000)]
    one: usize,
    /// Inference requests from 16 connections per round.
    #[arg(long, default_value_t = 40000)]
    many: usize,
    /// The telemetry window while measuring (short, so flushes fall inside the run).
    #[arg(long, default_value = "1s")]
    window: String,
    /// Fails the bench when either ratio is under this, in percent.
    #[arg(long, default_value_t = 50.0)]
    min_ratio: f64,
}

/// One measure of a round.
type Measure = fn(&Round) -> f64;

struct Round {
    one_rate: f64,
    one_p50: f64,
    one_p99: f64,
    many_rate: f64,
}

async fn measure(bin: &Path, on: bool, args: &TelemetryOverheadArgs) -> Result<Round> {
    let dir = tempfile::Builder::new().prefix("flotilla-telemetry-").tempdir()?;
    let options = Options::new(bin)
        .own_group(true)
        .start_limit(Duration::from_secs(60))
        .env("FLOTILLA_MONITOR", if on { "on" } else { "off" })
        .env("FLOTILLA_MONITOR_WINDOW", &args.window);
    let launch = options.launch(&dir.path().join("data"), dir.path());
    let mut server = tokio::task::spawn_blocking(move || Process::start(launch)).await??;
    let target = Target::plain(server.base_url());
    let mut c = Client::new(server.addr, None);
    fixtures::register_lightgbm(&mut c, MODEL, "telemetry/v1").await.map_err(anyhow::Error::msg)?;
    let infer = Req::post(format!("/v2/models/{MODEL}/infer"), &fixtures::infer_body());
    let job = move |req: Req| {
        move |http: crate::http::Http, _| {
            let req = req.clone();
            async move { http.timed(&req).await }
        }
    };
    // Warm-up: the model loads, connections open.
    drive(&target, 16, 2000, Duration::from_secs(60), job(infer.clone())).await;
    let one = drive(&target, 1, args.one, Duration::from_secs(120), job(infer.clone())).await;
    let many = drive(&target, 16, args.many, Duration::from_secs(120), job(infer)).await;
    server.stop();
    if one.errors + many.errors > 0 {
        anyhow::bail!("failed requests: {:?} {:?}", one.first_errors, many.first_errors);
    }
    let secs = |q: f64| one.percentile(q).map_or(0.0, |d| d.as_secs_f64());
    Ok(Round {
        one_rate: one.throughput().unwrap_or(0.0),
        one_p50: secs(0.5),
        one_p99: secs(0.99),
        many_rate: many.throughput().unwrap_or(0.0),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(bin: &Path, args: &TelemetryOverheadArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let load_before = procfs::load_average();
    let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
    for round in 0..args.rounds {
        for k in 0..2 {
            let on = (round + k) % 2 == 0;
            eprintln!(
                "telemetry-overhead: round {}/{}: telemetry {}",
                round + 1,
                args.rounds,
                if on { "on" } else { "off" }
            );
            let r = rt.block_on(measure(bin, on, args))?;
            rounds[usize::from(!on)].push(r);
        }
    }
    let med = |i: usize, f: Measure| median(rounds[i].iter().map(f).collect());
    let rows: [(&str, Measure, bool); 4] = [
        ("V2 infer, 1 connection: throughput", |r| r.one_rate, true),
        ("V2 infer, 1 connection: p50", |r| r.one_p50, false),
        ("V2 infer, 1 connection: p99", |r| r.one_p99, false),
        ("V2 infer, 16 connections: throughput", |r| r.many_rate, true),
    ];
    let mut doc = format!(
        "## Serving telemetry overhead: --monitor on against off\n\n{} cores; medians of {} rounds (alternating, a \
         fresh server each; window {}); load average before/after {} / {}.\n\n\
         | metric | telemetry off | telemetry on | on / off |\n|---|---|---|---|\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.rounds,
        args.window,
        load_before,
        procfs::load_average(),
    );
    let mut low = Vec::new();
    for (name, f, rate) in rows {
        let (on, off) = (med(0, f), med(1, f));
        let show = |x: f64| if rate { format!("{x:.0}/s") } else { fmt_time(x) };
        let ratio = if rate && off > 0.0 {
            on / off * 100.0
        } else if on > 0.0 {
            off / on * 100.0
        } else {
            0.0
        };
        doc.push_str(&format!("| {name} | {} | {} | {ratio:.1} % |\n", show(off), show(on)));
        if rate && ratio < args.min_ratio {
            low.push(format!("{name}: {ratio:.1} %"));
        }
    }
    println!("{doc}");
    if !low.is_empty() {
        anyhow::bail!("telemetry costs more than allowed: {}", low.join("; "));
    }
    Ok(())
}
