//! Two halves of a file, profiled apart and merged, equal the whole's profile within the
//! sketches' error: counts, min and max exactly, mean and variance to 1e-9 relative.

use datasketches::common::{NumStdDev, SearchCriteria};
use flotilla_profile::{ContentType, FeatureType, Profile, Profiler, ProfilerConfig};

use crate::common::{Table, rank_of, rel_close, table};

const ROWS: usize = 60_000;

fn profiler() -> Profiler {
    // Small batches, so each half spans many of them.
    Profiler::new(ProfilerConfig { batch_rows: 4096, ..ProfilerConfig::default() })
}

fn check_merge_equals_whole(t: &Table, whole: &Profile, merged: &Profile) {
    assert_eq!(merged.rows, whole.rows);
    assert_eq!(whole.rows, t.len() as u64);
    for w in &whole.features {
        let m = merged.feature(&w.name).expect("merged has every column");
        assert_eq!(m.feature_type, w.feature_type, "{}", w.name);
        assert_eq!((m.rows, m.nulls, m.nans), (w.rows, w.nulls, w.nans), "{}", w.name);
    }
    // Numbers: moments and quantiles.
    let x_whole = whole.feature("x").unwrap().numeric().unwrap();
    let x_merged = merged.feature("x").unwrap().numeric().unwrap();
    let (a, b) = (&x_whole.moments, &x_merged.moments);
    assert_eq!(a.count, b.count);
    assert_eq!((a.min, a.max), (b.min, b.max));
    assert!(rel_close(a.mean, b.mean, 1e-9), "mean {} vs {}", a.mean, b.mean);
    assert!(rel_close(a.m2, b.m2, 1e-9), "m2 {} vs {}", a.m2, b.m2);
    let sorted = t.sorted_x(0..t.len());
    assert_eq!(a.count as usize, sorted.len());
    assert_eq!((a.min, a.max), (sorted[0], sorted[sorted.len() - 1]));
    let exact_mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    assert!(rel_close(exact_mean, a.mean, 1e-9));
    let bound = x_merged.kll.normalized_rank_error();
    assert!(bound < 0.02, "KLL k=200 rank error bound {bound}");
    for rank in [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99] {
        let q = *x_merged.kll.quantile(rank, SearchCriteria::Inclusive).unwrap().unwrap();
        let err = (rank_of(&sorted, q) - rank).abs();
        assert!(err <= bound, "rank {rank}: quantile {q} has rank error {err} > {bound}");
    }
    // Integers: exact moments of the ints.
    let n = merged.feature("n").unwrap();
    assert_eq!(n.feature_type, FeatureType::Integer);
    let nm = &n.numeric().unwrap().moments;
    assert_eq!(nm.min, *t.n.iter().min().unwrap() as f64);
    assert_eq!(nm.max, *t.n.iter().max().unwrap() as f64);
    // Categories: distinct count within HLL's bound, the top item found.
    let city = merged.feature("city").unwrap().category().unwrap();
    let mut names: Vec<&String> = t.city.iter().flatten().collect();
    names.sort();
    names.dedup();
    let truth = names.len() as f64;
    let (lo, hi) = (city.hll.lower_bound(NumStdDev::Three), city.hll.upper_bound(NumStdDev::Three));
    assert!(lo <= truth && truth <= hi, "distinct {truth} outside [{lo}, {hi}]");
    let whole_city = whole.feature("city").unwrap().category().unwrap();
    assert!((city.hll.estimate() - whole_city.hll.estimate()).abs() <= 0.05 * truth);
    let summary = merged.summary();
    let top = &summary.features[2].category.as_ref().unwrap().top[0];
    assert_eq!(top.value, "city-0");
    let true_top = t.city.iter().flatten().filter(|c| *c == "city-0").count() as u64;
    assert!(top.lower <= true_top && true_top <= top.upper, "{top:?} vs {true_top}");
    let flag = merged.summary().features[3].category.clone().unwrap();
    assert_eq!(merged.feature("flag").unwrap().feature_type, FeatureType::Boolean);
    let trues = flag.top.iter().find(|i| i.value == "true").unwrap();
    assert_eq!(trues.estimate, t.flag.iter().filter(|f| **f).count() as u64);
}

