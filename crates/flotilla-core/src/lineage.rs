//! Datasets as entities and the lineage from data to model versions: what a
//! dataset is across the store (one `(name, digest)`), which runs and
//! versions used it, and which data trained a version. Serialized with the
//! native data API's field names (`/api/data/v1`).

use serde::Serialize;

use crate::VersionNumber;

/// The input tag MLflow records a dataset's use under (training, validation, …).
pub const CONTEXT_TAG: &str = "mlflow.data.context";

/// Most versions or runs a lineage page holds.
pub const MAX_LINEAGE_PAGE: i64 = 1000;
/// Page size when none is asked for.
pub const DEFAULT_LINEAGE_PAGE: i64 = 100;
/// Most datasets an upstream answer lists for one version.
pub const MAX_UPSTREAM_DATASETS: i64 = 1000;

/// One dataset: a name and a digest, however many experiments logged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetEntity {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// When the store first saw it (the first run that used it, or its registration).
    #[serde(rename = "creation_time")]
    pub creation_timestamp: i64,
    /// Runs that used it (maintained, not counted per request).
    pub run_count: i64,
    /// Model versions trained on it, through a run or given with the version.
    pub version_count: i64,
    /// Whether a digest of the same name was recorded after this one.
    pub superseded: bool,
}

/// MLflow's `DatasetSummary` (`experiments/search-datasets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetSummary {
    pub experiment_id: String,
    pub name: String,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// A run that used a dataset, with the logged models it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageRun {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logged_models: Vec<String>,
}

/// A model version downstream of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageVersion {
    pub model: String,
    pub version: VersionNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The aliases that point at this version now.
    pub aliases: Vec<String>,
}

/// How many versions of one family a dataset trained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyCount {
    pub family: String,
    pub versions: i64,
}

/// A downstream answer: the dataset, its totals and one page of versions or runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Downstream {
    pub dataset: DatasetEntity,
    pub total_versions: i64,
    pub total_runs: i64,
    /// Whether the totals stop at a cap (a caller who reads only part of what used the dataset).
    pub totals_capped: bool,
    pub families: Vec<FamilyCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<LineageVersion>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<Vec<LineageRun>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A dataset upstream of a version: what trained (or validated) it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamDataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The run the link came through (absent for inputs given with the version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Whether a digest of the same name was recorded after this one.
    pub superseded: bool,
}

/// An upstream answer: a version, the run it came from and its datasets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upstream {
    pub model: String,
    pub version: VersionNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The version's run, when the caller may read its experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<LineageRun>,
    pub datasets: Vec<UpstreamDataset>,
}

/// An aliased version trained on a dataset whose name has a newer digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleVersion {
    pub model: String,
    pub version: VersionNumber,
    pub alias: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    pub dataset: String,
    pub digest: String,
    pub newest_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// The context as stored ('' for none) as the API shows it.
pub fn context_of(stored: String) -> Option<String> {
    if stored.is_empty() { None } else { Some(stored) }
}
