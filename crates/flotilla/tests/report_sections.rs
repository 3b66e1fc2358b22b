//! The report's staleness, serving, drift and data sections and the
//! quality section's promotion effects, on a real server process (`--auth
//! basic`): a small family registered through the fleet API with lineage
//! (one dataset superseded by a newer digest), champions replaced by better
//! and worse versions, predictions posted to two models, and health judged
//! into the store. Each section's totals equal the API's answers for the
//! same scope (telemetry windows, stale lineage, facets); a user who does
//! not read the whole scope is told the sections are not shown.

use flotilla_store::health::{Check, CheckResult, HealthUpdate, Status};
use flotilla_store::{PgStore, SqliteStore, Store};
use flotilla_testkit::report::rows as table;
use flotilla_testkit::{Backend, Requester as Client, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";
const STORES: usize = 4;
const HOUR: i64 = 3_600_000;

/// The server's store, opened beside it.
fn store_of(backend: &Backend, server: &TestServer) -> Box<dyn Store> {
    match backend.database_url() {
        Some(url) => Box::new(PgStore::connect(url).unwrap()),
        None => Box::new(SqliteStore::open(&server.data_dir().join("flotilla.db")).unwrap()),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn section_text(report: &Value, id: &str) -> String {
    let s = report["sections"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap();
    s["text"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

fn headline(report: &Value, label: &str) -> (i64, Option<i64>) {
    let h = report["summary"].as_array().unwrap().iter().find(|h| h["label"] == label).unwrap_or_else(|| {
        panic!("no headline {label}: {}", report["summary"]);
    });
    (h["now"].as_i64().unwrap(), h["before"].as_i64())
}

/// `demand` with four stores: version 1 of each is champion, trained on
/// `train@d1`; then stores 0 and 1 get a version 2 (trained on `train@d2`,
/// the newer digest) made champion: store 0's rmse worse, store 1's better.
fn fleet(a: &Client<'_>) {
    a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": "demand", "levels": ["store"] })));
    let version = |i: usize, rmse: f64, digest: &str| {
        json!({ "family": "demand", "partition": format!("store=s{i:02}"), "source": "mlflow-artifacts:/m",
                "metrics": [["rmse", rmse]], "aliases": ["champion"],
                "datasets": [{ "name": "train", "digest": digest, "context": "training" }] })
    };
    let first: Vec<Value> = (0..STORES).map(|i| version(i, 0.5, "d1")).collect();
    a.ok("POST", "/api/fleet/v1/versions/bulk", Some(json!({ "versions": first })));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = vec![version(0, 0.8, "d2"), version(1, 0.3, "d2")];
    a.ok("POST", "/api/fleet/v1/versions/bulk", Some(json!({ "versions": second })));
}

fn post_predictions(a: &Client<'_>, model: &str, n: usize) {
    let body: String = (0..n).map(|i| format!("{}\n", json!({ "f0": i as f64, "prediction": 1.0 }))).collect();
    let path = format!("/api/monitor/v1/models/{model}/versions/2/predictions");
    a.post_ok(&path, "application/x-ndjson", body.as_bytes());
}

flotilla_testkit::on_each_backend!(new_sections_match_the_api);

fn new_sections_match_the_api(backend: &Backend) {
    let server = TestServer::start(
        backend.options(
            options!()
                .env("FLOTILLA_AUTH", "basic")
                .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("FLOTILLA_DEFAULT_PERMISSION", "NO_PERMISSIONS"),
        ),
    );
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    fleet(&a);
    post_predictions(&a, "demand.store=s00", 5);
    post_predictions(&a, "demand.store=s01", 3);
    // Health as the job leaves it: store 2 fails data drift; an hourly snapshot.
    let store = store_of(backend, &server);
    let fail = |check| CheckResult { check, status: Status::Fail, value: Some(0.75) };
    let update = HealthUpdate { model: "demand.store=s02".into(), checks: vec![fail(Check::DataDrift)] };
    store.record_health(&[update], now_ms()).unwrap();
    store.snapshot_health(now_ms() / HOUR * HOUR).unwrap();

    let report = a.get("/api/reports/v1/report?family=demand&last=7d&format=json");

    // Staleness: models never served against the telemetry API, champions against the fleet listing.
    let staleness = table(&report, "staleness_families");
    let demand = staleness.iter().find(|r| r[0] == "demand").unwrap_or_else(|| panic!("{staleness:?}"));
    let facets = a.get("/api/fleet/v1/facets?family=demand");
    assert_eq!(demand[1], facets["total"], "models: {demand:?}");
    let champions = a.get("/api/fleet/v1/models?family=demand&alias=champion&max_results=100");
    assert_eq!(demand[3], champions["models"].as_array().unwrap().len() as i64);
    assert_eq!(demand[3], STORES as i64);
    let from = now_ms() - 2 * 24 * HOUR;
    let served_rows = |model: &str| -> i64 {
        let t = a.get(&format!("/api/monitor/v1/models/{model}/telemetry?version=2&grain=day&from={from}"));
        t["windows"].as_array().unwrap().iter().map(|w| w["rows"].as_i64().unwrap()).sum()
    };
    let (s0, s1) = (served_rows("demand.store=s00"), served_rows("demand.store=s01"));
    assert_eq!((s0, s1), (5, 3));
    assert_eq!(demand[2], facets["total"].as_i64().unwrap() - 2, "never served: {demand:?}");
    assert_eq!(headline(&report, "models never served").0, facets["total"].as_i64().unwrap() - 2);
    assert!(demand[4].as_f64().unwrap() < 1.0, "fresh champions: {demand:?}");
    assert_eq!(table(&report, "staleness_oldest").len(), STORES);

    // Serving: rows per family against the telemetry windows.
    let serving = table(&report, "serving_families");
    assert_eq!(serving.len(), 1, "{serving:?}");
    assert_eq!((serving[0][1].as_i64(), serving[0][3].as_i64()), (Some(2), Some(s0 + s1)), "{serving:?}");
    let weeks: i64 = table(&report, "serving_weeks").iter().map(|r| r[2].as_i64().unwrap()).sum();
    assert_eq!(weeks, s0 + s1);
    // Posted predictions went through no model cache.
    assert!(section_text(&report, "serving").contains("No request went through the model cache"));
    let cache = table(&report, "serving_cache");
    assert_eq!((cache[0][1].as_i64(), cache[0][2].as_i64()), (Some(0), Some(0)), "{cache:?}");

    // Data: champions on superseded data against the stale-lineage API.
    let stale = a.get("/api/data/v1/lineage/stale");
    let stale_champions =
        stale["versions"].as_array().unwrap().iter().filter(|v| v["alias"] == "champion").count() as i64;
    assert_eq!(stale_champions, 2, "{stale}");
    assert_eq!(headline(&report, "champions on superseded data").0, stale_champions);
    let datasets = table(&report, "data_datasets");
    let digests: Vec<(&str, i64, &str)> =
        datasets.iter().map(|r| (r[1].as_str().unwrap(), r[2].as_i64().unwrap(), r[4].as_str().unwrap())).collect();
    assert_eq!(digests, [("d1", 2, "yes"), ("d2", 2, "no")]);

    // Quality: the replaced champions, worse and better, against the alias log.
    let regressions = table(&report, "quality_regressions");
    let improvements = table(&report, "quality_improvements");
    assert_eq!(regressions.len(), 1, "{regressions:?}");
    assert_eq!(regressions[0][0], "demand.store=s00");
    assert_eq!((regressions[0][5].as_f64(), regressions[0][6].as_f64()), (Some(0.5), Some(0.8)));
    assert_eq!(improvements.len(), 1, "{improvements:?}");
    assert_eq!(improvements[0][0], "demand.store=s01");
    let log = a.get("/api/fleet/v1/audit?max_results=1000");
    let replaced =
        log["events"].as_array().unwrap().iter().filter(|e| !e["from"].is_null() && e["alias"] == "champion").count();
    assert_eq!(replaced, 2, "{log}");
    assert!(section_text(&report, "quality").contains("2 champions were replaced"));

    // Drift: the failing model and the families × weeks heatmap from the snapshot.
    let drifted = table(&report, "drift_models");
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    assert_eq!((drifted[0][0].as_str(), drifted[0][2].as_str()), (Some("demand.store=s02"), Some("data_drift")));
    let heat = table(&report, "drift_weeks");
    assert_eq!(heat.len(), 1, "{heat:?}");
    assert_eq!((heat[0][0].as_str(), heat[0][2].as_i64()), (Some("demand"), Some(1)));
    let health = a.get("/api/monitor/v1/health?family=demand");
    assert_eq!(health["counts"]["data_drift"]["fail"], 1, "{health}");
    // Health against the comparison period: a snapshot exists now, none before.
    let (failing, _) = headline(&report, "failing checks (now)");
    assert_eq!(failing, 1);

    // The HTML has every new section, the heatmap drawn.
    let html = a.page("/reports/document?family=demand&last=7d");
    for id in ["staleness", "serving", "drift", "data"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    assert!(html.contains("families × weeks"));
    assert!(html.contains("fill-opacity"), "the heatmap's cells");

    // A user who reads only part of the fleet: the sections naming models say so.
    a.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "bob", "password": PASSWORD })));
    let grant = json!({ "username": "bob", "resource_type": "registered_model", "resource_id": "demand.store=s00", "permission": "READ" });
    a.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    let bob = Client::basic(&server, "bob", PASSWORD);
    let theirs = bob.get("/api/reports/v1/report?last=7d&format=json");
    for id in ["staleness", "serving", "drift", "data"] {
        assert!(section_text(&theirs, id).contains("Not shown"), "{id}: {}", section_text(&theirs, id));
    }
    assert!(table(&theirs, "serving_families").is_empty());
    assert!(table(&theirs, "staleness_oldest").is_empty());
}
