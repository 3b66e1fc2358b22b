//! Bounded read models for people looking at a fleet (the web UI): the
//! metrics of a handful of versions, a sampled version timeline, a sample of
//! one metric across a family's aliased versions. Each call reads at most a
//! fixed number of rows, whatever the size of the model or family.

use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, FleetQuery, PartitionValue};
use flotilla_core::visible::Visible;

use crate::error::StoreResult;

/// One version's metrics, sorted by key.
/// Where a bounded facet count stops reading matches: after `matches` of
/// them, or once reading has taken `time`, whichever comes first. Counts are
/// then over the matches read, which a page must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FacetBound {
    pub matches: i64,
    pub time: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionMetrics {
    pub version: VersionNumber,
    pub metrics: Vec<(String, f64)>,
}

impl VersionMetrics {
    /// `key` of version `version` among `all`, if recorded.
    pub fn find(all: &[Self], version: VersionNumber, key: &str) -> Option<f64> {
        all.iter().find(|m| m.version == version)?.metrics.iter().find(|(k, _)| k == key).map(|(_, x)| *x)
    }
}

/// A point of a model's history: version `version` was created at `time` (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelinePoint {
    pub version: VersionNumber,
    pub time: i64,
}

/// Values of one aliased-version metric over (a sample of) a family's members.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSample {
    pub values: Vec<f64>,
    /// Members looked at; the sample stopped there when `truncated`.
    pub members_read: i64,
    pub truncated: bool,
}

/// Bounded reads for people looking at a fleet (SQLite: `sqlite/insights.rs`).
pub trait InsightStore: Send + Sync {
    /// The metrics of the given versions of `model` (versions without
    /// metrics are left out). At most 100 versions.
    fn version_metrics(&self, model: &str, versions: &[VersionNumber]) -> StoreResult<Vec<VersionMetrics>>;
    /// Up to `points` versions spread evenly over the model's version
    /// numbers, oldest first, with their creation times.
    fn version_timeline(&self, model: &str, points: usize) -> StoreResult<Vec<TimelinePoint>>;
    /// `alias:key` of the members of `family` under `partition`, reading at
    /// most `limit` members.
    fn metric_sample(
        &self,
        family: &str,
        partition: &[PartitionValue],
        alias: &str,
        key: &str,
        limit: usize,
    ) -> StoreResult<MetricSample> {
        self.metric_sample_visible(family, partition, alias, key, limit, &Visible::everything())
    }
    /// Like [`InsightStore::metric_sample`], with the values of the members
    /// `visible` admits only (a member denied to the caller is read but not
    /// counted).
    fn metric_sample_visible(
        &self,
        family: &str,
        partition: &[PartitionValue],
        alias: &str,
        key: &str,
        limit: usize,
        visible: &Visible,
    ) -> StoreResult<MetricSample>;
    /// `alias:key` of each named model (`None` where absent), in order. At most 1,000 names.
    fn alias_metric_values(&self, models: &[String], alias: &str, key: &str) -> StoreResult<Vec<Option<f64>>>;
    /// The metric keys carried by versions that `alias` points at, anywhere in the registry.
    fn alias_metric_keys(&self, alias: &str) -> StoreResult<Vec<String>>;
    /// Facet counts as [`FleetSearchStore::fleet_facets`](crate::FleetSearchStore::fleet_facets), but a
    /// filtered query counts only the matches it reads within `bound`; `true` when it stopped there.
    fn bounded_facets(&self, query: &FleetQuery, tag_keys: &[String], bound: FacetBound)
    -> StoreResult<(Facets, bool)>;
}
