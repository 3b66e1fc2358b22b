//! Serving telemetry on a real server process (`--auth basic`, 1 s
//! windows): V2 traffic through a real LightGBM model lands in windows
//! (requests, rows, errors by kind, latency, per-column figures), rolls up
//! into hours and days, answers the telemetry read and V2's statistics
//! with the right permissions, is flushed at shutdown, and is not recorded
//! with `--monitor off`.

use std::time::{Duration, Instant};

use flotilla_store::SqliteStore;
use flotilla_store::monitor::{Grain, MonitorStore, WindowQuery};
use flotilla_testkit::fixtures::{LIGHTGBM_MODEL, MLMODEL};
use flotilla_testkit::{Backend, Requester as Client, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";

fn server(backend: &Backend, monitor: &str) -> TestServer {
    TestServer::start(
        backend.options(
            options!()
                .env("FLOTILLA_AUTH", "basic")
                .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("FLOTILLA_DEFAULT_PERMISSION", "NO_PERMISSIONS")
                .env("FLOTILLA_MONITOR", monitor)
                .arg("--monitor-window")
                .arg("1s"),
        ),
    )
}

fn admin(server: &TestServer) -> Client<'_> {
    Client::basic(server, "admin", ADMIN_PASSWORD)
}

/// Registers the two-feature LightGBM fixture as version 1 of `name`.
fn register(server: &TestServer, a: &Client<'_>, name: &str) {
    for (file, body) in [("MLmodel", MLMODEL), ("model.lgb", LIGHTGBM_MODEL)] {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/{name}/{file}");
        let headers: Vec<(&str, &str)> = a.auth.as_deref().map(|h| ("Authorization", h)).into_iter().collect();
        let r = server.request("PUT", &path, &headers, body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name })));
    let source = format!("mlflow-artifacts:/{name}");
    a.ok("POST", "/api/2.0/mlflow/model-versions/create", Some(json!({ "name": name, "source": source })));
}

fn rows(data: &[[f32; 2]]) -> Value {
    let flat: Vec<f32> = data.iter().flatten().copied().collect();
    json!({ "inputs": [{ "name": "input", "shape": [data.len(), 2], "datatype": "FP32", "data": flat }] })
}

