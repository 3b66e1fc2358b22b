//! Searching model versions across a fleet: the query, its sort, the
//! version-metric filter (`val_rmse < 3.2`, the version's own metric) and
//! the version as a search returns it.

use serde::{Deserialize, Serialize};

use crate::VersionNumber;
use crate::error::{Error, Result};
use crate::fleet::{MetricOp, PartitionValue, check_filter_count};
use crate::visible::Visible;

/// `val_rmse < 3.2`: a metric of the version itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionMetricFilter {
    pub key: String,
    pub op: MetricOp,
    pub value: f64,
}

impl VersionMetricFilter {
    /// Parses `key OP number`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid(format!("metric filter '{s}': {why}; expected e.g. 'val_rmse < 3.2'"));
        let (left, op, right) = MetricOp::split(s).ok_or_else(|| bad("no comparison operator"))?;
        let key = left.trim();
        let value: f64 = right.trim().parse().map_err(|_| bad("the right side is not a number"))?;
        if key.is_empty() || !value.is_finite() {
            return Err(bad("missing metric name or non-finite value"));
        }
        if key.contains(':') {
            return Err(bad("a version filter names the version's own metric, not an alias's"));
        }
        crate::validation::entity_key("Metric", key).map_err(|e| bad(&e.to_string()))?;
        Ok(Self { key: key.to_string(), op, value })
    }
}

/// What version searches sort by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VersionOrder {
    /// Model name, then version number.
    Version,
    Created,
    /// A metric of the version; versions without it are left out.
    Metric(String),
}

/// A sort: `version`, `-created`, `metric:val_rmse`, `-metric:val_rmse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSort {
    pub by: VersionOrder,
    pub descending: bool,
}

impl Default for VersionSort {
    fn default() -> Self {
        Self { by: VersionOrder::Version, descending: false }
    }
}

impl VersionSort {
    pub fn parse(s: &str) -> Result<Self> {
        let (descending, field) = crate::fleet::split_direction(s);
        let by = match field {
            "version" | "name" => VersionOrder::Version,
            "created" | "creation_time" => VersionOrder::Created,
            other => match other.strip_prefix("metric:").map(str::trim) {
                Some(key) if !key.is_empty() => {
                    crate::validation::entity_key("Metric", key)?;
                    VersionOrder::Metric(key.to_string())
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "cannot sort versions by '{other}'; use version, created or metric:<key>, '-' for descending"
                    )));
                }
            },
        };
        Ok(Self { by, descending })
    }
}

/// A search over model versions, every field optional and all of them ANDed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionQuery {
    pub family: Option<String>,
    pub name_prefix: Option<String>,
    /// Versions of members whose partition path includes every one of these.
    pub partition: Vec<PartitionValue>,
    /// Registered-model tags, `key=value`.
    pub tags: Vec<(String, String)>,
    /// Model-version tags, `key=value`.
    pub version_tags: Vec<(String, String)>,
    /// Versions every one of these aliases points at.
    pub has_alias: Vec<String>,
    pub metrics: Vec<VersionMetricFilter>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub sort: VersionSort,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
    /// The models whose versions the caller may read; set by the server
    /// from the caller's grants, never taken from a request.
    #[serde(skip)]
    pub visible: Visible,
}

impl VersionQuery {
    /// Refuses more repeated filters than [`crate::fleet::MAX_FLEET_FILTERS`].
    pub fn check_limits(&self) -> Result<()> {
        let n = self.partition.len()
            + self.tags.len()
            + self.version_tags.len()
            + self.has_alias.len()
            + self.metrics.len();
        check_filter_count(n)
    }
}

/// A model version as version searches return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetVersion {
    pub model: String,
    pub version: VersionNumber,
    pub family: Option<String>,
    /// The model's partition path, `region=west/store=0042`; empty when none.
    pub partition: String,
    #[serde(rename = "creation_time")]
    pub creation_timestamp: i64,
    #[serde(rename = "last_update_time")]
    pub last_updated_timestamp: i64,
    pub current_stage: String,
    pub source: String,
    pub run_id: Option<String>,
    /// The aliases pointing at this version.
    pub aliases: Vec<String>,
    pub metrics: Vec<(String, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_filters_parse() {
        let f = VersionMetricFilter::parse("val_rmse <= 3.2").unwrap();
        assert_eq!((f.key.as_str(), f.op, f.value), ("val_rmse", MetricOp::Le, 3.2));
        for bad in ["val_rmse", "< 3", "val_rmse < x", "champion:val_rmse < 1", "val_rmse < inf"] {
            assert!(VersionMetricFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sorts_parse() {
        let table = [
            ("version", VersionOrder::Version, false),
            ("-created", VersionOrder::Created, true),
            ("metric:val_rmse", VersionOrder::Metric("val_rmse".into()), false),
            ("-metric:auc", VersionOrder::Metric("auc".into()), true),
        ];
        for (text, by, descending) in table {
            assert_eq!(VersionSort::parse(text).unwrap(), VersionSort { by, descending }, "{text}");
        }
        for bad in ["size", "metric:", "champion:val_rmse", "-"] {
            assert!(VersionSort::parse(bad).is_err(), "{bad}");
        }
    }
}
