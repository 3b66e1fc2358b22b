//! `flotilla-bench group-commit`: concurrent writers (registered-model creates, 100-point
//! log-batches, version creates and alias moves, auth off) at 8, 64 and 256 clients against
//! flotilla with group commit (`--write-group 64`, the default) and without (`--write-group 1`:
//! every write commits alone), rounds alternating the two on fresh data directories. Prints
//! per client count and mode: requests/s, creates/s, metric points/s, p50, p99 and p99/p50 per
//! write, and the ratio grouped / alone.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use flotilla_testkit::load::{self, LoadPlan, LoadReport, Mix, Op};
use flotilla_testkit::{Options, Process, procfs};

/// `flotilla-bench group-commit`.
#[derive(clap::Args, Debug)]
pub struct GroupCommitArgs {
    /// Concurrent clients, one measure per count.
    #[arg(long, value_delimiter = ',', default_values_t = [8usize, 64, 256])]
    clients: Vec<usize>,
    /// Seconds each round sends.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds of each mode per client count (medians are taken over them).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

struct Round {
    requests: f64,
    creates: f64,
    points: f64,
    /// (op, p50 ms, p99 ms) of the writes the table shows
    latencies: Vec<(Op, f64, f64)>,
}

fn measure(bin: &Path, clients: usize, group: usize, args: &GroupCommitArgs) -> Result<Round> {
    let dir = tempfile::Builder::new().prefix("flotilla-group-").tempdir()?;
    let options = Options::new(bin)
        .own_group(true)
        .start_limit(Duration::from_secs(60))
        .env("FLOTILLA_WRITE_GROUP", group.to_string());
    let server = Process::start(options.launch(&dir.path().join("data"), dir.path())).context("starting flotilla")?;
    let plan = LoadPlan { clients, duration: Duration::from_secs(args.seconds), models: 8, mix: Mix::Writes };
    let report: LoadReport = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(load::run(server.addr, server.pid(), None, &plan))
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(report.errors == 0, "{} errors: {:?}", report.errors, report.first_errors);
    let secs = report.wall.as_secs_f64();
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    let latencies = [Op::CreateModel, Op::LogBatch, Op::SetAlias]
        .into_iter()
        .map(|op| {
            let lat = report.latencies_of(op);
            (op, ms(load::percentile(lat, 0.5)), ms(load::percentile(lat, 0.99)))
        })
        .collect();
    Ok(Round {
        requests: report.throughput(),
        creates: report.latencies_of(Op::CreateModel).len() as f64 / secs,
        points: (report.latencies_of(Op::LogBatch).len() * Mix::Writes.metrics_per_batch()) as f64 / secs,
        latencies,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

/// Runs the bench and prints its table.
pub fn run(bin: &Path, args: &GroupCommitArgs) -> Result<()> {
    let load_before = procfs::load_average();
    let mut out = format!(
        "## Group commit: writers at {:?} clients, {} s per round, {} rounds per mode (medians)\n\n\
         Mix per client: registered-model create, log-batch of 100 points, version create, alias move, \
         log-batch. Auth off; fresh data directory per round.\n\n\
         | clients | write group | requests/s | creates/s | points/s | create p50 / p99 (p99/p50) | \
         log-batch p50 / p99 (p99/p50) | alias p50 / p99 (p99/p50) |\n|---|---|---|---|---|---|---|---|\n",
        args.clients, args.seconds, args.rounds
    );
    for &clients in &args.clients {
        let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
        for r in 0..args.rounds {
            // Alternate which mode goes first, so drift in the machine's load hits both.
            let order: [usize; 2] = if r % 2 == 0 { [64, 1] } else { [1, 64] };
            for group in order {
                let round = measure(bin, clients, group, args)?;
                eprintln!(
                    "group-commit: {clients} clients, write group {group}: {:.0} req/s, {:.0} creates/s",
                    round.requests, round.creates
                );
                rounds[usize::from(group == 1)].push(round);
            }
        }
        let mut rates = Vec::new();
        for (mode, group) in [(0, 64), (1, 1)] {
            let rs = &rounds[mode];
            let req = median(rs.iter().map(|r| r.requests).collect());
            rates.push(req);
            let lat = |op: Op| {
                let p50 =
                    median(rs.iter().filter_map(|r| r.latencies.iter().find(|l| l.0 == op)).map(|l| l.1).collect());
                let p99 =
                    median(rs.iter().filter_map(|r| r.latencies.iter().find(|l| l.0 == op)).map(|l| l.2).collect());
                format!("{p50:.2} / {p99:.2} ms ({:.1}×)", p99 / p50)
            };
            out.push_str(&format!(
                "| {clients} | {group} | {req:.0} | {:.0} | {:.0} | {} | {} | {} |\n",
                median(rs.iter().map(|r| r.creates).collect()),
                median(rs.iter().map(|r| r.points).collect()),
                lat(Op::CreateModel),
                lat(Op::LogBatch),
                lat(Op::SetAlias),
            ));
        }
        out.push_str(&format!("| {clients} | grouped / alone | {:.2}× | | | | | |\n", rates[0] / rates[1]));
    }
    out.push_str(&format!(
        "\n{} cores; load average before {}, after {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        procfs::load_average()
    ));
    println!("{out}");
    Ok(())
}
