//! Drift of current data (a profile, or a window's counts) against a [`Reference`]: per feature
//! the method, score, threshold and verdict, and the dataset's verdict.

use std::collections::HashMap;

use datasketches::frequencies::ErrorType;
use flotilla_profile::{FeatureProfile, Profile};
use serde::{Deserialize, Serialize};

use crate::config::{DriftConfig, Method};
use crate::reference::{CategoryReference, FeatureReference, NumericReference, Reference, ReferenceValues};
use crate::stats;
use crate::violations::{self, Violation};
use crate::window::{NumericCounts, Window, WindowCounts, WindowFeature};
use crate::{DriftError, reference};

/// A feature's (or the dataset's) verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Drift,
    NoDrift,
    /// Fewer current values than the configured minimum sample: nothing is declared.
    NotEnoughData,
    /// No comparison possible: the reference has no values, or the current ones are of another
    /// kind (see the violations).
    Incomparable,
}

/// One feature's drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub feature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// The p-value of a test, or the distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The test's statistic (KS D, chi-square, z), when the score is a p-value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<f64>,
    pub verdict: Verdict,
    /// Values compared (nulls and NaN left out).
    pub reference_count: u64,
    pub current_count: u64,
    /// The share of current values in categories the reference never had; `None` for numbers,
    /// or when the reference has more categories than its sketch lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_category_share: Option<f64>,
}

/// A dataset's (a model's) drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    pub features: Vec<FeatureDrift>,
    /// Features judged (drift or no drift) and those that drifted.
    pub judged: usize,
    pub drifted: usize,
    /// `drifted / judged`, against the configured `drift_share`.
    pub share: f64,
    pub drift_share: f64,
    pub verdict: Verdict,
    pub violations: Vec<Violation>,
}

/// Drift of a current profile (of a serving window, a batch, a later dataset).
pub fn profile_drift(reference: &Reference, current: &Profile, config: &DriftConfig) -> DatasetDrift {
    let by_name: HashMap<&str, &FeatureProfile> = current.features.iter().map(|f| (f.name.as_str(), f)).collect();
    let features = reference
        .features
        .iter()
        .filter_map(|r| by_name.get(r.name.as_str()).map(|c| feature_from_profile(r, c, config)))
        .collect();
    let violations = violations::of_profile(reference, current, config);
    dataset(features, violations, config)
}

/// Drift of a window's counts, recorded against this reference.
pub fn window_drift(reference: &Reference, window: &Window, config: &DriftConfig) -> Result<DatasetDrift, DriftError> {
    if window.fingerprint != reference.fingerprint {
        return Err(DriftError::ReferenceMismatch { window: window.fingerprint, reference: reference.fingerprint });
    }
    if window.features.len() != reference.features.len() {
        return Err(DriftError::FeatureCountMismatch {
            window: window.features.len(),
            reference: reference.features.len(),
        });
    }
    let features =
        reference.features.iter().zip(&window.features).map(|(r, w)| feature_from_window(r, w, config)).collect();
    let violations = violations::of_window(reference, window, config);
    Ok(dataset(features, violations, config))
}

fn dataset(features: Vec<FeatureDrift>, mut violations: Vec<Violation>, config: &DriftConfig) -> DatasetDrift {
    violations.extend(violations::new_categories(&features, config));
    let judged = features.iter().filter(|f| matches!(f.verdict, Verdict::Drift | Verdict::NoDrift)).count();
    let drifted = features.iter().filter(|f| f.verdict == Verdict::Drift).count();
    let share = if judged == 0 { 0.0 } else { drifted as f64 / judged as f64 };
    let verdict = if judged == 0 {
        Verdict::NotEnoughData
    } else if share >= config.drift_share {
        Verdict::Drift
    } else {
        Verdict::NoDrift
    };
    DatasetDrift { features, judged, drifted, share, drift_share: config.drift_share, verdict, violations }
}

