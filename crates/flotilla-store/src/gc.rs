//! Garbage collection of deleted tracking data (`flotilla gc`), as `mlflow gc`
//! does it: runs and experiments in the `deleted` lifecycle stage are purged
//! for good, rows first, and the caller then removes their artifacts.
//!
//! What a registered model version was made from is never purged: a deleted
//! run (or an experiment holding one) whose id a model version names is kept
//! and reported, so serving never loses a model's files to a clean-up.

use crate::error::StoreResult;

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

impl GcPlan {
    pub fn is_empty(&self) -> bool {
        self.experiments.is_empty() && self.runs.is_empty()
    }
}

/// Purging deleted tracking data (SQLite: `sqlite/gc.rs`).
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
