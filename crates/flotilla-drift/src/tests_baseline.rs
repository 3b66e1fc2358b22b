//! Drift against a baseline window: the same traffic does not drift, a shift does, the baseline
//! path agrees with the reference path when the baseline is the training data itself, and
//! windows of another reference or shape are refused.

use crate::tests::{profile, rows, window};
use crate::{DriftConfig, DriftError, Method, Reference, Verdict, Violation, Window, baseline_drift, window_drift};

#[test]
fn identical_counts_do_not_drift_and_a_shift_does() {
    let config = DriftConfig::default();
    let reference = Reference::from_profile(&profile(&rows(20_000, 0.0, 0.0, 1)));
    // Last month's traffic was already off the training data; this month's is the same.
    let baseline = window(&reference, &rows(5_000, 1.0, 0.3, 2));
    let same = baseline_drift(&reference, &baseline, &baseline, &config).unwrap();
    assert_eq!(same.verdict, Verdict::NoDrift, "{same:#?}");
    assert_eq!((same.judged, same.drifted), (2, 0));
    assert_eq!(same.features[0].score, Some(0.0));
    assert_eq!(same.features[1].score, Some(0.0));
    assert_eq!(same.features[1].new_category_share, Some(0.0), "the baseline saw 'lille'");
    assert!(same.violations.is_empty(), "{:?}", same.violations);
    // Against the training profile the same traffic drifts: the baseline is what changed the verdict.
    assert_eq!(window_drift(&reference, &baseline, &config).unwrap().verdict, Verdict::Drift);

    let resampled = window(&reference, &rows(5_000, 1.0, 0.3, 3));
    assert_eq!(baseline_drift(&reference, &baseline, &resampled, &config).unwrap().verdict, Verdict::NoDrift);

    let shifted = baseline_drift(&reference, &baseline, &window(&reference, &rows(5_000, 1.5, 0.8, 4)), &config);
    let shifted = shifted.unwrap();
    assert_eq!((shifted.verdict, shifted.judged, shifted.drifted), (Verdict::Drift, 2, 2), "{shifted:#?}");
    // The baseline's count picks the method (5,000 values: the distances); its spread scales W.
    assert_eq!(shifted.features[0].method, Some(Method::Wasserstein));
    assert_eq!(shifted.features[0].reference_count, 5_000);
    // Normal(1.5, 1) against normal(1, 1): W = 0.5 σ, seen through the reference's bins. Both
    // sides are spread alike within a bin, so a shift inside one is lost: the traffic sits in
    // the reference's wide upper bins (normal(0, 1)'s top 1/32 spans ~1.9 to ~4 σ), and the
    // distance comes out 10-15 % short (0.435-0.45 over 25 runs: the KLL sketch's edges vary).
    let w = shifted.features[0].score.unwrap();
    assert!((0.4..0.52).contains(&w), "{w}");
    assert_eq!(shifted.features[1].method, Some(Method::JensenShannon));

    // A small baseline uses the tests, sized by both counts.
    let small = window(&reference, &rows(400, 0.0, 0.0, 5));
    let drift = baseline_drift(&reference, &small, &window(&reference, &rows(400, 0.3, 0.0, 6)), &config).unwrap();
    assert_eq!(drift.features[0].method, Some(Method::Ks));
    assert_eq!(drift.features[0].verdict, Verdict::Drift, "{:?}", drift.features[0]);
    assert_eq!(drift.features[1].method, Some(Method::ChiSquare));
}

#[test]
fn a_category_the_baseline_never_saw_is_new_and_completeness_is_the_baselines() {
    let config = DriftConfig::default();
    let reference = Reference::from_profile(&profile(&rows(20_000, 0.0, 0.3, 7)));
    // A baseline without "lille" (mix 0), a current window with about half of it.
    let baseline = window(&reference, &rows(3_000, 0.0, 0.0, 8));
    let drift = baseline_drift(&reference, &baseline, &window(&reference, &rows(3_000, 0.0, 0.5, 9)), &config);
    let new = drift.unwrap().features[1].new_category_share.unwrap();
    assert!((new - 0.5).abs() < 0.05, "{new}");

    // Completeness may not drop below the baseline's (here full), whatever the reference's.
    let mut current = window(&reference, &rows(1_000, 0.0, 0.0, 10));
    (0..100).for_each(|_| current.record_null(0));
    let v = baseline_drift(&reference, &baseline, &current, &config).unwrap().violations;
    assert!(v.iter().any(|v| matches!(v, Violation::CompletenessDropped { feature, .. } if feature == "x")), "{v:?}");
}

