//! Drift end to end on generated data: references profiled by flotilla-profile, current data as
//! profiles and as windows; verdicts, minimum sample, windows' bytes and merging, violations.

use std::fmt::Write as _;

use flotilla_profile::{ContentType, Profile, Profiler};

use crate::{DriftConfig, DriftError, Method, Reference, Verdict, Violation, Window, profile_drift, window_drift};

/// A small xorshift generator: the tests need no dependency for noise.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Rows of (x: normal(shift, 1), city: one of four, shares moved by `mix`).
pub(crate) fn rows(n: usize, shift: f64, mix: f64, seed: u64) -> Vec<(f64, &'static str)> {
    let mut rng = Rng(seed);
    let cities = ["paris", "lyon", "nice", "lille"];
    (0..n)
        .map(|_| {
            let u = rng.uniform();
            let city = if u < mix { cities[3] } else { cities[(rng.uniform() * 3.0) as usize] };
            (rng.normal() + shift, city)
        })
        .collect()
}

pub(crate) fn profile(rows: &[(f64, &str)]) -> Profile {
    let mut csv = String::from("x,city\n");
    for (x, city) in rows {
        writeln!(csv, "{x},{city}").unwrap();
    }
    Profiler::default().profile(csv.as_bytes(), ContentType::Csv).unwrap()
}

pub(crate) fn window(reference: &Reference, rows: &[(f64, &str)]) -> Window {
    let mut w = Window::new(reference);
    for (x, city) in rows {
        w.record_number(reference, 0, *x);
        w.record_category(reference, 1, city);
    }
    w
}

#[test]
fn same_distribution_does_not_drift_and_a_shift_does() {
    let config = DriftConfig::default();
    let reference = Reference::from_profile(&profile(&rows(20_000, 0.0, 0.0, 1)));
    let same = rows(5_000, 0.0, 0.0, 2);
    let shifted = rows(5_000, 0.5, 0.5, 3);
    for drift in [
        window_drift(&reference, &window(&reference, &same), &config).unwrap(),
        profile_drift(&reference, &profile(&same), &config),
    ] {
        assert_eq!(drift.verdict, Verdict::NoDrift, "{drift:#?}");
        assert_eq!(drift.features[0].method, Some(Method::Wasserstein));
        assert_eq!(drift.features[1].method, Some(Method::JensenShannon));
        assert!(drift.features[0].score.unwrap() < 0.05);
        assert_eq!(drift.features[1].new_category_share, Some(0.0));
        assert!(drift.violations.is_empty(), "{:?}", drift.violations);
    }
    for drift in [
        window_drift(&reference, &window(&reference, &shifted), &config).unwrap(),
        profile_drift(&reference, &profile(&shifted), &config),
    ] {
        assert_eq!(drift.verdict, Verdict::Drift);
        assert_eq!((drift.judged, drift.drifted), (2, 2));
        // Normal(0.5, 1) against normal(0, 1): W = 0.5 σ.
        let w = drift.features[0].score.unwrap();
        assert!((w - 0.5).abs() < 0.05, "{w}");
        // "lille" was never seen in the reference: about half the values are new.
        let new = drift.features[1].new_category_share.unwrap();
        assert!((new - 0.5).abs() < 0.05, "{new}");
        assert!(drift.violations.iter().any(|v| matches!(v, Violation::NewCategories { .. })));
    }
}

#[test]
fn small_references_use_the_tests() {
    let config = DriftConfig::default();
    let reference = Reference::from_profile(&profile(&rows(800, 0.0, 0.0, 4)));
    let same = window_drift(&reference, &window(&reference, &rows(800, 0.0, 0.0, 5)), &config).unwrap();
    assert_eq!(same.features[0].method, Some(Method::Ks));
    assert_eq!(same.features[1].method, Some(Method::ChiSquare));
    assert!(same.features[0].score.unwrap() > 0.05, "{:?}", same.features[0]);
    let shifted = window_drift(&reference, &window(&reference, &rows(800, 0.3, 0.0, 6)), &config).unwrap();
    assert_eq!(shifted.features[0].verdict, Verdict::Drift);
    assert!(shifted.features[0].statistic.unwrap() > 0.08);
    // One feature of two drifted: half the columns, so the dataset drifts.
    assert_eq!(shifted.verdict, Verdict::Drift);
    let strict = DriftConfig { drift_share: 0.75, ..config };
    let again = window_drift(&reference, &window(&reference, &rows(800, 0.3, 0.0, 6)), &strict).unwrap();
    assert_eq!(again.verdict, Verdict::NoDrift);
}

#[test]
fn below_the_minimum_sample_nothing_is_declared() {
    let config = DriftConfig { min_sample_size: 100, ..DriftConfig::default() };
    let reference = Reference::from_profile(&profile(&rows(5_000, 0.0, 0.0, 7)));
    let drift = window_drift(&reference, &window(&reference, &rows(99, 3.0, 0.9, 8)), &config).unwrap();
    assert!(drift.features.iter().all(|f| f.verdict == Verdict::NotEnoughData && f.score.is_none()));
    assert_eq!(drift.verdict, Verdict::NotEnoughData);
    let drift = window_drift(&reference, &window(&reference, &rows(100, 3.0, 0.9, 8)), &config).unwrap();
    assert_eq!(drift.verdict, Verdict::Drift);
}

