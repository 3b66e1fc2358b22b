//! The stored size of telemetry: a 10-feature model with a training
//! reference, active for a whole day of minute windows, merged through the
//! real store and the real merge; what is kept after the base windows'
//! retention is its hours and its day.

use flotilla_core::VersionNumber;
use flotilla_drift::{Reference, Window};
use flotilla_profile::{ContentType, Profiler};
use flotilla_store::monitor::{DAY_MS, ErrorCounts, Grain, MonitorStore, Retention, WindowDelta, WindowQuery};
use flotilla_store::{NewModelVersion, RegistryStore, SqliteStore};
use rand::{Rng, SeedableRng};

use super::stats::{ColumnStats, LATENCY_BUCKETS, StatsMerger, WindowStats, latency_bucket};

const FEATURES: usize = 10;
/// Stored bytes of a window row beside its blob: the key and counting
/// columns as SQLite records them (integers of 1 to 8 bytes, a header) and
/// the primary-key index's copy of the key in a WITHOUT ROWID table (none).
const ROW_OVERHEAD: usize = 40;

fn reference() -> Reference {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut csv = (0..FEATURES).map(|i| format!("f{i}")).collect::<Vec<_>>().join(",") + "\n";
    for _ in 0..20_000 {
        let row: Vec<String> = (0..FEATURES).map(|_| format!("{:.4}", rng.random::<f64>() * 100.0)).collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    Reference::from_profile(&Profiler::default().profile(csv.as_bytes(), ContentType::Csv).unwrap())
}

fn minute(reference: &Reference, rng: &mut impl Rng, requests: usize) -> WindowStats {
    let mut stats = WindowStats {
        latency: vec![0; LATENCY_BUCKETS],
        columns: vec![ColumnStats::default(); FEATURES + 1],
        drift: Some(Window::new(reference)),
        performance: None,
    };
    let window = stats.drift.as_mut().unwrap();
    for _ in 0..requests {
        stats.latency[latency_bucket(rng.random_range(200_000..5_000_000))] += 1;
        for f in 0..FEATURES {
            let v = rng.random::<f64>() * 110.0;
            stats.columns[f].record(v);
            window.record_number(reference, f, v);
        }
        stats.columns[FEATURES].record(rng.random::<f64>());
    }
    stats
}

#[test]
fn a_ten_feature_model_hour_stays_under_two_kilobytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    store.create_registered_model("m", &[], None).unwrap();
    let new = NewModelVersion { name: "m".into(), source: "mlflow-artifacts:/m".into(), ..Default::default() };
    let v: VersionNumber = store.create_model_version(&new).unwrap().version;
    let reference = reference();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let day = 100 * DAY_MS;
    let deltas: Vec<WindowDelta> = (0..24 * 60)
        .map(|m| WindowDelta {
            model: "m".into(),
            version: v,
            start_ms: day + m * 60_000,
            length_ms: 60_000,
            requests: 600,
            rows: 600,
            errors: ErrorCounts::default(),
            cache: flotilla_store::monitor::CacheCounts::default(),
            fingerprint: Some(reference.fingerprint),
            stats: minute(&reference, &mut rng, 600).to_bytes(),
            columns: None,
        })
        .collect();
    let now = day + DAY_MS;
    for chunk in deltas.chunks(60) {
        store.merge_windows(chunk, &Retention::default(), now, &StatsMerger).unwrap();
    }
    let size = |grain| {
        let q = WindowQuery { model: "m".into(), version: Some(v), grain, from_ms: 0, to_ms: i64::MAX };
        let rows = store.windows(&q).unwrap().rows;
        (rows.len(), rows.iter().map(|r| r.stats.len() + ROW_OVERHEAD).sum::<usize>())
    };
    let (hours, hour_bytes) = size(Grain::Hour);
    let (days, day_bytes) = size(Grain::Day);
    let (minutes, minute_bytes) = size(Grain::Base);
    assert_eq!((hours, days, minutes), (24, 1, 24 * 60));
    let per_model_hour = (hour_bytes + day_bytes) as f64 / 24.0;
    eprintln!(
        "stored per active model-hour after roll-up: {per_model_hour:.0} B (hour {} B, day {} B); \
         a minute window {} B",
        hour_bytes / 24,
        day_bytes,
        minute_bytes / minutes
    );
    assert!(per_model_hour <= 2048.0, "{per_model_hour} B per model-hour");
    // The hour adds up its minutes.
    let q = WindowQuery { model: "m".into(), version: Some(v), grain: Grain::Day, from_ms: 0, to_ms: i64::MAX };
    let d = WindowStats::from_bytes(&store.windows(&q).unwrap().rows[0].stats).unwrap();
    assert_eq!(d.latency.iter().sum::<u64>(), 600 * 24 * 60);
    assert_eq!(d.drift.unwrap().features[0].rows(), 600 * 24 * 60);
}

#[test]
fn idle_versions_are_dropped_after_their_windows_flush() {
    use flotilla_infer::Tensor;

    use super::{CacheUse, IDLE_WINDOWS, InferRecord, Telemetry, TelemetryConfig, Timing, now_ms};
    let t = Telemetry::new(TelemetryConfig { window_ms: 1000, retention: Retention::default() });
    let input = [Tensor::f32("x", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, f32::NAN])];
    let out = Tensor::f32("y", vec![2], vec![0.5, 0.7]);
    let timing = Timing { total_ns: 1_000_000, ..Timing::default() };
    for v in 1..=3 {
        // Each version loads, then is found in memory (version 3 twice).
        for hit in [false, true, v == 3] {
            let cache = Some(CacheUse { hit, model_bytes: 1000 * v as u64 });
            let rec = InferRecord { inputs: &input, outputs: &[&out], signature: &[], timing, error: None, cache };
            t.record_infer("m", VersionNumber::new(v).unwrap(), &rec);
        }
    }
    assert_eq!(t.active(), 3);
    assert_eq!(t.v2_stats("m", None).len(), 3);
    assert_eq!(t.v2_stats("m", VersionNumber::new(2)).len(), 1);
    let now = now_ms();
    let deltas = t.take_closed(now + 1000, false);
    assert_eq!(deltas.len(), 3, "one closed window per version");
    let cache: Vec<_> =
        deltas.iter().map(|d| (d.version.get(), d.cache.hits, d.cache.misses, d.cache.model_bytes)).collect();
    assert!(cache.contains(&(1, 1, 2, 1000)) && cache.contains(&(3, 2, 1, 3000)), "{cache:?}");
    let stats = WindowStats::from_bytes(&deltas[0].stats).unwrap();
    assert_eq!(stats.columns.len(), 4, "three inputs by position, one output");
    assert_eq!((stats.columns[2].count, stats.columns[2].nans), (3, 3), "three requests");
    assert_eq!(deltas[0].columns.as_ref().unwrap().1, ["input_0", "input_1", "input_2", "y"]);
    for k in 1..IDLE_WINDOWS as i64 {
        assert!(t.take_closed(now + 1000 * (k + 1), false).is_empty());
        assert_eq!(t.active(), 3, "kept while idle for fewer than {IDLE_WINDOWS} windows");
    }
    t.take_closed(now + 1000 * (IDLE_WINDOWS as i64 + 1), false);
    assert_eq!(t.active(), 0, "memory goes with the idle versions");
}
