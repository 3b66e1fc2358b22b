//! Datasets as entities (SQLite: `sqlite/datasets.rs`): one row per
//! `(name, digest)` logged through MLflow's `log-inputs` or given with a
//! version to the fleet bulk API, the runs that used it and in what context,
//! MLflow's `experiments/search-datasets`, and the hook where a dataset's
//! mergeable profile is kept (opaque bytes and a JSON summary).

use flotilla_core::lineage::{DEFAULT_LINEAGE_PAGE, DatasetEntity, DatasetSummary, MAX_LINEAGE_PAGE};
use flotilla_core::model::Page;
use flotilla_core::{Error, validation};

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

/// A lineage or list page size: 1 to [`MAX_LINEAGE_PAGE`], default [`DEFAULT_LINEAGE_PAGE`].
pub(crate) fn page_size(page: &PageRequest) -> StoreResult<i64> {
    match page.max_results {
        None => Ok(DEFAULT_LINEAGE_PAGE),
        Some(n) if (1..=MAX_LINEAGE_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(Error::invalid(format!("max_results must be between 1 and {MAX_LINEAGE_PAGE}, got {n}")).into()),
    }
}

/// Checks a dataset given with a version as `log-inputs` checks its own.
pub(crate) fn check_input(d: &NewDatasetInput) -> StoreResult<()> {
    if d.name.is_empty() || d.digest.is_empty() {
        return Err(Error::invalid("dataset name and digest are required").into());
    }
    let checks = [
        ("name", d.name.len(), validation::MAX_DATASET_NAME_LENGTH),
        ("digest", d.digest.len(), validation::MAX_DATASET_DIGEST_LENGTH),
        ("source", d.source.len(), validation::MAX_DATASET_SOURCE_LENGTH),
        ("source_type", d.source_type.len(), validation::MAX_DATASET_NAME_LENGTH),
        ("schema", d.schema.as_ref().map_or(0, String::len), validation::MAX_DATASET_SCHEMA_LENGTH),
        ("context", d.context.len(), validation::MAX_DATASET_NAME_LENGTH),
    ];
    for (field, len, max) in checks {
        if len > max {
            return Err(Error::invalid(format!("dataset {field} exceeds the maximum length of {max}")).into());
        }
    }
    Ok(())
}
