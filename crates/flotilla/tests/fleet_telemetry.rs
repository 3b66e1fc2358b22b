//! `flotilla fleet generate --telemetry` (issue 15, point 8) through the
//! real CLI, then the health job's daily pass on the store it wrote: the
//! generated windows are binned against the reference found through
//! lineage (so drift is judged), the drifting families' models and only
//! theirs fail data drift, idle models warn, and champions trained on
//! superseded data are stale. Then the served pages read the windows.

use std::sync::Mutex;

use flotilla_app::monitor::drift::ReferenceCache;
use flotilla_app::monitor::health::job::{Objectives, Pass, judge};
use flotilla_store::health::{Check, HealthScope, HealthStore, Status};
use flotilla_store::monitor::DAY_MS;
use flotilla_store::{SqliteStore, Visible};
use flotilla_testkit::{Requester as Client, TestServer, options};

const FAMILIES: [&str; 6] = ["demand-forecast", "churn", "pricing", "fraud", "eta", "inventory"];

fn count(store: &SqliteStore, scope: HealthScope, check: Check, status: Status) -> i64 {
    let counts = store.health_counts(&scope, &Visible::everything()).unwrap();
    counts.counts.iter().find(|c| c.check == check && c.status == status).map_or(0, |c| c.models)
}

#[test]
fn generated_telemetry_is_judged_by_the_daily_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["fleet", "generate", "--models", "3000", "--families", "6", "--regions", "10", "--telemetry"])
        .args(["--telemetry-days", "5", "--telemetry-hours", "3", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("flotilla fleet generate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["telemetry"]["versions"], 3000, "{summary}");
    let windows = summary["telemetry"]["windows"].as_u64().unwrap();
    assert!((3000 * 6..=3000 * 8).contains(&windows), "{summary}");

    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let day = now.div_euclid(DAY_MS) * DAY_MS;
    let cache = Mutex::new(ReferenceCache::default());
    let (judged, _) = judge(&store, day - DAY_MS, day, Pass::Daily, &Objectives::default(), &cache).unwrap();
    assert_eq!(judged, 3000, "every store's champion, idle ones included");

    // Family ids 3 and 6 (pricing, inventory) drift: a quarter of their models.
    for (i, family) in FAMILIES.iter().enumerate() {
        let scope = || HealthScope::Family(family.to_string());
        let fails = count(&store, scope(), Check::DataDrift, Status::Fail);
        let oks = count(&store, scope(), Check::DataDrift, Status::Ok);
        if (i + 1) % 3 == 0 {
            assert!(fails * 8 > oks && fails * 2 < oks, "{family}: {fails} drifting, {oks} not");
        } else {
            assert_eq!(fails, 0, "{family} does not drift");
            assert!(oks > 300, "{family}: {oks} judged without drift");
        }
    }
    let idle = count(&store, HealthScope::Fleet, Check::Traffic, Status::Warn);
    assert!((150..=450).contains(&idle), "one model in ten idle: {idle}");
    assert_eq!(count(&store, HealthScope::Fleet, Check::Baseline, Status::Ok), 3000, "every champion has a reference");
    let stale = count(&store, HealthScope::Fleet, Check::Staleness, Status::Warn)
        + count(&store, HealthScope::Fleet, Check::Staleness, Status::Fail);
    assert!(stale > 1000, "champions trained on superseded data: {stale}");
    drop(store);

    // The pages and the drift API read the generated windows.
    let server = TestServer::start_in(dir, options!());
    let client = Client::anonymous(&server);
    let health = client.get("/api/monitor/v1/health?family=pricing&max_results=5");
    let model = health["worst"][0]["model"].as_str().unwrap().to_string();
    let drift = client.get(&format!("/api/monitor/v1/models/{model}/drift?from={}&to={day}", day - 2 * DAY_MS));
    assert_eq!(drift["reference"]["kind"], "training", "{drift}");
    assert!(drift["features"].as_array().is_some_and(|f| f.len() == 4), "four inputs judged: {drift}");
    for page in ["/monitor".to_string(), format!("/models/{model}/monitor"), "/alerts".to_string()] {
        client.page(&page);
    }
}
