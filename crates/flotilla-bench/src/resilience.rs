//! `flotilla-bench load` and `flotilla-bench crash`: the test kit's load run and kill -9
//! trials at full size against a (release) binary, printing what they measured.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use flotilla_testkit::crash::{self, CrashPlan};
use flotilla_testkit::load::{self, LoadPlan};
use flotilla_testkit::{Options, Process, basic, procfs};

const ADMIN_PASSWORD: &str = "bench-admin-password";

/// `flotilla-bench load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Concurrent keep-alive clients.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// How long they send, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Registered models the clients share for version creates and alias moves.
    #[arg(long, default_value_t = 20)]
    models: usize,
}

/// `flotilla-bench crash`.
#[derive(clap::Args, Debug)]
pub struct CrashArgs {
    /// Kills and restarts.
    #[arg(long, default_value_t = 50)]
    trials: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// The kill comes between these many milliseconds after ingest starts (drawn uniformly).
    #[arg(long, default_value_t = 200)]
    kill_min_ms: u64,
    #[arg(long, default_value_t = 4000)]
    kill_max_ms: u64,
    #[arg(long, default_value_t = 13)]
    seed: u64,
}

/// Runs `work` on a multi-threaded runtime until it ends or an interrupt or SIGTERM arrives;
/// then it is dropped, and with it the servers it started (which stops their process groups).
fn run_until_signal<T>(work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = work => result,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("stopped by interrupt; servers stopped"),
            _ = term.recv() => anyhow::bail!("stopped by terminate signal; servers stopped"),
        }
    })
}

/// Starts flotilla with `--auth basic`, makes a token, and runs the load with it.
pub fn load(bin: &Path, args: &LoadArgs) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("flotilla-load-").tempdir()?;
    let options = Options::new(bin)
        .env("FLOTILLA_AUTH", "basic")
        .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .own_group(true)
        .start_limit(Duration::from_secs(60));
    let server = Process::start(options.launch(&dir.path().join("data"), dir.path())).context("starting flotilla")?;
    let max_connections = server.log_text().lines().find_map(|l| {
        l.contains("flotilla is listening")
            .then(|| l.split("max_connections=").nth(1)?.split_whitespace().next().map(str::to_owned))?
    });
    let open_files = server.log_text().lines().find(|l| l.contains("open-file limit")).map(str::to_owned);
    eprintln!(
        "load: flotilla pid {} max_connections {} ({}); {} clients for {} s",
        server.pid(),
        max_connections.as_deref().unwrap_or("?"),
        open_files.as_deref().unwrap_or("open-file limit not logged").trim(),
        args.clients,
        args.seconds
    );
    let plan = LoadPlan {
        clients: args.clients,
        duration: Duration::from_secs(args.seconds),
        models: args.models,
        mix: load::Mix::Mixed,
    };
    let load_before = procfs::load_average();
    let report = run_until_signal(async {
        let token =
            load::create_token(server.addr, &basic("admin", ADMIN_PASSWORD)).await.map_err(anyhow::Error::msg)?;
        load::run(server.addr, server.pid(), Some(&format!("Bearer {token}")), &plan).await.map_err(anyhow::Error::msg)
    })?;
    println!(
        "## Load: {} keep-alive clients, `--auth basic`, Bearer token\n\n{} cores, load average before/after {} / {}\n\n{}",
        args.clients,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        procfs::load_average(),
        report.markdown()
    );
    // More connections than clients is no failure by itself: the server closes a connection
    // politely (`Connection: close`) after --max-requests-per-connection answers.
    if report.errors > 0 {
        anyhow::bail!("{} errors", report.errors);
    }
    Ok(())
}

/// Runs the kill -9 trials.
pub fn crash(bin: &Path, args: &CrashArgs) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("flotilla-crash-").tempdir()?;
    let plan = CrashPlan {
        trials: args.trials,
        writers: args.writers,
        kill_after: (
            Duration::from_millis(args.kill_min_ms),
            Duration::from_millis(args.kill_max_ms.max(args.kill_min_ms + 1)),
        ),
        seed: args.seed,
    };
    let options = Options::new(bin).own_group(true).start_limit(Duration::from_secs(120));
    let report = run_until_signal(async {
        crash::run(&options, dir.path(), &plan, |line| eprintln!("crash: {line}")).await.map_err(anyhow::Error::msg)
    })?;
    println!("## Crash: kill -9 during mixed ingest\n\n{}", report.summary());
    if !report.failures.is_empty() {
        anyhow::bail!("{} failures", report.failures.len());
    }
    Ok(())
}