/// One feature against a current profile of it.
pub fn feature_from_profile(r: &FeatureReference, c: &FeatureProfile, config: &DriftConfig) -> FeatureDrift {
    match (&r.values, c.numeric(), c.category()) {
        (ReferenceValues::Numeric(n), Some(cur), _) => {
            let sample: Vec<(f64, f64)> = reference::quantile_grid(&cur.kll)
                .map(|g| {
                    let w = 1.0 / g.len() as f64;
                    g.into_iter().map(|v| (v, w)).collect()
                })
                .unwrap_or_default();
            let scores = stats::ks_and_wasserstein(&n.sample(), &sample);
            numeric(r, n, scores, cur.moments.count, config)
        }
        (ReferenceValues::Categorical(cat), _, Some(cur)) => {
            let mut counts = vec![0.0; cat.categories.len()];
            let (mut other, mut new_distinct) = (0.0, 0);
            for row in cur.frequent.frequent_items(ErrorType::NoFalseNegatives) {
                match cat.category_of(row.item()) {
                    Some(i) => counts[i] += row.estimate() as f64,
                    None => {
                        other += row.estimate() as f64;
                        new_distinct += 1;
                    }
                }
            }
            let count = c.rows - c.nulls;
            // What the frequent items could not list still counts, as values outside the reference's.
            let listed: f64 = counts.iter().sum::<f64>() + other;
            other += (count as f64 - listed).max(0.0);
            categorical(r, cat, &counts, other, new_distinct.max(usize::from(other > 0.0)), count, config)
        }
        (ReferenceValues::None | ReferenceValues::Numeric(_) | ReferenceValues::Categorical(_), _, _) => {
            incomparable(r, c.rows - c.nulls - c.nans)
        }
    }
}

/// One feature against its window counts.
pub fn feature_from_window(r: &FeatureReference, w: &WindowFeature, config: &DriftConfig) -> FeatureDrift {
    match (&r.values, &w.counts) {
        (ReferenceValues::Numeric(n), WindowCounts::Numeric(c)) if c.bins.len() == n.interior_bins() => {
            let count = w.count();
            numeric(r, n, binned_scores(n, c, count), count, config)
        }
        (ReferenceValues::Categorical(cat), WindowCounts::Categorical { counts, other })
            if counts.len() == cat.categories.len() =>
        {
            let counts: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
            categorical(r, cat, &counts, *other as f64, usize::from(*other > 0), w.count(), config)
        }
        (
            ReferenceValues::None | ReferenceValues::Numeric(_) | ReferenceValues::Categorical(_),
            WindowCounts::Plain { .. } | WindowCounts::Numeric(_) | WindowCounts::Categorical { .. },
        ) => incomparable(r, w.count()),
    }
}

/// `(KS statistic, Wasserstein distance)` of a window against its reference, taking the window's
/// values to be shaped like the reference within each bin (the reference's grid points, reweighted
/// by the bin's count) and each tail at its mean. One pass over the grid, no allocation.
fn binned_scores(n: &NumericReference, c: &NumericCounts, count: u64) -> (f64, f64) {
    if count == 0 {
        return (0.0, 0.0);
    }
    let total = count as f64;
    let mut walk = Walk::default();
    if c.below > 0 {
        walk.step(n.min - c.below_distance / c.below as f64, 0.0, c.below as f64 / total);
    }
    let grid_weight = 1.0 / n.grid.len() as f64;
    for (b, &k) in c.bins.iter().enumerate() {
        let (start, end) = n.bin_ranges[b];
        if end > start {
            let w = k as f64 / total / (end - start) as f64;
            n.grid[start..end].iter().for_each(|&g| walk.step(g, grid_weight, w));
        } else if k > 0 {
            // No grid point fell in the bin: its mass sits at its upper edge.
            walk.step(n.edges.get(b).copied().unwrap_or(n.max), 0.0, k as f64 / total);
        }
    }
    if c.above > 0 {
        walk.step(n.max + c.above_distance / c.above as f64, 0.0, c.above as f64 / total);
    }
    walk.finish()
}

/// Two CDFs over one ascending sequence of points: the largest gap and the area between them.
#[derive(Default)]
struct Walk {
    reference: f64,
    current: f64,
    last: Option<f64>,
    ks: f64,
    area: f64,
}

impl Walk {
    fn step(&mut self, x: f64, reference: f64, current: f64) {
        if let Some(last) = self.last.filter(|&last| x > last) {
            let gap = (self.reference - self.current).abs();
            self.ks = self.ks.max(gap);
            self.area += gap * (x - last);
        }
        self.reference += reference;
        self.current += current;
        self.last = Some(x);
    }