/// Polls the telemetry read until `done` holds of its windows (windows
/// close on 1 s boundaries), or panics after 10 s.
fn windows_until(c: &Client<'_>, path: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = c.get(path);
        let windows = answer["windows"].as_array().cloned().unwrap_or_default();
        if done(&windows) {
            return windows;
        }
        assert!(Instant::now() < deadline, "telemetry never showed up: {answer}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn total(windows: &[Value], key: &str) -> u64 {
    windows.iter().map(|w| w[key].as_u64().unwrap()).sum()
}

flotilla_testkit::on_each_backend!(v2_traffic_lands_in_windows_rolls_up_and_answers_stats);

fn v2_traffic_lands_in_windows_rolls_up_and_answers_stats(backend: &Backend) {
    let server = server(backend, "on");
    let a = admin(&server);
    register(&server, &a, "demand");
    a.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "rita", "password": PASSWORD })));
    let rita = Client::basic(&server, "rita", PASSWORD);

    // 5 good requests of 2 rows, 1 with a NaN; 2 bad shapes (400).
    for _ in 0..4 {
        a.ok("POST", "/v2/models/demand/versions/1/infer", Some(rows(&[[0.9, 0.0], [0.1, 1.0]])));
    }
    let nan =
        json!({ "inputs": [{ "name": "input", "shape": [2, 2], "datatype": "FP64", "data": ["NaN", 0.0, 0.5, 0.5] }] });
    a.ok("POST", "/v2/models/demand/infer", Some(nan));
    for _ in 0..2 {
        let bad =
            json!({ "inputs": [{ "name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 3.0] }] });
        assert_eq!(a.status("POST", "/v2/models/demand/infer", Some(bad)), 400);
    }
    // An unknown model is answered, not recorded anywhere.
    assert_eq!(a.status("POST", "/v2/models/nobody/infer", Some(rows(&[[0.0, 0.0]]))), 404);

    let minute = "/api/monitor/v1/models/demand/telemetry?version=1&grain=minute";
    let windows = windows_until(&a, minute, |w| total(w, "requests") == 7);
    assert_eq!(total(&windows, "rows"), 10);
    let errors: u64 = windows.iter().map(|w| w["errors"]["client"].as_u64().unwrap()).sum();
    assert_eq!(errors, 2);
    let w = windows.iter().find(|w| w["rows"].as_u64().unwrap() > 0).unwrap();
    assert_eq!(w["length_ms"], 1000);
    assert!(w["latency_ms"]["p50"].as_f64().unwrap() > 0.0, "{w}");
    let features = w["features"].as_array().unwrap();
    let names: Vec<&str> = features.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["input_0", "input_1", "predict"], "a wide input by position, a one-column output by name: {w}");
    assert_eq!(features[2]["role"], "output");

    // The hour and the day hold the same totals.
    for grain in ["hour", "day"] {
        let path = format!("/api/monitor/v1/models/demand/telemetry?grain={grain}");
        let w = windows_until(&a, &path, |w| total(w, "requests") == 7);
        assert_eq!(w.len(), 1, "{grain}: one window");
        assert_eq!(total(&w, "rows"), 10);
        let f0 = &w[0]["features"][0];
        assert_eq!(f0["count"], 9, "{grain}: one infinite value counted apart: {f0}");
        assert_eq!(f0["nans"], 1);
        assert!((f0["mean"].as_f64().unwrap() - (0.9 * 4.0 + 0.1 * 4.0 + 0.5) / 9.0).abs() < 1e-6, "{f0}");
    }

    // V2 statistics in Triton's shape.
    let stats = a.get("/v2/models/demand/versions/1/stats");
    let s = &stats["model_stats"][0];
    assert_eq!((s["name"].as_str(), s["version"].as_str()), (Some("demand"), Some("1")));
    assert_eq!(s["inference_count"], 7);
    assert_eq!(s["inference_stats"]["success"]["count"], 5);
    assert_eq!(s["inference_stats"]["fail"]["count"], 2);
    assert!(s["inference_stats"]["compute_infer"]["ns"].as_u64().unwrap() > 0);
    assert_eq!(a.get("/v2/models/demand/stats")["model_stats"].as_array().unwrap().len(), 1);

    // Permissions: nothing by default; READ reads telemetry and stats.
    assert_eq!(rita.status("GET", minute, None), 403);
    assert_eq!(rita.status("GET", "/v2/models/demand/stats", None), 403);
    let grant = json!({ "username": "rita", "resource_type": "registered_model", "resource_id": "demand", "permission": "READ" });
    a.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    assert_eq!(rita.status("GET", minute, None), 200);
    assert_eq!(rita.status("GET", "/v2/models/demand/stats", None), 200);

    // Bad reads are 4xx in the API's shape.
    for (path, status) in [
        ("/api/monitor/v1/models/demand/telemetry?grain=week", 400),
        ("/api/monitor/v1/models/demand/telemetry?from=yesterday", 400),
        ("/api/monitor/v1/models/demand/telemetry?from=10&to=5", 400),
        ("/api/monitor/v1/models/demand/telemetry?bogus=1", 400),
        ("/api/monitor/v1/models/demand/telemetry?version=7", 404),
        ("/api/monitor/v1/models/nobody/telemetry", 404),
        ("/v2/models/nobody/stats", 404),
    ] {
        let r = a.call("GET", path, None);
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }
}

#[test]
fn the_open_window_is_flushed_at_shutdown() {
    // A 1 h window never closes during the test: only the shutdown flush writes it.
    let server = TestServer::start(options!().arg("--monitor-window").arg("1h"));
    let a = Client::anonymous(&server);
    register(&server, &a, "late");
    a.ok("POST", "/v2/models/late/infer", Some(rows(&[[0.9, 0.0]])));
    let pid = server.pid().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let store = SqliteStore::open(&server.data_dir().join("flotilla.db")).unwrap();
    let q = WindowQuery { model: "late".into(), version: None, grain: Grain::Base, from_ms: 0, to_ms: i64::MAX };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = store.windows(&q).unwrap().rows;
        if rows.iter().map(|w| w.requests).sum::<u64>() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "nothing flushed at shutdown: {rows:?}\n{}", server.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn monitor_off_records_nothing() {
    let server = server(&Backend::sqlite(), "off");
    let a = admin(&server);
    register(&server, &a, "quiet");
    a.ok("POST", "/v2/models/quiet/infer", Some(rows(&[[0.9, 0.0]])));
    std::thread::sleep(Duration::from_millis(1500));
    let answer = a.get("/api/monitor/v1/models/quiet/telemetry");
    assert_eq!(answer["windows"], json!([]), "{answer}");
    let s = &a.get("/v2/models/quiet/stats")["model_stats"][0];
    assert_eq!(s["inference_count"], 0);
}

#[test]
fn served_values_are_binned_against_the_training_profile() {
    use flotilla_app::monitor::telemetry::stats::WindowStats;
    use flotilla_drift::WindowCounts;
    let server = TestServer::start(options!().arg("--monitor-window").arg("1s"));
    let a = Client::anonymous(&server);
    let run =
        a.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": "0" })))["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
    let input = json!({ "run_id": run, "datasets": [{
        "tags": [{ "key": "mlflow.data.context", "value": "training" }],
        "dataset": { "name": "train", "digest": "d1", "source_type": "local", "source": "{}" } }] });
    a.ok("POST", "/api/2.0/mlflow/runs/log-inputs", Some(input));
    let csv: String = std::iter::once("f0,f1,target\n".to_string())
        .chain((0..1000).map(|i| format!("{},{},{}\n", i as f64 / 1000.0, (i % 7) as f64, i % 2)))
        .collect();
    let r = server.request(
        "POST",
        "/api/data/v1/datasets/train/d1/profile",
        &[("Content-Type", "text/csv")],
        csv.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for (file, body) in [("MLmodel", MLMODEL), ("model.lgb", LIGHTGBM_MODEL)] {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/binned/{file}");
        assert_eq!(server.request("PUT", &path, &[], body.as_bytes()).status, 200);
    }
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "binned" })));
    let version = json!({ "name": "binned", "source": "mlflow-artifacts:/binned", "run_id": run });
    a.ok("POST", "/api/2.0/mlflow/model-versions/create", Some(version));

    // The first request makes the version active; its reference is looked up beside it.
    a.ok("POST", "/v2/models/binned/infer", Some(rows(&[[0.5, 1.0]])));
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        a.ok("POST", "/v2/models/binned/infer", Some(rows(&[[0.95, 1.0], [2.0, 3.0]])));
    }
    let path = "/api/monitor/v1/models/binned/telemetry?grain=hour";
    let w = windows_until(&a, path, |w| total(w, "requests") == 6);
    let names: Vec<&str> = w[0]["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["f0", "f1", "predict"], "the training data's names, its label left out");
    assert!(w[0]["reference_fingerprint"].is_string(), "{}", w[0]);

    let store = SqliteStore::open(&server.data_dir().join("flotilla.db")).unwrap();
    let q = WindowQuery { model: "binned".into(), version: None, grain: Grain::Hour, from_ms: 0, to_ms: i64::MAX };
    let row = store.windows(&q).unwrap().rows.remove(0);
    let stats = WindowStats::from_bytes(&row.stats).unwrap();
    let drift = stats.drift.expect("drift counts");
    assert_eq!(Some(drift.fingerprint), row.fingerprint);
    assert_eq!(drift.features.len(), 3, "one per reference column");
    let WindowCounts::Numeric(f0) = &drift.features[0].counts else { panic!("f0 is numeric: {drift:?}") };
    assert!(f0.above >= 5, "2.0 is above the training maximum: {f0:?}");
    assert!(f0.bins.iter().sum::<u64>() >= 5, "0.95 falls in a bin: {f0:?}");
    assert_eq!(drift.features[2].count(), 0, "nothing served is the label");
    let served_above = f0.above;

    // Posted predictions are binned against the same reference, by column name.
    let posted =
        (0..3).map(|_| json!({ "f0": 5.0, "f1": 1.0, "prediction": 1.0 }).to_string() + "\n").collect::<String>();
    let r = server.request(
        "POST",
        "/api/monitor/v1/models/binned/versions/1/predictions",
        &[("Content-Type", "application/x-ndjson")],
        posted.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let row = store.windows(&q).unwrap().rows.remove(0);
    let drift = WindowStats::from_bytes(&row.stats).unwrap().drift.unwrap();
    let WindowCounts::Numeric(f0) = &drift.features[0].counts else { panic!("f0 is numeric") };
    assert_eq!(f0.above, served_above + 3);
}

#[test]
fn a_column_signature_names_the_features() {
    let server = TestServer::start(options!().arg("--monitor-window").arg("1s"));
    let a = Client::anonymous(&server);
    let signed = format!(
        "{MLMODEL}signature:\n  inputs: '[{{\"name\": \"price\", \"type\": \"double\"}}, {{\"name\": \"qty\", \"type\": \"double\"}}]'\n"
    );
    for (file, body) in [("MLmodel", signed.as_str()), ("model.lgb", LIGHTGBM_MODEL)] {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/signed/{file}");
        assert_eq!(server.request("PUT", &path, &[], body.as_bytes()).status, 200);
    }
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "signed" })));
    let version = json!({ "name": "signed", "source": "mlflow-artifacts:/signed" });
    a.ok("POST", "/api/2.0/mlflow/model-versions/create", Some(version));
    a.ok("POST", "/v2/models/signed/infer", Some(rows(&[[0.9, 2.0]])));
    let w = windows_until(&a, "/api/monitor/v1/models/signed/telemetry?grain=hour", |w| total(w, "requests") == 1);
    let names: Vec<&str> = w[0]["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["price", "qty", "predict"]);
}

