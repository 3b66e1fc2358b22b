//! Imports from another MLflow store (`flotilla import mlflow`): entities
//! written with the ids, numbers, times and lifecycle they had there, and
//! every derived table kept as the store's own writes keep it.
//!
//! Each entity is written only if absent. One already present is compared
//! with what would be written: identical is [`Outcome::Unchanged`] (a rerun
//! re-imports nothing), different is [`Outcome::Conflict`] naming the
//! fields, and the destination keeps what it had. Nothing is overwritten.
//! A run goes in with its params, tags, inputs and whole metric history in
//! one transaction, so a run present in the destination is a run complete
//! there: the destination's rows are the import's checkpoint.

use flotilla_core::VersionNumber;
use flotilla_core::model::{Experiment, LoggedModel, Metric, ModelVersion, RegisteredModel, Run};
use serde_json::Value;

use crate::error::StoreResult;

/// What became of one entity of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It was absent and is now written.
    Inserted,
    /// It was present and identical: nothing written.
    Unchanged,
    /// It was present with different content (these fields): nothing written.
    Conflict(Vec<String>),
}

/// A run as the source has it: info, params, tags, inputs and outputs
/// (`run.data.metrics` is ignored: the latest values are derived from
/// `history`), with every metric point and the time it was deleted.
#[derive(Debug, Clone)]
pub struct ImportedRun {
    pub run: Run,
    pub deleted_time: Option<i64>,
    pub history: Vec<Metric>,
}

/// A run's outcome and the metric points the destination holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub outcome: Outcome,
    pub points: u64,
}

/// A logged model (3.x) with its lifecycle, which the wire entity lacks.
#[derive(Debug, Clone)]
pub struct ImportedLoggedModel {
    pub model: LoggedModel,
    pub deleted: bool,
}

/// An alias of a registered model.
#[derive(Debug, Clone)]
pub struct ImportedAlias {
    pub model: String,
    pub alias: String,
    pub version: VersionNumber,
}

/// Writes another store's entities with their ids (see the module docs).
/// Each call is one transaction, audited as one event per call, and
/// answers one outcome per item, in order.
pub trait ImportStore: Send + Sync {
    fn import_experiments(&self, items: &[Experiment]) -> StoreResult<Vec<Outcome>>;
    /// Runs whose experiment is in the store, with their whole history.
    fn import_runs(&self, items: &[ImportedRun]) -> StoreResult<Vec<RunOutcome>>;
    fn import_logged_models(&self, items: &[ImportedLoggedModel]) -> StoreResult<Vec<Outcome>>;
    /// Registered models with their tags (their versions and aliases come apart).
    fn import_registered_models(&self, items: &[RegisteredModel]) -> StoreResult<Vec<Outcome>>;
    /// Versions with their numbers, tags and stages; a run link is kept even
    /// when the run is not in the store.
    fn import_model_versions(&self, items: &[ModelVersion]) -> StoreResult<Vec<Outcome>>;
    fn import_aliases(&self, items: &[ImportedAlias]) -> StoreResult<Vec<Outcome>>;
    /// Keeps version numbers the source used and deleted from being given
    /// again: each model's next version follows `highest`.
    fn reserve_versions(&self, highest: &[(String, VersionNumber)]) -> StoreResult<()>;
    /// Files an existing model into `family` (which exists, its levels
    /// starting with the partition's keys) as the member of `partition`.
    fn join_family(&self, model: &str, family: &str, partition: &[(String, String)]) -> StoreResult<Outcome>;
}

/// The fields in which two entities' JSON differ, as dotted paths
/// (`info.status`, `tags`); lists are compared whole.
pub fn differing_fields(want: &Value, have: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_into(want, have, "", &mut out);
    out
}

fn diff_into(want: &Value, have: &Value, at: &str, out: &mut Vec<String>) {
    match (want, have) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                diff_into(a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null), &path, out);
            }
        }
        (a, b) if a != b => out.push(at.to_string()),
        _ => {}
    }
}

/// An experiment as compared: tags in key order.
fn comparable_experiment(e: &Experiment) -> Experiment {
    let mut e = e.clone();
    e.tags.sort_by(|a, b| a.key.cmp(&b.key));
    e
}