#[test]
fn windows_merge_roll_up_and_round_trip_through_bytes() {
    let reference = Reference::from_profile(&profile(&rows(10_000, 0.0, 0.0, 9)));
    let a = window(&reference, &rows(1_000, 0.0, 0.0, 10));
    let b = window(&reference, &rows(2_000, 4.0, 0.0, 11));
    let mut hour = a.clone();
    hour.merge(&b).unwrap();
    assert_eq!(hour.features[0].count(), 3_000);
    let bytes = hour.to_bytes();
    assert_eq!(Window::from_bytes(&bytes).unwrap(), hour);
    for cut in [0, 1, 9, bytes.len() - 1] {
        assert!(Window::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // A claimed length beyond the bytes is refused before anything is allocated.
    let mut huge = bytes[..9].to_vec();
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(Window::from_bytes(&huge), Err(DriftError::CorruptWindow("length out of range")));
    // A window of another reference is refused.
    let other = Reference::from_profile(&profile(&rows(10_000, 1.0, 0.0, 12)));
    assert!(matches!(window_drift(&other, &hour, &DriftConfig::default()), Err(DriftError::ReferenceMismatch { .. })));
    assert!(hour.merge(&Window::new(&other)).is_err());
}

#[test]
fn a_ten_feature_hour_fits_in_two_kilobytes() {
    let mut csv = String::from("f0,f1,f2,f3,f4,f5,f6,f7,f8,f9\n");
    let mut rng = Rng(13);
    for _ in 0..20_000 {
        let row: Vec<String> = (0..10).map(|_| format!("{}", rng.normal())).collect();
        writeln!(csv, "{}", row.join(",")).unwrap();
    }
    let reference = Reference::from_profile(&Profiler::default().profile(csv.as_bytes(), ContentType::Csv).unwrap());
    let mut w = Window::new(&reference);
    // An hour at 10 requests a second.
    for _ in 0..36_000 {
        for f in 0..10 {
            w.record_number(&reference, f, rng.normal());
        }
    }
    let size = w.to_bytes().len();
    assert!(size <= 2048, "{size} bytes");
}

#[test]
fn nan_infinities_nulls_and_wrong_types_are_counted() {
    let reference = Reference::from_profile(&profile(&rows(5_000, 0.0, 0.0, 14)));
    let mut w = window(&reference, &rows(1_000, 0.0, 0.0, 15));
    w.record_number(&reference, 0, f64::NAN);
    w.record_number(&reference, 0, f64::INFINITY);
    w.record_category(&reference, 0, "not a number");
    w.record_null(1);
    w.record_number(&reference, 7, 1.0);
    assert_eq!((w.features[0].nans, w.features[0].mismatched, w.features[0].count()), (2, 1, 1_000));
    assert_eq!(w.features[1].nulls, 1);
    let drift = window_drift(&reference, &w, &DriftConfig::default()).unwrap();
    assert_eq!(drift.verdict, Verdict::NoDrift);
}

#[test]
fn violations_name_missing_extra_retyped_and_incomplete_columns() {
    let reference = Reference::from_profile(&profile(&rows(5_000, 0.0, 0.0, 16)));
    let mut csv = String::from("x,extra\n");
    for i in 0..1_000 {
        if i % 3 == 0 {
            writeln!(csv, ",{i}").unwrap();
        } else {
            writeln!(csv, "v{i},{i}").unwrap();
        }
    }
    let current = Profiler::default().profile(csv.as_bytes(), ContentType::Csv).unwrap();
    let drift = profile_drift(&reference, &current, &DriftConfig::default());
    let v = &drift.violations;
    assert!(v.contains(&Violation::MissingColumn { feature: "city".into() }), "{v:?}");
    assert!(v.contains(&Violation::ExtraColumn { feature: "extra".into() }));
    assert!(v.contains(&Violation::DataTypeChanged {
        feature: "x".into(),
        reference: "float".into(),
        current: "string".into()
    }));
    assert!(v.iter().any(|v| matches!(v, Violation::CompletenessDropped { feature, .. } if feature == "x")));
    assert_eq!(drift.features[0].verdict, Verdict::Incomparable);

    // In a window: a column every row lacked, and a number column fed strings.
    let mut w = Window::new(&reference);
    for i in 0..100 {
        w.record_category(&reference, 0, &format!("v{i}"));
        w.record_null(1);
    }
    let v = window_drift(&reference, &w, &DriftConfig::default()).unwrap().violations;
    assert!(v.contains(&Violation::MissingColumn { feature: "city".into() }), "{v:?}");
    assert!(v.iter().any(|v| matches!(v, Violation::DataTypeChanged { feature, .. } if feature == "x")));
}

#[test]
fn results_serialize_as_plain_json() {
    let reference = Reference::from_profile(&profile(&rows(2_000, 0.0, 0.0, 17)));
    let drift =
        window_drift(&reference, &window(&reference, &rows(500, 0.0, 0.0, 18)), &DriftConfig::default()).unwrap();
    let json = serde_json::to_value(&drift).unwrap();
    assert_eq!(json["features"][0]["method"], "wasserstein");
    assert_eq!(json["features"][0]["threshold"], 0.1);
    assert_eq!(json["verdict"], "no_drift");
    let back: crate::DatasetDrift = serde_json::from_value(json).unwrap();
    assert_eq!(back, drift);
}

#[test]
fn a_prepared_reference_round_trips_through_bytes() {
    let reference = Reference::from_profile(&profile(&rows(5_000, 0.0, 0.0, 19)));
    let bytes = reference.to_bytes();
    let back = Reference::from_bytes(&bytes).unwrap();
    assert_eq!(back.fingerprint, reference.fingerprint);
    let current = window(&reference, &rows(2_000, 0.4, 0.3, 20));
    let config = DriftConfig::default();
    assert_eq!(window_drift(&back, &current, &config).unwrap(), window_drift(&reference, &current, &config).unwrap());
    for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
        assert!(Reference::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}
