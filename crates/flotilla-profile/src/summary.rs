//! The JSON summary of a profile: what the UI, the CLI's `--json` and the REST API show.

use datasketches::common::{NumStdDev, SearchCriteria};
use datasketches::frequencies::ErrorType;
use serde::Serialize;

use crate::Profile;
use crate::feature::{FeatureProfile, FeatureType};

/// The ranks whose quantiles a summary lists: enough for a CDF plot and the usual percentiles.
pub const SUMMARY_RANKS: [f64; 23] = [
    0.0, 0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
    0.99, 1.0,
];
/// The most frequent categories a summary lists.
pub const SUMMARY_TOP_ITEMS: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct ProfileSummary {
    pub rows: u64,
    pub features: Vec<FeatureSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub feature_type: FeatureType,
    pub rows: u64,
    pub nulls: u64,
    pub nans: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<CategorySummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NumericSummary {
    /// Numbers seen (nulls and NaN not counted).
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    /// `(rank, value)` at [`SUMMARY_RANKS`], from the KLL sketch.
    pub quantiles: Vec<Quantile>,
    /// The sketch's normalized rank error (99 % confidence).
    pub rank_error: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Quantile {
    pub rank: f64,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategorySummary {
    /// HLL estimate of the distinct values, with its 95 % bounds.
    pub distinct: f64,
    pub distinct_lower: f64,
    pub distinct_upper: f64,
    /// The most frequent values (cut to [`crate::feature::MAX_ITEM_BYTES`]), most frequent first.
    pub top: Vec<TopItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopItem {
    pub value: String,
    pub estimate: u64,
    pub lower: u64,
    pub upper: u64,
}

impl Profile {
    /// The summary of every feature.
    pub fn summary(&self) -> ProfileSummary {
        ProfileSummary { rows: self.rows, features: self.features.iter().map(FeatureProfile::summary).collect() }
    }
}

impl FeatureProfile {
    /// This feature's summary.
    pub fn summary(&self) -> FeatureSummary {
        let numeric = self.numeric().map(|s| {
            let m = &s.moments;
            let some = |x: f64| (m.count > 0).then_some(x);
            let quantiles = if s.kll.is_empty() {
                Vec::new()
            } else {
                SUMMARY_RANKS
                    .iter()
                    .filter_map(|&rank| {
                        let value = s.kll.quantile(rank, SearchCriteria::Inclusive).ok()??;
                        Some(Quantile { rank, value: *value })
                    })
                    .collect()
            };
            NumericSummary {
                count: m.count,
                min: some(m.min),
                max: some(m.max),
                mean: some(m.mean),
                stddev: m.variance().map(f64::sqrt),
                quantiles,
                rank_error: s.kll.normalized_rank_error(),
            }
        });
        let category = self.category().map(|s| {
            let mut rows = s.frequent.frequent_items(ErrorType::NoFalseNegatives);
            rows.sort_by(|a, b| b.estimate().cmp(&a.estimate()).then(a.item().cmp(b.item())));
            rows.truncate(SUMMARY_TOP_ITEMS);
            CategorySummary {
                distinct: s.hll.estimate(),
                distinct_lower: s.hll.lower_bound(NumStdDev::Two),
                distinct_upper: s.hll.upper_bound(NumStdDev::Two),
                top: rows
                    .into_iter()
                    .map(|r| TopItem {
                        value: r.item().clone(),
                        estimate: r.estimate(),
                        lower: r.lower_bound(),
                        upper: r.upper_bound(),
                    })
                    .collect(),
            }
        });
        FeatureSummary {
            name: self.name.clone(),
            feature_type: self.feature_type,
            rows: self.rows,
            nulls: self.nulls,
            nans: self.nans,
            numeric,
            category,
        }
    }
}
