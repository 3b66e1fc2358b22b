//! The health job on a real store: a window with errors fails the error
//! rate as it closes; the daily pass finds a version served earlier in the
//! week and silent all day idle, and one without a reference lacks a baseline.

use std::sync::Mutex;

use flotilla_core::VersionNumber;
use flotilla_store::health::{Check, HealthStore, Status};
use flotilla_store::monitor::{DAY_MS, ErrorCounts, MonitorStore, Retention, WindowDelta};
use flotilla_store::{NewModelVersion, RegistryStore, SqliteStore};

use super::job::{Objectives, Pass, judge};
use crate::monitor::drift::ReferenceCache;
use crate::monitor::telemetry::stats::{StatsMerger, WindowStats};

fn status(store: &SqliteStore, model: &str, check: Check) -> Option<Status> {
    store.model_health(model).unwrap().into_iter().find(|c| c.check == check).map(|c| c.status)
}

#[test]
fn windows_and_days_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    for name in ["busy", "quiet"] {
        store.create_registered_model(name, &[], None).unwrap();
        let v = NewModelVersion {
            name: name.into(),
            source: "mlflow-artifacts:/x".into(),
            run_id: None,
            run_link: None,
            model_id: None,
            description: None,
            tags: vec![],
        };
        store.create_model_version(&v).unwrap();
    }
    let day = (crate::monitor::telemetry::now_ms() / DAY_MS) * DAY_MS;
    let delta = |model: &str, start_ms: i64, errors: u64| WindowDelta {
        model: model.into(),
        version: VersionNumber::new(1).unwrap(),
        start_ms,
        length_ms: 60_000,
        requests: 100,
        rows: 100,
        errors: ErrorCounts { client: errors, ..ErrorCounts::default() },
        cache: flotilla_store::monitor::CacheCounts::default(),
        fingerprint: None,
        stats: WindowStats::default().to_bytes(),
        columns: None,
    };
    let now = day + 1;
    // "busy" served yesterday with 10 % errors; "quiet" three days ago only.
    let yesterday = day - DAY_MS + 60_000;
    let deltas = [delta("busy", yesterday, 10), delta("quiet", day - 3 * DAY_MS, 0)];
    store.merge_windows(&deltas, &Retention::default(), now, &StatsMerger).unwrap();
    let cache = Mutex::new(ReferenceCache::default());

    let (models, _) =
        judge(&store, yesterday, yesterday + 60_000, Pass::Window, &Objectives::default(), &cache).unwrap();
    assert_eq!(models, 1);
    assert_eq!(status(&store, "busy", Check::ErrorRate), Some(Status::Fail));
    assert_eq!(status(&store, "busy", Check::Traffic), Some(Status::Ok));

    let (models, _) = judge(&store, day - DAY_MS, day, Pass::Daily, &Objectives::default(), &cache).unwrap();
    assert_eq!(models, 2);
    assert_eq!(status(&store, "quiet", Check::Traffic), Some(Status::Warn), "silent all day: idle");
    assert_eq!(status(&store, "busy", Check::Traffic), Some(Status::Ok), "the daily pass leaves traffic it saw");
    assert_eq!(status(&store, "busy", Check::Baseline), Some(Status::Warn), "no reference");
    assert_eq!(status(&store, "busy", Check::Staleness), Some(Status::Ok), "a new version");
}

#[test]
fn performance_is_judged_against_the_versions_earlier_days() {
    use crate::monitor::telemetry::stats::Performance;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    for name in ["worse", "steady", "unlabeled"] {
        store.create_registered_model(name, &[], None).unwrap();
        let v = NewModelVersion {
            name: name.into(),
            source: "mlflow-artifacts:/x".into(),
            run_id: None,
            run_link: None,
            model_id: None,
            description: None,
            tags: vec![],
        };
        store.create_model_version(&v).unwrap();
    }
    let day = (crate::monitor::telemetry::now_ms() / DAY_MS) * DAY_MS;
    // `n` labeled predictions with RMSE `rmse`, at `start_ms`.
    let labeled = |model: &str, start_ms: i64, rmse: Option<f64>| {
        let performance = rmse.map(|e| Performance {
            regression: 100,
            abs_error: 100.0 * e,
            sq_error: 100.0 * e * e,
            ..Performance::default()
        });
        WindowDelta {
            model: model.into(),
            version: VersionNumber::new(1).unwrap(),
            start_ms,
            length_ms: 60_000,
            requests: 100,
            rows: 100,
            errors: ErrorCounts::default(),
            cache: flotilla_store::monitor::CacheCounts::default(),
            fingerprint: None,
            stats: WindowStats { performance, ..WindowStats::default() }.to_bytes(),
            columns: None,
        }
    };
    let (earlier, yesterday) = (day - 3 * DAY_MS + 60_000, day - DAY_MS + 60_000);
    let deltas = [
        labeled("worse", earlier, Some(1.0)),
        labeled("worse", yesterday, Some(1.5)),
        labeled("steady", earlier, Some(1.0)),
        labeled("steady", yesterday, Some(1.02)),
        labeled("unlabeled", yesterday, None),
    ];
    store.merge_windows(&deltas, &Retention::default(), day + 1, &StatsMerger).unwrap();
    let cache = Mutex::new(ReferenceCache::default());
    judge(&store, day - DAY_MS, day, Pass::Daily, &Objectives::default(), &cache).unwrap();
    assert_eq!(status(&store, "worse", Check::Performance), Some(Status::Fail), "RMSE up 50 %");
    assert_eq!(status(&store, "steady", Check::Performance), Some(Status::Ok), "RMSE up 2 %");
    assert_eq!(status(&store, "unlabeled", Check::Performance), None, "no labels: not judged");

    // A configured objective decides over the version's own history.
    let strict = Objectives { rmse_max: Some(1.01), ..Objectives::default() };
    judge(&store, day - DAY_MS, day, Pass::Daily, &strict, &cache).unwrap();
    assert_eq!(status(&store, "steady", Check::Performance), Some(Status::Fail), "over the objective");
}
