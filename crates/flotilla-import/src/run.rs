//! The import, kind by kind in dependency order (experiments, runs with
//! their history, logged models, registered models, versions, aliases),
//! then family rules and artifacts, tallied into the [`Report`].

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use flotilla_core::model::Experiment;
use flotilla_store::import::{ImportStore, ImportedLoggedModel, Outcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::families::FamilyRule;
use crate::report::Report;
use crate::source::{Source, SourceUri};
use crate::uris::{self, Location};
use crate::{ImportResult, artifacts, families};

/// Runs per write transaction: big enough to amortise the commit, small
/// enough that a resumed import redoes little.
const RUNS_PER_BATCH: usize = 100;
/// Other entities per write transaction.
const ENTITIES_PER_BATCH: usize = 500;
/// The dry run's estimate of the metadata rate (points and rows per second),
/// from the test-sized measurement in docs/benchmarks/import.md.
const ESTIMATED_POINTS_PER_SECOND: f64 = 150_000.0;
const ESTIMATED_ROWS_PER_SECOND: f64 = 5_000.0;

/// A store an import writes into: SQLite or PostgreSQL.
pub trait Destination: ImportStore + flotilla_store::FamilyStore {}

impl<T: ImportStore + flotilla_store::FamilyStore> Destination for T {}

/// What to import and how (the CLI's flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub from: String,
    pub artifacts_from: Option<PathBuf>,
    /// The destination's local artifact directory.
    pub artifacts_to: Option<PathBuf>,
    pub dry_run: bool,
    pub skip_deleted: bool,
    pub family_rules: Vec<FamilyRule>,
    pub jobs: usize,
    /// Progress bars on stderr (drawn only on a terminal).
    pub progress: bool,
}

fn bar(options: &Options, kind: &str, len: usize) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {per_sec} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(kind.to_string());
    bar
}

/// `uri` without the password it may carry (`postgresql://user:secret@host`).
fn redacted(uri: &str) -> String {
    match (uri.find("://"), uri.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &uri[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &uri[..scheme + 3], &uri[at..]),
                None => uri.to_string(),
            }
        }
        _ => uri.to_string(),
    }
}

/// Imports `options.from` into `store` (no store is needed, and nothing is
/// written, on a dry run).
pub fn import(store: Option<&dyn Destination>, options: &Options) -> ImportResult<Report> {
    import_from(Source::open(&SourceUri::parse(&options.from)?)?, store, options)
}