/// A run as compared: lists in order, and no latest metrics (derived from
/// the history, whose size is compared apart).
fn comparable_run(run: &Run) -> Run {
    let mut run = run.clone();
    run.data.metrics.clear();
    run.data.params.sort_by(|a, b| a.key.cmp(&b.key));
    run.data.tags.sort_by(|a, b| a.key.cmp(&b.key));
    for input in &mut run.inputs.dataset_inputs {
        input.tags.sort_by(|a, b| a.key.cmp(&b.key));
    }
    run.inputs
        .dataset_inputs
        .sort_by(|a, b| (&a.dataset.name, &a.dataset.digest).cmp(&(&b.dataset.name, &b.dataset.digest)));
    run.inputs.model_inputs.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    run.outputs.model_outputs.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    run
}

/// A logged model as compared: lists in key order.
fn comparable_logged_model(m: &LoggedModel) -> LoggedModel {
    let mut m = m.clone();
    m.info.tags.sort_by(|a, b| a.key.cmp(&b.key));
    m.data.params.sort_by(|a, b| a.key.cmp(&b.key));
    m.data.metrics.sort_by(|a, b| a.key.cmp(&b.key));
    m
}

/// A registered model as compared: its own fields and tags (versions and
/// aliases are compared as entities of their own; the tags a family rule
/// adds are the destination's own).
fn comparable_model(m: &RegisteredModel) -> RegisteredModel {
    let mut m = m.clone();
    m.tags.retain(|t| t.key != flotilla_core::fleet::FAMILY_TAG && t.key != flotilla_core::fleet::PARTITION_TAG);
    m.latest_versions.clear();
    m.aliases.clear();
    m.tags.sort_by(|a, b| a.key.cmp(&b.key));
    m
}

/// A version as compared: tags in key order, aliases apart.
fn comparable_version(v: &ModelVersion) -> ModelVersion {
    let mut v = v.clone();
    v.aliases.clear();
    v.tags.sort_by(|a, b| a.key.cmp(&b.key));
    v
}

/// An entity as JSON (the core types serialise with MLflow's field names).
macro_rules! json_of {
    ($entity:expr) => {
        serde_json::to_value($entity).unwrap_or(Value::Null)
    };
}

/// The outcome of comparing what the source has with what the destination
/// has (entities of one core type).
pub(crate) fn compare_json(want: Value, have: Value) -> Outcome {
    let fields = differing_fields(&want, &have);
    if fields.is_empty() { Outcome::Unchanged } else { Outcome::Conflict(fields) }
}

/// Compares two experiments as [`comparable_experiment`] shapes them.
pub(crate) fn compare_experiments(want: &Experiment, have: &Experiment) -> Outcome {
    compare_json(json_of!(&comparable_experiment(want)), json_of!(&comparable_experiment(have)))
}

/// Compares two runs as [`comparable_run`] shapes them.
pub(crate) fn compare_runs(want: &Run, have: &Run) -> Outcome {
    compare_json(json_of!(&comparable_run(want)), json_of!(&comparable_run(have)))
}

/// Compares two logged models as [`comparable_logged_model`] shapes them.
pub(crate) fn compare_logged_models(want: &LoggedModel, have: &LoggedModel) -> Outcome {
    compare_json(json_of!(&comparable_logged_model(want)), json_of!(&comparable_logged_model(have)))
}

/// Compares two registered models as [`comparable_model`] shapes them.
pub(crate) fn compare_models(want: &RegisteredModel, have: &RegisteredModel) -> Outcome {
    compare_json(json_of!(&comparable_model(want)), json_of!(&comparable_model(have)))
}

/// Compares two versions as [`comparable_version`] shapes them.
pub(crate) fn compare_versions(want: &ModelVersion, have: &ModelVersion) -> Outcome {
    compare_json(json_of!(&comparable_version(want)), json_of!(&comparable_version(have)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn differing_fields_name_the_paths_that_differ() {
        let a = json!({"info": {"status": "FINISHED", "name": "a"}, "tags": [1, 2]});
        let b = json!({"info": {"status": "FAILED", "name": "a"}, "tags": [1]});
        assert_eq!(super::differing_fields(&a, &b), vec!["info.status", "tags"]);
        assert_eq!(super::differing_fields(&a, &a), Vec::<String>::new());
        assert_eq!(
            super::compare_json(json!({"x": 1}), json!({"x": 1, "y": 2})),
            super::Outcome::Conflict(vec!["y".into()])
        );
    }
}
