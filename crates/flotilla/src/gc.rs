//! `flotilla gc`: purges deleted runs and experiments for good, with their
//! artifacts, as `mlflow gc` does (`--older-than`, `--experiment-ids`,
//! `--run-ids`), with a `--dry-run` that lists what would go.
//!
//! Rows go first, in one transaction, then the files: a failure between the
//! two leaves files without rows (listed, to remove by hand), never a row
//! without its files. Whatever a registered model version was made from is
//! kept and listed (see `flotilla_store::gc`). Works on the embedded store
//! of `--data-dir` or on PostgreSQL (`--database`), with the artifact store
//! the server uses (`--artifacts`: a directory or an `s3://` URL).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use flotilla_artifacts::{ArtifactError, ArtifactPath, ArtifactStore, SourceUri, parse_source_uri};
use flotilla_store::gc::{GcPlan, GcQuery, GcStore};
use flotilla_store::{PgStore, SqliteStore};
use serde_json::json;

#[derive(Args, Debug)]
pub struct GcArgs {
    /// The data directory whose store to clean (as `flotilla server --data-dir`).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value = "./flotilla-data")]
    data_dir: PathBuf,
    /// The PostgreSQL database to clean instead (as `flotilla server --database`).
    #[arg(long = "database", env = "FLOTILLA_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the artifacts are (as `flotilla server --artifacts`): a directory or
    /// an `s3://bucket/prefix` URL; default `artifacts/` in the data directory.
    #[arg(long, env = "FLOTILLA_ARTIFACTS")]
    artifacts: Option<String>,
    /// Only what was deleted at least this long ago (`30d`, `12h`, ...).
    #[arg(long, value_parser = crate::config::parse_duration)]
    older_than: Option<Duration>,
    /// Only these deleted experiments (comma-separated ids), with their runs.
    #[arg(long, value_delimiter = ',')]
    experiment_ids: Vec<String>,
    /// Only these deleted runs (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    run_ids: Vec<String>,
    /// List what would be purged; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: GcArgs) -> anyhow::Result<()> {
    let store: Box<dyn GcStore> = match args.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => Box::new(PgStore::connect(url).context("connecting to the PostgreSQL database (--database)")?),
        None => {
            let db = crate::config::database_path(&args.data_dir);
            anyhow::ensure!(db.exists(), "no store at {}", db.display());
            Box::new(SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?)
        }
    };
    let location = crate::config::ArtifactsLocation::parse(args.artifacts.as_deref(), &args.data_dir)?;
    let deleted_before_ms = match args.older_than {
        None => None,
        Some(age) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
            Some(now.saturating_sub(age).as_millis() as i64)
        }
    };
    let query = GcQuery { deleted_before_ms, experiment_ids: args.experiment_ids, run_ids: args.run_ids };
    let plan = store.gc_plan(&query)?;
    if args.dry_run || plan.is_empty() {
        print(&plan, &[], args.dry_run, args.json)?;
        return Ok(());
    }
    let purged = store.gc_purge(&plan)?;
    // Read before the runtime starts: PostgreSQL's synchronous client must not block inside it.
    let remaining = remaining_locations(store.as_ref())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let failed = runtime.block_on(async {
        let artifacts: Arc<dyn ArtifactStore> = crate::artifact_store::open(&location).await?;
        remove_artifacts(artifacts.as_ref(), &remaining, &purged).await
    })?;
    print(&purged, &failed, false, args.json)?;
    anyhow::ensure!(failed.is_empty(), "{} artifact directories could not be removed (listed above)", failed.len());
    Ok(())
}

/// Removes the purged runs' and experiments' artifact directories (an
/// experiment's only if none of the `remaining` locations overlaps it); answers
/// the ones that failed (already missing counts as removed).
async fn remove_artifacts(
    artifacts: &dyn ArtifactStore,
    remaining: &[ArtifactPath],
    purged: &GcPlan,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut doomed: Vec<ArtifactPath> = Vec::new();
    // An experiment's location goes whole unless a remaining experiment's
    // location is the same, inside it or around it.
    for e in &purged.experiments {
        if let Some(root) = artifacts_path(&e.artifact_location)
            && !remaining.iter().any(|other| other.starts_with(&root) || root.starts_with(other))
        {
            doomed.push(root);
        }
    }
    for run in &purged.runs {
        if let Some(path) = artifacts_path(&run.artifact_uri) {
            // `<location>/<run id>/artifacts`: the run's whole directory.
            let dir = match path.parent() {
                Some(parent) if path.file_name() == Some("artifacts") && parent.file_name() == Some(&run.run_id) => {
                    parent
                }
                _ => path,
            };
            doomed.push(dir);
        }
    }
    for m in &purged.logged_models {
        if let Some(path) = artifacts_path(&m.artifact_uri) {
            doomed.push(path.parent().filter(|p| p.file_name() == Some(&m.model_id)).unwrap_or(path));
        }
    }
    // Inside a directory already going: nothing more to do.
    doomed.sort_by_key(|p| p.as_str().len());
    let mut failed = Vec::new();
    let mut gone: Vec<ArtifactPath> = Vec::new();
    for path in doomed {
        if path.is_root() || gone.iter().any(|g| path.starts_with(g)) {
            continue;
        }
        match artifacts.delete(&path).await {
            Ok(()) | Err(ArtifactError::NotFound(_)) => gone.push(path),
            Err(e) => failed.push((path.as_str().to_string(), e.to_string())),
        }
    }
    Ok(failed)
}

fn remaining_locations(store: &dyn GcStore) -> anyhow::Result<Vec<ArtifactPath>> {
    Ok(store.experiment_locations()?.iter().filter_map(|l| artifacts_path(l)).collect())
}

/// The stored path an `mlflow-artifacts:/` URI names (others are not ours to delete).
fn artifacts_path(uri: &str) -> Option<ArtifactPath> {
    match parse_source_uri(uri).ok()? {
        SourceUri::Artifacts(path) => Some(path),
        SourceUri::Run { .. } | SourceUri::LoggedModel { .. } | SourceUri::RegisteredModel { .. } => None,
    }
}

fn print(plan: &GcPlan, failed: &[(String, String)], dry_run: bool, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let answer = json!({
            "dry_run": dry_run,
            "experiments": plan.experiments.iter().map(|e| json!({"experiment_id": e.experiment_id, "name": e.name})).collect::<Vec<_>>(),
            "runs": plan.runs.iter().map(|r| json!({"run_id": r.run_id, "experiment_id": r.experiment_id})).collect::<Vec<_>>(),
            "logged_models": plan.logged_models.iter().map(|m| &m.model_id).collect::<Vec<_>>(),
            "kept": plan.kept.iter().map(|k| json!({"kind": k.kind, "id": k.id, "reason": k.reason})).collect::<Vec<_>>(),
            "artifacts_not_removed": failed.iter().map(|(p, e)| json!({"path": p, "error": e})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let verb = if dry_run { "would purge" } else { "purged" };
    println!("{verb} {} experiments and {} runs", plan.experiments.len(), plan.runs.len());
    for e in &plan.experiments {
        println!("  experiment {} ({})", e.experiment_id, e.name);
    }
    for r in &plan.runs {
        println!("  run {} (experiment {})", r.run_id, r.experiment_id);
    }
    for k in &plan.kept {
        println!("kept {} {}: {}", k.kind, k.id, k.reason);
    }
    for (path, error) in failed {
        println!("artifacts not removed: {path}: {error}");
    }
    Ok(())
}