/// [`import`] from a source already open (the CLI opens it before making
/// the destination, so a bad source leaves no trace).
pub fn import_from(source: Source, store: Option<&dyn Destination>, options: &Options) -> ImportResult<Report> {
    let started = Instant::now();
    let root = options.artifacts_from.as_deref();
    let mut report = Report {
        source: redacted(&options.from),
        schema_revision: source.revision.clone(),
        dry_run: options.dry_run,
        ..Report::default()
    };
    report.not_imported = source.not_imported()?;
    if options.dry_run {
        dry_run(&source, options, &mut report)?;
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    let Some(store) = store else {
        return Err(crate::ImportError::Usage("an import needs a destination store".into()));
    };
    // Experiments: deleted ones skipped on request, with their runs.
    let mut skipped_experiments = HashSet::new();
    let mut experiments = Vec::new();
    for mut e in source.experiments()? {
        report.kind("experiments").source += 1;
        if options.skip_deleted && e.lifecycle_stage == flotilla_core::model::LifecycleStage::Deleted {
            report.kind("experiments").skipped += 1;
            skipped_experiments.insert(e.experiment_id.clone());
            continue;
        }
        let id = e.experiment_id.clone();
        e.artifact_location = uris::rewrite(&e.artifact_location, root, || format!("mlflow-artifacts:/{id}"));
        experiments.push(e);
    }
    let progress = bar(options, "experiments", experiments.len());
    for chunk in experiments.chunks(ENTITIES_PER_BATCH) {
        for (e, outcome) in chunk.iter().zip(store.import_experiments(chunk)?) {
            report.record("experiments", &e.experiment_id, &outcome);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    let imported_runs = import_runs(store, &source, options, &skipped_experiments, &mut report)?;
    let logged_models = import_logged_models(store, &source, options, &skipped_experiments, &mut report)?;
    let expected = registry(store, &source, options, &imported_runs, &logged_models, &mut report)?;
    if !options.family_rules.is_empty() {
        families::apply(store, &source.registered_models()?, &options.family_rules, &mut report)?;
    }
    let run_ids: HashSet<String> = imported_runs.into_keys().collect();
    artifacts::copy(&experiments, &run_ids, &logged_models, &expected, options, &mut report)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The runs imported (or already there): their ids and artifact locations.
fn import_runs(
    store: &dyn Destination,
    source: &Source,
    options: &Options,
    skipped_experiments: &HashSet<String>,
    report: &mut Report,
) -> ImportResult<HashMap<String, String>> {
    let root = options.artifacts_from.as_deref();
    let ids = source.run_ids()?;
    report.kind("runs").source = ids.len() as u64;
    let wanted: Vec<String> =
        ids.into_iter().filter_map(|(id, deleted)| (!(options.skip_deleted && deleted)).then_some(id)).collect();
    let progress = bar(options, "runs", wanted.len());
    let mut present = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(RUNS_PER_BATCH) {
        let mut runs = source.runs(chunk)?;
        runs.retain(|r| !skipped_experiments.contains(&r.run.info.experiment_id));
        for r in &mut runs {
            let info = &mut r.run.info;
            let (experiment, run) = (info.experiment_id.clone(), info.run_id.clone());
            info.artifact_uri =
                uris::rewrite(&info.artifact_uri, root, || format!("mlflow-artifacts:/{experiment}/{run}/artifacts"));
        }
        let outcomes = store.import_runs(&runs)?;
        for (r, outcome) in runs.iter().zip(outcomes) {
            let points = r.history.len() as u64;
            let data = &r.run.data;
            report.record("runs", &r.run.info.run_id, &outcome.outcome);
            let same = matches!(outcome.outcome, Outcome::Inserted | Outcome::Unchanged);
            for (kind, n) in [
                ("params", data.params.len() as u64),
                ("run_tags", data.tags.len() as u64),
                ("run_dataset_inputs", r.run.inputs.dataset_inputs.len() as u64),
            ] {
                let counts = report.kind(kind);
                counts.source += n;
                // A conflicting run's children are in conflict with it: the destination keeps its own.
                match outcome.outcome {
                    Outcome::Inserted => {
                        (counts.destination, counts.inserted) = (counts.destination + n, counts.inserted + n)
                    }
                    Outcome::Unchanged => {
                        (counts.destination, counts.unchanged) = (counts.destination + n, counts.unchanged + n)
                    }
                    Outcome::Conflict(_) => counts.conflicts += n,
                }
            }
            let counts = report.kind("metric_points");
            counts.source += points;
            match outcome.outcome {
                Outcome::Inserted => {
                    (counts.destination, counts.inserted) = (counts.destination + points, counts.inserted + points)
                }
                Outcome::Unchanged => {
                    (counts.destination, counts.unchanged) = (counts.destination + points, counts.unchanged + points)
                }
                Outcome::Conflict(_) => counts.conflicts += points,
            }
            if same {
                present.insert(r.run.info.run_id.clone(), r.run.info.artifact_uri.clone());
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    // Runs left out, and the points they hold, count as skipped.
    let skipped = report.kind("runs").source - report.kind("runs").destination - report.kind("runs").conflicts;
    report.kind("runs").skipped = skipped;
    if skipped > 0 {
        report.notes.push(format!("{skipped} deleted runs left out (--skip-deleted)"));
    }
    let total_points = source.metric_points()?;
    let counts = report.kind("metric_points");
    counts.skipped = total_points - counts.source;
    counts.source = total_points;
    Ok(present)
}

fn import_logged_models(
    store: &dyn Destination,
    source: &Source,
    options: &Options,
    skipped_experiments: &HashSet<String>,
    report: &mut Report,
) -> ImportResult<Vec<ImportedLoggedModel>> {
    let root = options.artifacts_from.as_deref();
    let mut models = source.logged_models()?;
    report.kind("logged_models").source = models.len() as u64;
    let before = models.len();
    models
        .retain(|m| !(skipped_experiments.contains(&m.model.info.experiment_id) || options.skip_deleted && m.deleted));
    report.kind("logged_models").skipped = (before - models.len()) as u64;
    for m in &mut models {
        let info = &mut m.model.info;
        let (experiment, id) = (info.experiment_id.clone(), info.model_id.clone());
        info.artifact_uri =
            uris::rewrite(&info.artifact_uri, root, || format!("mlflow-artifacts:/{experiment}/models/{id}/artifacts"));
    }
    let progress = bar(options, "logged models", models.len());
    for chunk in models.chunks(ENTITIES_PER_BATCH) {
        for (m, outcome) in chunk.iter().zip(store.import_logged_models(chunk)?) {
            report.record("logged_models", &m.model.info.model_id, &outcome);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    Ok(models)
}

/// Registered models, versions (sources rewritten, run links kept even to
/// runs not imported) and aliases; answers the artifact path each version
/// needs, labelled, for the artifact check.
fn registry(
    store: &dyn Destination,
    source: &Source,
    options: &Options,
    imported_runs: &HashMap<String, String>,
    logged_models: &[ImportedLoggedModel],
    report: &mut Report,
) -> ImportResult<Vec<(String, String)>> {
    let root = options.artifacts_from.as_deref();
    let models = source.registered_models()?;
    report.kind("registered_models").source = models.len() as u64;
    let progress = bar(options, "registered models", models.len());
    for chunk in models.chunks(ENTITIES_PER_BATCH) {
        for (m, outcome) in chunk.iter().zip(store.import_registered_models(chunk)?) {
            report.record("registered_models", &m.name, &outcome);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    let mut versions = source.model_versions()?;
    report.kind("model_versions").source = versions.len() as u64;
    for v in &mut versions {
        if let Location::Foreign(uri) = uris::classify(&v.source, root) {
            report.notes.push(format!(
                "model version {}/{}: source {uri} is outside the artifact root; kept as it is",
                v.name, v.version
            ));
        }
        v.source = uris::rewrite(&v.source, root, || v.source.clone());
        if let Some(run_id) = &v.run_id
            && !imported_runs.contains_key(run_id)
        {
            report.notes.push(format!(
                "model version {}/{}: its run {run_id} was not imported (deleted and skipped, or gone); the link is kept",
                v.name, v.version
            ));
        }
    }
    let stored = |uri: &str| match uris::classify(uri, root) {
        Location::Stored(path) => Some(path),
        Location::Reference(_) | Location::Foreign(_) => None,
    };
    let mut expected = Vec::new();
    for v in &versions {
        let path = if let Some(model_id) = v.source.strip_prefix("models:/").filter(|m| m.starts_with("m-")) {
            logged_models
                .iter()
                .find(|m| m.model.info.model_id == model_id)
                .and_then(|m| stored(&m.model.info.artifact_uri))
        } else if let Some(rest) = v.source.strip_prefix("runs:/") {
            let (run, within) = rest.split_once('/').unwrap_or((rest, ""));
            imported_runs.get(run).and_then(|uri| stored(uri)).map(|p| format!("{p}/{within}"))
        } else {
            stored(&v.source)
        };
        if let Some(path) = path {
            expected.push((format!("model version {}/{}", v.name, v.version), path.trim_end_matches('/').to_string()));
        }
    }
    let progress = bar(options, "model versions", versions.len());
    for chunk in versions.chunks(ENTITIES_PER_BATCH) {
        for (v, outcome) in chunk.iter().zip(store.import_model_versions(chunk)?) {
            report.record("model_versions", format!("{}/{}", v.name, v.version), &outcome);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    let deleted = source.deleted_versions()?;
    if !deleted.is_empty() {
        let count: u64 = deleted.iter().map(|(_, n, _)| n).sum();
        report.not_imported.insert("model_versions (deleted in MLflow, kept there redacted)".into(), count);
        let highest: Vec<_> = deleted.into_iter().map(|(model, _, highest)| (model, highest)).collect();
        store.reserve_versions(&highest)?;
        report.notes.push("the numbers of deleted model versions stay reserved: new versions follow them".into());
    }
    let aliases = source.aliases()?;
    report.kind("aliases").source = aliases.len() as u64;
    for chunk in aliases.chunks(ENTITIES_PER_BATCH) {
        for (a, outcome) in chunk.iter().zip(store.import_aliases(chunk)?) {
            report.record("aliases", format!("{}@{}", a.model, a.alias), &outcome);
        }
    }
    Ok(expected)
}

/// Counts everything and estimates the time and bytes; writes nothing.
fn dry_run(source: &Source, options: &Options, report: &mut Report) -> ImportResult<()> {
    let experiments: Vec<Experiment> = source.experiments()?;
    let runs = source.run_ids()?;
    let points = source.metric_points()?;
    let skip = |deleted: bool| options.skip_deleted && deleted;
    let deleted_experiments =
        experiments.iter().filter(|e| e.lifecycle_stage == flotilla_core::model::LifecycleStage::Deleted).count()
            as u64;
    report.kind("experiments").source = experiments.len() as u64;
    report.kind("experiments").skipped = if options.skip_deleted { deleted_experiments } else { 0 };
    report.kind("runs").source = runs.len() as u64;
    report.kind("runs").skipped = runs.iter().filter(|(_, deleted)| skip(*deleted)).count() as u64;
    report.kind("metric_points").source = points;
    report.kind("logged_models").source = source.logged_models()?.len() as u64;
    report.kind("registered_models").source = source.registered_models()?.len() as u64;
    report.kind("model_versions").source = source.model_versions()?.len() as u64;
    report.kind("aliases").source = source.aliases()?.len() as u64;
    let rows: u64 = report.kinds.values().map(|c| c.source).sum::<u64>() - points;
    report.estimated_seconds =
        Some(points as f64 / ESTIMATED_POINTS_PER_SECOND + rows as f64 / ESTIMATED_ROWS_PER_SECOND);
    if let Some(root) = &options.artifacts_from {
        let (files, bytes) = artifacts::tree_size(root);
        report.artifacts.source_files = files;
        report.artifacts.source_bytes = bytes;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_the_report() {
        assert_eq!(super::redacted("postgresql://ana:s3cret@db/mlflow"), "postgresql://ana:***@db/mlflow");
        assert_eq!(super::redacted("postgresql://ana@/db?host=/s"), "postgresql://ana@/db?host=/s");
    }
}