#[test]
fn csv_halves_merge_to_the_whole() {
    let t = table(ROWS, 7);
    let p = profiler();
    let whole = p.profile(&t.csv(0..ROWS)[..], ContentType::Csv).unwrap();
    let mut merged = p.profile(&t.csv(0..ROWS / 3)[..], ContentType::Csv).unwrap();
    let second = p.profile(&t.csv(ROWS / 3..ROWS)[..], ContentType::Csv).unwrap();
    merged.merge(&second).unwrap();
    check_merge_equals_whole(&t, &whole, &merged);
    assert_eq!(whole.feature("x").unwrap().feature_type, FeatureType::Float);
    assert_eq!(whole.feature("city").unwrap().feature_type, FeatureType::String);
}

#[test]
fn parquet_halves_merge_to_the_whole_and_match_csv_and_arrow() {
    let t = table(ROWS, 11);
    let p = profiler();
    let whole = p.profile(&t.parquet(0..ROWS, 10_000)[..], ContentType::Parquet).unwrap();
    let mut merged = p.profile(&t.parquet(0..ROWS / 2, 7_000)[..], ContentType::Parquet).unwrap();
    let second = p.profile(&t.parquet(ROWS / 2..ROWS, 7_000)[..], ContentType::Parquet).unwrap();
    merged.merge(&second).unwrap();
    check_merge_equals_whole(&t, &whole, &merged);

    // The same data as an Arrow IPC stream and as CSV: the same counts and moments.
    let ipc = p.profile(&t.ipc(0..ROWS, 5_000)[..], ContentType::ArrowStream).unwrap();
    let csv = p.profile(&t.csv(0..ROWS)[..], ContentType::Csv).unwrap();
    for other in [&ipc, &csv] {
        check_merge_equals_whole(&t, &whole, other);
    }
}

#[test]
fn bytes_round_trip_and_merge_after_decoding() {
    let t = table(20_000, 3);
    let p = profiler();
    let a = p.profile(&t.csv(0..10_000)[..], ContentType::Csv).unwrap();
    let b = p.profile(&t.csv(10_000..20_000)[..], ContentType::Csv).unwrap();
    let whole = p.profile(&t.csv(0..20_000)[..], ContentType::Csv).unwrap();
    let mut a2 = Profile::from_bytes(&a.to_bytes()).unwrap();
    a2.merge(&Profile::from_bytes(&b.to_bytes()).unwrap()).unwrap();
    check_merge_equals_whole(&t, &whole, &a2);
    let json = serde_json::to_value(a2.summary()).unwrap();
    assert_eq!(json["rows"], 20_000);
    assert_eq!(json["features"][0]["type"], "float");
    assert_eq!(json["features"][0]["numeric"]["quantiles"].as_array().unwrap().len(), 23);
    assert_eq!(json["features"][2]["category"]["top"][0]["value"], "city-0");
    // Re-encoding is stable.
    assert_eq!(Profile::from_bytes(&a2.to_bytes()).unwrap().to_bytes(), a2.to_bytes());
}

#[test]
fn a_failed_merge_leaves_the_profile_whole() {
    let p = profiler();
    let mut a = p.profile(&b"k,v\n1,2\n"[..], ContentType::Csv).unwrap();
    let before = a.to_bytes();
    let other_type = p.profile(&b"k,v\n1,x\n"[..], ContentType::Csv).unwrap();
    let err = a.merge(&other_type).unwrap_err();
    assert!(err.to_string().contains("\"v\""), "{err}");
    let other_columns = p.profile(&b"k,w\n1,2\n"[..], ContentType::Csv).unwrap();
    let err = a.merge(&other_columns).unwrap_err();
    assert!(err.to_string().contains("\"w\""), "{err}");
    assert_eq!(a.to_bytes(), before);
    // Integer merges with float; a column all null merges with anything.
    let floats = p.profile(&b"k,v\n1.5,\n"[..], ContentType::Csv).unwrap();
    a.merge(&floats).unwrap();
    assert_eq!(a.feature("k").unwrap().feature_type, FeatureType::Float);
    assert_eq!(a.feature("v").unwrap().feature_type, FeatureType::Integer);
    assert_eq!(a.feature("v").unwrap().nulls, 1);
}

#[test]
fn corrupt_bytes_are_errors_never_panics() {
    let t = table(2_000, 5);
    let bytes = profiler().profile(&t.csv(0..2_000)[..], ContentType::Csv).unwrap().to_bytes();
    for len in (0..bytes.len()).step_by(7) {
        assert!(Profile::from_bytes(&bytes[..len]).is_err(), "prefix of {len}");
    }
    let mut flipped = bytes.clone();
    flipped[13..17].copy_from_slice(&u32::MAX.to_le_bytes()); // a huge feature count
    assert!(Profile::from_bytes(&flipped).is_err());
}