flotilla_testkit::on_each_backend!(cache_hits_misses_and_model_memory_reach_windows_and_the_report);

fn cache_hits_misses_and_model_memory_reach_windows_and_the_report(backend: &Backend) {
    let server = server(backend, "on");
    let a = admin(&server);
    register(&server, &a, "demand");
    register(&server, &a, "supply");
    let one = || Some(rows(&[[0.9, 0.0]]));
    // demand: a load, two hits, unloaded, a load again; supply: one load.
    for _ in 0..3 {
        a.ok("POST", "/v2/models/demand/versions/1/infer", one());
    }
    a.ok("POST", "/v2/repository/models/demand/unload", Some(json!({})));
    a.ok("POST", "/v2/models/demand/versions/1/infer", one());
    a.ok("POST", "/v2/models/supply/versions/1/infer", one());

    let day = |model: &str, n: u64| {
        let path = format!("/api/monitor/v1/models/{model}/telemetry?version=1&grain=day&from=0");
        let w = windows_until(&a, &path, |w| total(w, "requests") == n);
        assert_eq!(w.len(), 1, "{model}: one day");
        w[0]["cache"].clone()
    };
    let (demand, supply) = (day("demand", 4), day("supply", 1));
    assert_eq!((demand["hits"].as_u64(), demand["misses"].as_u64()), (Some(2), Some(2)), "{demand}");
    assert_eq!(demand["hit_rate"].as_f64(), Some(0.5));
    assert_eq!((supply["hits"].as_u64(), supply["misses"].as_u64()), (Some(0), Some(1)), "{supply}");
    let bytes = |c: &Value| c["model_bytes"].as_u64().unwrap();
    // The same model file: the same measured size, which is what the cache counts.
    assert!(bytes(&demand) > 0 && bytes(&demand) == bytes(&supply), "{demand} {supply}");
    let metrics = a.call("GET", "/metrics", None).text();
    assert!(metrics.contains("flotilla_model_cache_hits_total 2"), "the process counters agree:\n{metrics}");

    // The report's serving section: the same counts, and both versions' bytes on that day.
    let report = a.get("/api/reports/v1/report?last=7d&format=json");
    let serving = flotilla_testkit::report::keyed_rows(&report, "serving_cache");
    assert_eq!(serving.len(), 1, "both models are in no family: {serving:?}");
    let row = &serving[0];
    assert_eq!((row["cache_hits"].as_i64(), row["cache_misses"].as_i64()), (Some(2), Some(3)), "{row:?}");
    assert!((row["cache_hit_rate"].as_f64().unwrap() - 0.4).abs() < 1e-9, "{row:?}");
    let mib = row["model_memory_peak_mib"].as_f64().unwrap();
    let want = (bytes(&demand) + bytes(&supply)) as f64 / (1024.0 * 1024.0);
    assert!((mib - want).abs() < 1e-3, "{mib} MiB, want {want}");
    let text =
        report["sections"].as_array().unwrap().iter().find(|s| s["id"] == "serving").unwrap()["text"].to_string();
    assert!(text.contains("40.00 % of requests found their model in memory"), "{text}");
}
