//! Garbage collection of deleted tracking data (`flotilla gc`), as `mlflow gc`
//! does it: runs and experiments in the `deleted` lifecycle stage are purged
//! for good, rows first, and the caller then removes their artifacts.
//!
//! What a registered model version was made from is never purged: a deleted
//! run (or an experiment holding one) whose id a model version names is kept
//! and reported, so serving never loses a model's files to a clean-up.

use flotilla_core::Error;
use serde_json::json;

use crate::audit::{Change, note};
use crate::error::StoreResult;

/// Most ids one `flotilla gc` may name.
pub const MAX_NAMED: usize = 10_000;

/// Which deleted data to purge. Empty id lists mean "every deleted one".
#[derive(Debug, Clone, Default)]
pub struct GcQuery {
    /// Only what was deleted at or before this time (Unix ms); `None`: all.
    pub deleted_before_ms: Option<i64>,
    /// Only these experiments (each must exist and be deleted).
    pub experiment_ids: Vec<String>,
    /// Only these runs (each must exist and be deleted).
    pub run_ids: Vec<String>,
}

impl GcQuery {
    /// Refuses more named ids than [`MAX_NAMED`].
    pub fn check_size(&self) -> StoreResult<()> {
        if self.experiment_ids.len() > MAX_NAMED || self.run_ids.len() > MAX_NAMED {
            return Err(Error::invalid(format!("at most {MAX_NAMED} experiment ids and {MAX_NAMED} run ids")).into());
        }
        Ok(())
    }
}

/// A named experiment or run must exist (`NotFound`) and be deleted
/// (`InvalidParameter`); `stage` is its lifecycle stage, `None` if missing.
pub(crate) fn require_deleted(what: &str, id: &str, stage: Option<&str>) -> StoreResult<()> {
    match (what, stage) {
        (_, Some("deleted")) => Ok(()),
        ("Experiment", None) => Err(Error::not_found(format!("No Experiment with id={id} exists")).into()),
        (_, None) => Err(Error::not_found(format!("{what} with id={id} not found")).into()),
        (_, Some(_)) => Err(Error::invalid(format!("{what} {id} is not in the deleted lifecycle stage")).into()),
    }
}

/// A run to purge and where its artifacts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcRun {
    pub run_id: String,
    pub experiment_id: String,
    pub artifact_uri: String,
}

/// An experiment to purge (with every run and logged model in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcExperiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
}

/// A logged model purged with its experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcLoggedModel {
    pub model_id: String,
    pub experiment_id: String,
    pub artifact_uri: String,
}

/// Something deleted that is kept anyway, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcKept {
    /// `run` or `experiment`.
    pub kind: &'static str,
    pub id: String,
    pub reason: String,
}

/// What a collection purges (or, on a dry run, would purge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcPlan {
    pub experiments: Vec<GcExperiment>,
    /// Deleted runs, and every run of the experiments above.
    pub runs: Vec<GcRun>,
    /// The logged models of the experiments above (their artifacts go too).
    pub logged_models: Vec<GcLoggedModel>,
    pub kept: Vec<GcKept>,
}

impl GcKept {
    pub(crate) fn experiment(id: &str) -> Self {
        Self {
            kind: "experiment",
            id: id.to_string(),
            reason: "a registered model version was made from one of its runs or logged models".into(),
        }
    }

    pub(crate) fn run(id: String) -> Self {
        Self { kind: "run", id, reason: "a registered model version was made from it".into() }
    }
}

impl GcPlan {
    /// After a purge wrote `self` (what went of `plan`): the logged models of
    /// the purged experiments go with them, and the write notes its audit row.
    pub(crate) fn finish_purge(&mut self, plan: &GcPlan) {
        self.logged_models = (plan.logged_models.iter())
            .filter(|m| self.experiments.iter().any(|e| e.experiment_id == m.experiment_id))
            .cloned()
            .collect();
        note(
            Change::new("store.gc", "store", "gc")
                .diff(
                    None,
                    Some(json!({
                        "experiments": self.experiments.iter().map(|e| &e.experiment_id).collect::<Vec<_>>(),
                        "runs": self.runs.len(),
                    })),
                )
                .count(self.runs.len() + self.experiments.len()),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.experiments.is_empty() && self.runs.is_empty()
    }
}

/// Purging deleted tracking data (`sqlite/gc.rs`, `postgres/gc.rs`).
pub trait GcStore: Send + Sync {
    /// What `query` would purge; reads only. Naming an experiment or run
    /// that does not exist is `NotFound`, one that is not deleted `InvalidParameter`.
    fn gc_plan(&self, query: &GcQuery) -> StoreResult<GcPlan>;
    /// Purges `plan`'s experiments and runs in one transaction, re-checking
    /// each is still deleted and still unreferenced (one restored or
    /// registered since the plan is skipped); returns what was purged.
    fn gc_purge(&self, plan: &GcPlan) -> StoreResult<GcPlan>;
    /// The artifact locations of every experiment left, so a purge never
    /// removes a directory one of them shares.
    fn experiment_locations(&self) -> StoreResult<Vec<String>>;
}