/// When the baseline's counts are the training data's own, judging against it is judging against
/// the reference, up to how far the baseline's binned CDF lies from the reference's grid CDF. By
/// the triangle inequality (both metrics are distances between CDFs), the two paths' KS statistics
/// differ by at most the KS distance between baseline and reference, and their Wasserstein
/// distances by at most the Wasserstein distance between them: both measured here, and both
/// small — the KLL sketch's rank error (about 1.3 %, randomised: the bound varies by run), which
/// the Wasserstein distance integrates over the ~8 σ the values span (over 55 runs at most 0.009
/// for KS and 0.035 σ for Wasserstein).
#[test]
fn a_baseline_of_the_training_data_agrees_with_the_reference() {
    let training = rows(20_000, 0.0, 0.2, 11);
    let reference = Reference::from_profile(&profile(&training));
    let baseline = window(&reference, &training);
    for (shift, mix) in [(0.0, 0.2), (0.2, 0.3), (0.7, 0.6)] {
        let current = window(&reference, &rows(5_000, shift, mix, 12));
        for method in [Method::Ks, Method::Wasserstein] {
            let config = DriftConfig { numeric_method: Some(method), ..DriftConfig::default() };
            let gap = window_drift(&reference, &baseline, &config).unwrap().features[0].clone();
            let by_reference = window_drift(&reference, &current, &config).unwrap().features[0].clone();
            let by_baseline = baseline_drift(&reference, &baseline, &current, &config).unwrap().features[0].clone();
            let (bound, a, b) = match method {
                Method::Ks => (gap.statistic.unwrap(), by_reference.statistic.unwrap(), by_baseline.statistic.unwrap()),
                // The distances are both over a standard deviation: the reference's and the
                // baseline's, equal up to rounding (the same 20,000 values).
                Method::Wasserstein | Method::ChiSquare | Method::ZTest | Method::JensenShannon => {
                    (gap.score.unwrap(), by_reference.score.unwrap(), by_baseline.score.unwrap())
                }
            };
            let most = match method {
                Method::Ks => 0.025,
                Method::Wasserstein | Method::ChiSquare | Method::ZTest | Method::JensenShannon => 0.06,
            };
            assert!(bound < most, "{method:?}: baseline vs reference {bound}");
            assert!((a - b).abs() <= bound + 1e-6, "{method:?} shift {shift}: {a} vs {b}, bound {bound}");
        }
        // Categories are counted exactly on both sides: the same statistic.
        let config = DriftConfig::default();
        let by_reference = window_drift(&reference, &current, &config).unwrap().features[1].clone();
        let by_baseline = baseline_drift(&reference, &baseline, &current, &config).unwrap().features[1].clone();
        assert_eq!(by_reference.method, by_baseline.method);
        assert!((by_reference.score.unwrap() - by_baseline.score.unwrap()).abs() < 1e-9);
        assert_eq!(by_reference.verdict, by_baseline.verdict);
    }
}

#[test]
fn windows_of_another_reference_or_shape_are_refused() {
    let config = DriftConfig::default();
    let reference = Reference::from_profile(&profile(&rows(5_000, 0.0, 0.0, 13)));
    let other = Reference::from_profile(&profile(&rows(5_000, 1.0, 0.0, 14)));
    let mine = window(&reference, &rows(500, 0.0, 0.0, 15));
    let theirs = window(&other, &rows(500, 0.0, 0.0, 15));
    for (baseline, current) in [(&theirs, &mine), (&mine, &theirs)] {
        assert!(matches!(
            baseline_drift(&reference, baseline, current, &config),
            Err(DriftError::ReferenceMismatch { .. })
        ));
    }
    let mut short = mine.clone();
    short.features.pop();
    assert_eq!(
        baseline_drift(&reference, &short, &mine, &config),
        Err(DriftError::FeatureCountMismatch { window: 1, reference: 2 })
    );
    // A baseline with no values of a feature judges nothing there.
    let empty = Window::new(&reference);
    let drift = baseline_drift(&reference, &empty, &mine, &config).unwrap();
    assert!(drift.features.iter().all(|f| f.verdict == Verdict::Incomparable && f.reference_count == 0));
    assert_eq!(drift.verdict, Verdict::NotEnoughData);
}
