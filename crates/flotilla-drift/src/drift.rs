//! Drift of current data (a profile, or a window's counts) against a [`Reference`]: per feature
//! the method, score, threshold and verdict, and the dataset's verdict.

use std::collections::HashMap;

use datasketches::frequencies::ErrorType;
use flotilla_profile::{FeatureProfile, Profile};
use serde::{Deserialize, Serialize};

use crate::binned::{self, CountMasses, ReferenceMasses};
use crate::config::{DriftConfig, Method};
use crate::reference::{CategoryReference, FeatureReference, Reference, ReferenceValues};
use crate::stats;
use crate::violations::{self, Violation};
use crate::window::{Window, WindowCounts, WindowFeature};
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
    check_window(reference, window)?;
    let features =
        reference.features.iter().zip(&window.features).map(|(r, w)| feature_from_window(r, w, config)).collect();
    let violations = violations::of_window(reference, window, config);
    Ok(dataset(features, violations, config))
}

/// A window must have been recorded against this reference.
pub(crate) fn check_window(reference: &Reference, window: &Window) -> Result<(), DriftError> {
    if window.fingerprint != reference.fingerprint {
        return Err(DriftError::ReferenceMismatch { window: window.fingerprint, reference: reference.fingerprint });
    }
    if window.features.len() != reference.features.len() {
        return Err(DriftError::FeatureCountMismatch {
            window: window.features.len(),
            reference: reference.features.len(),
        });
    }
    Ok(())
}

pub(crate) fn dataset(
    features: Vec<FeatureDrift>,
    mut violations: Vec<Violation>,
    config: &DriftConfig,
) -> DatasetDrift {
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
            numeric(r, (n.count, n.std), scores, cur.moments.count, config)
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
            let current =
                Current { counts: &counts, other, other_distinct: new_distinct.max(usize::from(other > 0.0)), count };
            categorical(r, &Categories::of_reference(cat), &current, config)
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
            let scores = if count == 0 {
                (0.0, 0.0)
            } else {
                binned::scores(n, &ReferenceMasses(n), &CountMasses { counts: c, total: count as f64 })
            };
            numeric(r, (n.count, n.std), scores, count, config)
        }
        (ReferenceValues::Categorical(cat), WindowCounts::Categorical { counts, other })
            if counts.len() == cat.categories.len() =>
        {
            let counts: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
            let current = Current {
                counts: &counts,
                other: *other as f64,
                other_distinct: usize::from(*other > 0),
                count: w.count(),
            };
            categorical(r, &Categories::of_reference(cat), &current, config)
        }
        (
            ReferenceValues::None | ReferenceValues::Numeric(_) | ReferenceValues::Categorical(_),
            WindowCounts::Plain { .. } | WindowCounts::Numeric(_) | WindowCounts::Categorical { .. },
        ) => incomparable(r, w.count()),
    }
}

pub(crate) fn base(r: &FeatureReference, reference_count: u64, current_count: u64) -> FeatureDrift {
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

/// Judges a numeric feature from its `(KS statistic, Wasserstein distance)`, against a reference
/// side of `(count, standard deviation)`: the count picks the method and sizes the KS test, the
/// deviation scales the distance.
pub(crate) fn numeric(
    r: &FeatureReference,
    (reference_count, reference_std): (u64, f64),
    scores: (f64, f64),
    count: u64,
    config: &DriftConfig,
) -> FeatureDrift {
    let d = base(r, reference_count, count);
    let (ks, wasserstein) = scores;
    match config.numeric_for(reference_count) {
        Method::Ks => judged(d, Method::Ks, stats::ks_p_value(ks, reference_count, count), Some(ks), config),
        Method::Wasserstein | Method::ChiSquare | Method::ZTest | Method::JensenShannon => {
            judged(d, Method::Wasserstein, wasserstein / reference_std.max(0.001), None, config)
        }
    }
}

/// The side a categorical feature is compared with: counts per reference category, the values
/// outside them, and the share of the current values it never saw (`None` when unknown).
pub(crate) struct Categories<'a> {
    pub counts: &'a [u64],
    pub other: u64,
    pub count: u64,
    pub complete: bool,
}

impl<'a> Categories<'a> {
    fn of_reference(cat: &'a CategoryReference) -> Categories<'a> {
        Categories { counts: &cat.counts, other: cat.other, count: cat.count, complete: cat.complete }
    }
}

/// The current side: counts per reference category, `other` outside them (`other_distinct`
/// categories of it), `count` in all.
pub(crate) struct Current<'a> {
    pub counts: &'a [f64],
    pub other: f64,
    pub other_distinct: usize,
    pub count: u64,
}

/// Judges a categorical feature. The current values outside the listed categories are new when
/// the base side lists all of its own (`complete`).
pub(crate) fn categorical(
    r: &FeatureReference,
    base_side: &Categories<'_>,
    current: &Current<'_>,
    config: &DriftConfig,
) -> FeatureDrift {
    let Current { counts, other, other_distinct, count } = *current;
    let mut d = base(r, base_side.count, count);
    if base_side.complete && count > 0 {
        d.new_category_share = Some(other / count as f64);
    }
    // The categories present on either side, the unlisted ones as one more.
    let mut reference_counts: Vec<f64> = Vec::with_capacity(counts.len() + 1);
    let mut current_counts: Vec<f64> = Vec::with_capacity(counts.len() + 1);
    for (&rc, &cc) in base_side.counts.iter().zip(counts) {
        if rc > 0 || cc > 0.0 {
            reference_counts.push(rc as f64);
            current_counts.push(cc);
        }
    }
    if base_side.other > 0 || other > 0.0 {
        reference_counts.push(base_side.other as f64);
        current_counts.push(other);
    }
    let unlisted = base_side.other > 0 || other > 0.0;
    let distinct = reference_counts.len() - usize::from(unlisted) + other_distinct.max(usize::from(unlisted));
    let method = config.categorical_for(base_side.count, distinct);
    match method {
        Method::JensenShannon => {
            let js = stats::jensen_shannon(&reference_counts, &current_counts);
            judged(d, method, js, None, config)
        }
        Method::ZTest if distinct <= 2 => {
            // The share of the first category on each side.
            let (x1, x2) =
                (reference_counts.first().copied().unwrap_or(0.0), current_counts.first().copied().unwrap_or(0.0));
            let (z, p) = stats::proportions_z_test(x1, base_side.count as f64, x2, count as f64);
            judged(d, method, p, Some(z), config)
        }
        Method::ChiSquare | Method::ZTest | Method::Ks | Method::Wasserstein => {
            let k = count as f64 / base_side.count.max(1) as f64;
            let expected: Vec<f64> = reference_counts.iter().map(|&c| c * k).collect();
            let (stat, p) = stats::chi_square(&current_counts, &expected);
            judged(d, Method::ChiSquare, p, Some(stat), config)
        }
    }
}
