//! Insights on PostgreSQL: not yet ported (see `sqlite/insights.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::insights::*;
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, FleetQuery, PartitionValue};
use flotilla_core::model::*;

const AREA: &str = "Insights";

impl crate::insights::InsightStore for PgStore {
    fn version_metrics(&self, _model: &str, _versions: &[VersionNumber]) -> StoreResult<Vec<VersionMetrics>> {
        Err(unported(AREA))
    }

    fn version_timeline(&self, _model: &str, _points: usize) -> StoreResult<Vec<TimelinePoint>> {
        Err(unported(AREA))
    }

    fn metric_sample(
        &self,
        _family: &str,
        _partition: &[PartitionValue],
        _alias: &str,
        _key: &str,
        _limit: usize,
    ) -> StoreResult<MetricSample> {
        Err(unported(AREA))
    }

    fn alias_metric_values(&self, _models: &[String], _alias: &str, _key: &str) -> StoreResult<Vec<Option<f64>>> {
        Err(unported(AREA))
    }

    fn alias_metric_keys(&self, _alias: &str) -> StoreResult<Vec<String>> {
        Err(unported(AREA))
    }

    fn bounded_facets(
        &self,
        _query: &FleetQuery,
        _tag_keys: &[String],
        _bound: FacetBound,
    ) -> StoreResult<(Facets, bool)> {
        Err(unported(AREA))
    }
}
