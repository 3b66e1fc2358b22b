//! `flotilla-bench pair-write-cost`: what the metric-pair triggers
//! (migration 17) add to a `log-batch`, without HTTP. Three stores side by
//! side, each with one run: a run no version was registered from (the
//! baseline: its metrics reach no version table), a run registered as a
//! version that the alias `champion` points at with the pair triggers
//! dropped (the store before the pairs), and the same with them (as shipped).
//! Each round logs one batch of `n` fresh metric values to every store, in
//! rotating order; the table gives the median over the rounds of the time
//! per batch, for each batch size.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use flotilla_store::query::{NewModelVersion, NewRun};
use flotilla_store::sqlite::SqliteStore;
use flotilla_store::{ExperimentStore, RegistryStore, RunStore};

/// `flotilla-bench pair-write-cost`.
#[derive(clap::Args, Debug)]
pub struct PairWriteCostArgs {
    /// Batches of each size per variant.
    #[arg(long, default_value_t = 300)]
    rounds: usize,
    /// Metrics per batch (repeatable).
    #[arg(long = "metrics", default_values_t = [10usize, 100])]
    batch_sizes: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Variant {
    NoVersion,
    VersionWithoutPairs,
    VersionWithPairs,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::NoVersion, Variant::VersionWithoutPairs, Variant::VersionWithPairs];

    fn label(self) -> &'static str {
        match self {
            Variant::NoVersion => "run with no registered version",
            Variant::VersionWithoutPairs => "aliased version, pair triggers dropped (before pairs)",
            Variant::VersionWithPairs => "aliased version, pair triggers (as shipped)",
        }
    }
}

/// The triggers migration 17 adds; dropping them gives back the store's
/// write path as it was before the pairs (their tables stay, unwritten).
const PAIR_TRIGGERS: [&str; 8] = [
    "alias_metric_pairs_insert",
    "alias_metric_pairs_overflow",
    "alias_metric_pairs_delete",
    "alias_metric_pairs_update",
    "version_metric_pairs_insert",
    "version_metric_pairs_overflow",
    "version_metric_pairs_delete",
    "version_metric_pairs_update",
];

struct Subject {
    store: SqliteStore,
    run_id: String,
}

fn subject(dir: &Path, variant: Variant) -> Result<Subject> {
    let path = dir.join(format!("{variant:?}.db"));
    let store = SqliteStore::open(&path)?;
    if let Variant::VersionWithoutPairs = variant {
        let conn = rusqlite::Connection::open(&path)?;
        for t in PAIR_TRIGGERS {
            conn.execute_batch(&format!("DROP TRIGGER {t}"))?;
        }
    }
    let experiment_id = store.create_experiment("pair-write-cost", None, &[])?;
    let run = store.create_run(&NewRun {
        experiment_id,
        user_id: "bench".into(),
        run_name: Some("trainer".into()),
        start_time: Some(0),
        tags: Vec::new(),
    })?;
    let run_id = run.info.run_id.clone();
    match variant {
        Variant::NoVersion => {}
        Variant::VersionWithoutPairs | Variant::VersionWithPairs => {
            store.create_registered_model("bench-model", &[], None)?;
            let v = store.create_model_version(&NewModelVersion {
                name: "bench-model".into(),
                source: format!("runs:/{run_id}/model"),
                run_id: Some(run_id.clone()),
                run_link: None,
                model_id: None,
                description: None,
                tags: Vec::new(),
            })?;
            store.set_alias("bench-model", "champion", &v.version.to_string())?;
        }
    }
    Ok(Subject { store, run_id })
}

/// Seconds for one log-batch of `n` metrics at `step`.
fn batch(s: &Subject, n: usize, step: i64) -> Result<f64> {
    let metrics: Vec<flotilla_core::model::Metric> = (0..n)
        .map(|i| flotilla_core::model::Metric {
            key: format!("metric_{i:03}"),
            // Values that move between buckets, as training curves do.
            value: 1.0 + ((step as f64) * 0.37 + i as f64).sin().abs() * 4.0,
            timestamp: step,
            step,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
            run_id: None,
        })
        .collect();
    let started = Instant::now();
    s.store.log_batch(&s.run_id, &metrics, &[], &[])?;
    Ok(started.elapsed().as_secs_f64())
}

pub fn run(args: &PairWriteCostArgs) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("flotilla-pair-write-cost-").tempdir()?;
    let subjects: Vec<Subject> = Variant::ALL.iter().map(|v| subject(dir.path(), *v)).collect::<Result<_>>()?;
    println!(
        "## Write cost of the metric pairs per log-batch ({} rounds per size and variant, one thread, load average {})\n\n\
         | metrics per batch | variant | median per batch | against the row above |\n|---|---|---|---|",
        args.rounds,
        flotilla_testkit::procfs::load_average()
    );
    let mut step = 0;
    for &n in &args.batch_sizes {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); Variant::ALL.len()];
        for round in 0..args.rounds {
            step += 1;
            for k in 0..Variant::ALL.len() {
                let v = (round + k) % Variant::ALL.len();
                times[v].push(batch(&subjects[v], n, step)?);
            }
        }
        let medians: Vec<f64> = times
            .iter_mut()
            .map(|t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            })
            .collect();
        for (i, v) in Variant::ALL.iter().enumerate() {
            let against =
                if i == 0 { "–".to_string() } else { format!("{:+.0} µs", (medians[i] - medians[i - 1]) * 1e6) };
            println!("| {n} | {} | {:.0} µs | {against} |", v.label(), medians[i] * 1e6);
        }
    }
    Ok(())
}
