//! The kill -9 trials: writers ingest at full speed (log-batch, model version creates, alias
//! moves, artifact uploads through the artifact proxy) while the server is killed with
//! SIGKILL at a random moment; it is restarted on the same data directory and every write it
//! acknowledged, in this trial or any before, is read back (artifacts: this trial's, and all
//! of them after the last restart); what was in flight must be whole
//! or absent; `PRAGMA integrity_check` must say `ok`; and nothing may be left in the data
//! directory but the database, its WAL and shared memory, and the artifacts.

mod ledger;
mod verify;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::json;
use tokio::task::JoinSet;

use self::ledger::{API, Ledger, Writer, model_of, splitmix};
use crate::client::Client;
use crate::{Options, Process};

/// How many trials, how many writers, how long they ingest before the kill.
#[derive(Debug, Clone)]
pub struct CrashPlan {
    pub trials: usize,
    pub writers: usize,
    /// The kill comes at a moment drawn uniformly from this range after ingest starts.
    pub kill_after: (Duration, Duration),
    pub seed: u64,
}

/// What the trials found.
#[derive(Debug, Clone, Default)]
pub struct CrashReport {
    pub trials: usize,
    pub runs: usize,
    pub metric_points: usize,
    pub batches: usize,
    pub versions: usize,
    pub alias_moves: usize,
    pub artifacts: usize,
    pub artifact_bytes: u64,
    /// Writes in flight at the kills (their answers never came), found whole or absent.
    pub in_flight: usize,
    /// Staged uploads the kills left in the data directory, before the restarts.
    pub staged_left_by_kills: usize,
    /// The slowest restart to a healthy server.
    pub slowest_restart: Duration,
    /// Every lost write, torn file, failed integrity check or orphan: empty when all is well.
    pub failures: Vec<String>,
}

impl CrashReport {
    pub fn summary(&self) -> String {
        format!(
            "{} kill -9 trials: acknowledged and read back after the restarts {} runs, {} metric points in {} \
             log-batches, {} model versions, {} alias moves, {} artifacts ({:.1} MiB); {} writes in flight at \
             the kills found whole or absent; {} staged uploads left by the kills (orphans unless the restart \
             removes them); slowest restart {:.0?}; {} failures{}",
            self.trials,
            self.runs,
            self.metric_points,
            self.batches,
            self.versions,
            self.alias_moves,
            self.artifacts,
            self.artifact_bytes as f64 / (1024.0 * 1024.0),
            self.in_flight,
            self.staged_left_by_kills,
            self.slowest_restart,
            self.failures.len(),
            self.failures.iter().take(10).map(|f| format!("\n- {f}")).collect::<String>(),
        )
    }
}

async fn start(options: &Options, data: &Path, work: &Path) -> Result<Process, String> {
    let launch = options.launch(data, work);
    tokio::task::spawn_blocking(move || Process::start(launch))
        .await
        .map_err(|e| format!("start-up task: {e}"))?
        .map_err(|e| e.to_string())
}

/// Runs the trials with flotilla started from `options`, its data directory and logs in
/// `work`. `progress` hears one line per trial.
pub async fn run(
    options: &Options,
    work: &Path,
    plan: &CrashPlan,
    progress: impl Fn(&str),
) -> Result<CrashReport, String> {
    let data = work.join("data");
    let db = data.join("flotilla.db");
    let mut server = start(options, &data, work).await?;
    let mut c = Client::new(server.addr, None);
    let exp = c.call(Method::POST, &format!("{API}/experiments/create"), &json!({ "name": "crash" })).await?;
    let experiment = exp["experiment_id"].as_str().ok_or_else(|| format!("no experiment_id in {exp}"))?.to_owned();
    for w in 0..plan.writers {
        c.call(Method::POST, &format!("{API}/registered-models/create"), &json!({ "name": model_of(w) })).await?;
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut report = CrashReport::default();
    let mut rng = plan.seed;
    for trial in 0..plan.trials {
        let mut writers = JoinSet::new();
        for index in 0..plan.writers {
            let writer = Writer {
                addr: server.addr,
                experiment: experiment.clone(),
                trial,
                index,
                seed: splitmix(&mut rng),
                ledger: Arc::clone(&ledger),
            };
            writers.spawn(writer.run());
        }
        let (lo, hi) = plan.kill_after;
        let span = hi.saturating_sub(lo).as_micros().max(1) as u64;
        let wait = lo + Duration::from_micros(splitmix(&mut rng) % span);
        tokio::time::sleep(wait).await;
        // A blocking moment (kill and reap) on the runtime's thread: nothing else needs it now.
        let status = server.kill();
        if status.is_some_and(|s| s.success()) {
            report.failures.push(format!("trial {trial}: the server had exited by itself before the kill"));
        }
        while let Some(joined) = writers.join_next().await {
            joined.map_err(|e| format!("a writer task failed: {e}"))?;
        }
        report.staged_left_by_kills += verify::staged(&data);

        let restarted = Instant::now();
        server = start(options, &data, work).await?;
        report.slowest_restart = report.slowest_restart.max(restarted.elapsed());
        let mut c = Client::new(server.addr, None);
        // The writers are gone: the ledger is the checker's alone until the next trial.
        let mut l = std::mem::take(&mut *ledger.lock().expect("ledger"));
        let problems = verify::acknowledged_writes(&mut c, &mut l, trial + 1 == plan.trials).await?;
        report.failures.extend(problems.into_iter().map(|p| format!("trial {trial}: {p}")));
        match verify::integrity(&db) {
            Ok(ok) if ok == "ok" => {}
            Ok(other) => report.failures.push(format!("trial {trial}: integrity_check: {other}")),
            Err(e) => report.failures.push(format!("trial {trial}: {e}")),
        }
        let orphans = verify::orphans(&data, &l);
        report.failures.extend(orphans.iter().map(|p| format!("trial {trial}: orphaned file {}", p.display())));
        progress(&format!(
            "trial {}/{}: killed after {wait:.1?}; {} points, {} versions, {} alias moves, {} artifacts acknowledged so far; \
             {} failures so far",
            trial + 1,
            plan.trials,
            l.metric_points(),
            l.versions.values().map(|v| v.len()).sum::<usize>(),
            l.alias_moves,
            l.artifacts.len(),
            report.failures.len(),
        ));
        *ledger.lock().expect("ledger") = l;
    }
    server.stop();
    let l = ledger.lock().expect("ledger");
    let orphans = verify::orphans(&data, &l);
    report.failures.extend(orphans.iter().map(|p| format!("after the last stop: orphaned file {}", p.display())));
    match verify::integrity(&db) {
        Ok(ok) if ok == "ok" => {}
        Ok(other) => report.failures.push(format!("after the last stop: integrity_check: {other}")),
        Err(e) => report.failures.push(format!("after the last stop: {e}")),
    }
    report.failures.extend(l.bad_answers.iter().cloned());
    report.trials = plan.trials;
    report.runs = l.runs.len();
    report.metric_points = l.metric_points();
    report.batches = l.batches;
    report.versions = l.versions.values().map(|v| v.len()).sum();
    report.alias_moves = l.alias_moves;
    report.artifacts = l.artifacts.len();
    report.artifact_bytes = l.artifact_bytes;
    report.in_flight = l.pending_batches.len() + l.pending_artifacts.len();
    Ok(report)
}