    fn finish(self) -> (f64, f64) {
        (self.ks.max((self.reference - self.current).abs()), self.area)
    }
}

fn base(r: &FeatureReference, reference_count: u64, current_count: u64) -> FeatureDrift {
    FeatureDrift {
        feature: r.name.clone(),
        method: None,
        score: None,
        threshold: None,
        statistic: None,
        verdict: Verdict::Incomparable,
        reference_count,
        current_count,
        new_category_share: None,
    }
}

fn incomparable(r: &FeatureReference, current_count: u64) -> FeatureDrift {
    base(r, r.rows - r.nulls - r.nans, current_count)
}

fn judged(
    mut d: FeatureDrift,
    method: Method,
    score: f64,
    statistic: Option<f64>,
    config: &DriftConfig,
) -> FeatureDrift {
    d.method = Some(method);
    d.threshold = Some(config.threshold(method));
    if d.current_count < config.min_sample_size.max(1) {
        d.verdict = Verdict::NotEnoughData;
        return d;
    }
    d.score = Some(score);
    d.statistic = statistic;
    d.verdict = if config.drifted(method, score) { Verdict::Drift } else { Verdict::NoDrift };
    d
}

/// Judges a numeric feature from its `(KS statistic, Wasserstein distance)`.
fn numeric(
    r: &FeatureReference,
    n: &NumericReference,
    scores: (f64, f64),
    count: u64,
    config: &DriftConfig,
) -> FeatureDrift {
    let d = base(r, n.count, count);
    let (ks, wasserstein) = scores;
    match config.numeric_for(n.count) {
        Method::Ks => judged(d, Method::Ks, stats::ks_p_value(ks, n.count, count), Some(ks), config),
        Method::Wasserstein | Method::ChiSquare | Method::ZTest | Method::JensenShannon => {
            judged(d, Method::Wasserstein, wasserstein / n.std.max(0.001), None, config)
        }
    }
}

/// `counts` per reference category, `other` outside them (`other_distinct` categories of it).
fn categorical(
    r: &FeatureReference,
    cat: &CategoryReference,
    counts: &[f64],
    other: f64,
    other_distinct: usize,
    count: u64,
    config: &DriftConfig,
) -> FeatureDrift {
    let mut d = base(r, cat.count, count);
    if cat.complete && count > 0 {
        d.new_category_share = Some(other / count as f64);
    }
    // The categories present on either side, the unlisted ones as one more.
    let mut reference_counts: Vec<f64> = Vec::with_capacity(counts.len() + 1);
    let mut current_counts: Vec<f64> = Vec::with_capacity(counts.len() + 1);
    for (&rc, &cc) in cat.counts.iter().zip(counts) {
        if rc > 0 || cc > 0.0 {
            reference_counts.push(rc as f64);
            current_counts.push(cc);
        }
    }
    if cat.other > 0 || other > 0.0 {
        reference_counts.push(cat.other as f64);
        current_counts.push(other);
    }
    let unlisted = cat.other > 0 || other > 0.0;
    let distinct = reference_counts.len() - usize::from(unlisted) + other_distinct.max(usize::from(unlisted));
    let method = config.categorical_for(cat.count, distinct);
    match method {
        Method::JensenShannon => {
            let js = stats::jensen_shannon(&reference_counts, &current_counts);
            judged(d, method, js, None, config)
        }
        Method::ZTest if distinct <= 2 => {
            // The share of the first category on each side.
            let (x1, x2) =
                (reference_counts.first().copied().unwrap_or(0.0), current_counts.first().copied().unwrap_or(0.0));
            let (z, p) = stats::proportions_z_test(x1, cat.count as f64, x2, count as f64);
            judged(d, method, p, Some(z), config)
        }
        Method::ChiSquare | Method::ZTest | Method::Ks | Method::Wasserstein => {
            let k = count as f64 / cat.count.max(1) as f64;
            let expected: Vec<f64> = reference_counts.iter().map(|&c| c * k).collect();
            let (stat, p) = stats::chi_square(&current_counts, &expected);
            judged(d, Method::ChiSquare, p, Some(stat), config)
        }
    }
}
