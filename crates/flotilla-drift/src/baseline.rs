//! Drift of a window against a baseline window — a past range of traffic (issue 15, point 3: "a
//! baseline set explicitly … a past window of traffic") — both binned against the same
//! [`Reference`], which only supplies the bins. The two are histograms over the same bins and
//! tails, walked as CDFs over the reference's grid as [`window_drift`](crate::window_drift) walks
//! one window against the reference; the baseline then plays the reference's part: its count
//! picks KS or Wasserstein and sizes the KS test, its standard deviation (from Σv, Σv²) scales
//! the distance, its category counts are the expected shares, and its completeness is what
//! completeness may not drop below.

use crate::binned::{self, CountMasses};
use crate::config::DriftConfig;
use crate::drift::{self, Categories, Current, DatasetDrift, FeatureDrift, check_window};
use crate::reference::{Reference, ReferenceValues};
use crate::violations;
use crate::window::{NumericCounts, Window, WindowCounts, WindowFeature};
use crate::{DriftError, FeatureReference};

/// Drift of `current` against `baseline`, both recorded against `reference` (refused otherwise).
pub fn baseline_drift(
    reference: &Reference,
    baseline: &Window,
    current: &Window,
    config: &DriftConfig,
) -> Result<DatasetDrift, DriftError> {
    check_window(reference, baseline)?;
    check_window(reference, current)?;
    let features = reference
        .features
        .iter()
        .zip(&baseline.features)
        .zip(&current.features)
        .map(|((r, b), c)| feature_against_baseline(r, b, c, config))
        .collect();
    let violations = violations::of_window_against_baseline(reference, baseline, current, config);
    Ok(drift::dataset(features, violations, config))
}

/// One feature's current counts against its baseline counts.
pub fn feature_against_baseline(
    r: &FeatureReference,
    b: &WindowFeature,
    c: &WindowFeature,
    config: &DriftConfig,
) -> FeatureDrift {
    let (base_count, count) = (b.count(), c.count());
    if base_count == 0 {
        // Nothing to compare with: the baseline had no values of this feature.
        return drift::base(r, 0, count);
    }
    match (&r.values, &b.counts, &c.counts) {
        (ReferenceValues::Numeric(n), WindowCounts::Numeric(bc), WindowCounts::Numeric(cc))
            if bc.bins.len() == n.interior_bins() && cc.bins.len() == n.interior_bins() =>
        {
            let scores = if count == 0 {
                (0.0, 0.0)
            } else {
                let base_side = CountMasses { counts: bc, total: base_count as f64 };
                binned::scores(n, &base_side, &CountMasses { counts: cc, total: count as f64 })
            };
            drift::numeric(r, (base_count, std_of(bc, base_count)), scores, count, config)
        }
        (
            ReferenceValues::Categorical(_),
            WindowCounts::Categorical { counts: bk, other: bo },
            WindowCounts::Categorical { counts: ck, other: co },
        ) if bk.len() == ck.len() => {
            let counts: Vec<f64> = ck.iter().map(|&k| k as f64).collect();
            let current = Current { counts: &counts, other: *co as f64, other_distinct: usize::from(*co > 0), count };
            let base_side = Categories { counts: bk, other: *bo, count: base_count, complete: false };
            let mut d = drift::categorical(r, &base_side, &current, config);
            d.new_category_share = (count > 0).then(|| new_share(bk, *bo, ck, *co) as f64 / count as f64);
            d
        }
        (
            ReferenceValues::None | ReferenceValues::Numeric(_) | ReferenceValues::Categorical(_),
            WindowCounts::Plain { .. } | WindowCounts::Numeric(_) | WindowCounts::Categorical { .. },
            _,
        ) => drift::base(r, base_count, count),
    }
}

/// Population standard deviation from a window's Σv and Σv² (clamped at 0 against rounding).
fn std_of(c: &NumericCounts, count: u64) -> f64 {
    let n = count as f64;
    let mean = c.sum / n;
    (c.sum_sq / n - mean * mean).max(0.0).sqrt()
}

/// Current values in categories the baseline never saw: listed categories it counted none of,
/// and the values outside the reference's categories when the baseline had none there (when it
/// had some, which ones cannot be told apart, so they are not counted as new).
fn new_share(base: &[u64], base_other: u64, current: &[u64], current_other: u64) -> u64 {
    let unseen: u64 = base.iter().zip(current).filter(|(b, _)| **b == 0).map(|(_, c)| c).sum();
    unseen + if base_other == 0 { current_other } else { 0 }
}
