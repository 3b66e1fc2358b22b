//! Datasets as entities (SQLite: `sqlite/datasets.rs`): one row per
//! `(name, digest)` logged through MLflow's `log-inputs` or given with a
//! version to the fleet bulk API, the runs that used it and in what context,
//! MLflow's `experiments/search-datasets`, and the hook where a dataset's
//! mergeable profile is kept (opaque bytes and a JSON summary).

use flotilla_core::lineage::{DatasetEntity, DatasetSummary};
use flotilla_core::model::Page;

use crate::error::StoreResult;
use crate::{PageRequest, Visible};

/// MLflow's cap on experiment ids per search-datasets request.
pub const MAX_SUMMARY_EXPERIMENTS: usize = 20;

/// What a caller may read, as lineage answers filter it: runs by their
/// experiment, versions by their registered model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readable {
    pub experiments: Visible,
    pub models: Visible,
}

impl Readable {
    pub fn everything() -> Self {
        Self::default()
    }
    pub fn is_everything(&self) -> bool {
        self.experiments.is_everything() && self.models.is_everything()
    }
}

/// A dataset list: by exact name, or names starting with a prefix.
#[derive(Debug, Clone, Default)]
pub struct DatasetQuery {
    pub name: Option<String>,
    pub name_prefix: Option<String>,
    pub page: PageRequest,
    /// Only datasets used by a run or a version the caller may read.
    pub readable: Readable,
}

/// A dataset given with a version (the fleet bulk API): created if new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDatasetInput {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    /// How the version used it: training, validation, … ('' for none).
    pub context: String,
}

/// Datasets (SQLite: `sqlite/datasets.rs`).
pub trait DatasetStore: Send + Sync {
    /// Datasets ordered by name and digest, keyset-paged.
    fn list_datasets(&self, query: &DatasetQuery) -> StoreResult<Page<DatasetEntity>>;
    /// One dataset; not found when it does not exist or the caller reads
    /// nothing that used it.
    fn get_dataset(&self, name: &str, digest: &str, readable: &Readable) -> StoreResult<DatasetEntity>;
    /// MLflow's dataset summaries of some experiments (at most 1,000, as MLflow).
    fn search_dataset_summaries(&self, experiment_ids: &[String]) -> StoreResult<Vec<DatasetSummary>>;
    /// Keeps a profile of a dataset: bytes the store does not read, and a JSON summary.
    fn set_dataset_profile(&self, name: &str, digest: &str, bytes: &[u8], summary: &str) -> StoreResult<()>;
}
