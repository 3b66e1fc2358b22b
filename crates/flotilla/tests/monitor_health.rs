//! Fleet health, alerts and drift on a real server process (`--auth
//! basic`, 1 s windows): V2 traffic with errors moves the health roll-ups
//! and fires alert rules whose webhooks (a local receiver) get signed
//! deliveries within 5 s of the window closing — a 500-answering one
//! retried until it takes it, a hanging one blocking nothing — every
//! attempt listed; drift against a training profile found through lineage
//! and a baseline switched; permissions and bad input answered as 4xx.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_drift::{Reference, Window};
use flotilla_store::monitor::{ErrorCounts, MonitorStore, Retention, WindowDelta};
use flotilla_store::{DatasetProfileStore, SqliteStore};
use flotilla_testkit::fixtures::{LIGHTGBM_MODEL, MLMODEL};
use flotilla_testkit::{Backend, Requester as Client, TestServer, options};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";

/// A received webhook post: its path, headers (lowercased names), body and when.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    at: Instant,
}

/// A tiny HTTP/1.1 receiver: `/ok` answers 200, `/flaky` 500 twice then
/// 200, `/hang` never answers. Every request is recorded.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let len: usize =
                    headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
                let mut body = vec![0; len.min(1 << 20)];
                let _ = reader.read_exact(&mut body);
                let received = Received {
                    path: path.clone(),
                    headers,
                    body: String::from_utf8_lossy(&body).into(),
                    at: Instant::now(),
                };
                let flaky_seen = {
                    let mut all = seen.lock().unwrap();
                    all.push(received);
                    all.iter().filter(|r| r.path == "/flaky").count()
                };
                let status = match path.as_str() {
                    "/hang" => {
                        std::thread::sleep(Duration::from_secs(60));
                        return;
                    }
                    "/flaky" if flaky_seen <= 2 => "500 Internal Server Error",
                    _ => "200 OK",
                };
                let mut stream = stream;
                let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            });
        }
    });
    (base, got)
}

fn server(backend: &Backend) -> TestServer {
    TestServer::start(
        backend.options(
            options!()
                .env("FLOTILLA_AUTH", "basic")
                .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("FLOTILLA_DEFAULT_PERMISSION", "NO_PERMISSIONS")
                .env("FLOTILLA_MONITOR", "on")
                .arg("--monitor-window")
                .arg("1s"),
        ),
    )
}

/// Registers the two-feature LightGBM fixture as version 1 of `name`, made
/// by a run that used the dataset `train@d1` for training.
fn register(server: &TestServer, a: &Client<'_>, name: &str) -> String {
    for (file, body) in [("MLmodel", MLMODEL), ("model.lgb", LIGHTGBM_MODEL)] {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/{name}/{file}");
        let headers: Vec<(&str, &str)> = a.auth.as_deref().map(|h| ("Authorization", h)).into_iter().collect();
        let r = server.request("PUT", &path, &headers, body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let exp = a.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": format!("e-{name}") })))
        ["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run =
        a.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": exp })))["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
    for digest in ["d1", "d2"] {
        let input = json!({ "run_id": run, "datasets": [{ "tags": [{ "key": "mlflow.data.context", "value": "training" }],
            "dataset": { "name": "train", "digest": digest, "source_type": "local", "source": "{}" } }] });
        a.ok("POST", "/api/2.0/mlflow/runs/log-inputs", Some(input));
    }
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name })));
    let source = format!("mlflow-artifacts:/{name}");
    a.ok(
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        Some(json!({ "name": name, "source": source, "run_id": run })),
    );
    run
}

/// A profile of `rows` rows: `input_0` uniform on [shift, shift + 1), `input_1` on [0, 1), `predict` on [0, 1).
fn upload_profile(a: &Client<'_>, digest: &str, shift: f64) {
    let mut csv = String::from("input_0,input_1,predict\n");
    for i in 0..2000 {
        let u = (i as f64 + 0.5) / 2000.0;
        csv.push_str(&format!("{},{},{}\n", shift + u, u, u));
    }
    let path = format!("/api/data/v1/datasets/train/{digest}/profile");
    a.post_ok(&path, "text/csv", csv.as_bytes());
}

fn rows(data: &[[f32; 2]]) -> Value {
    let flat: Vec<f32> = data.iter().flatten().copied().collect();
    json!({ "inputs": [{ "name": "input", "shape": [data.len(), 2], "datatype": "FP32", "data": flat }] })
}

fn until<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rule(name: &str, scope: Value, url: String) -> Value {
    let mut r = json!({ "name": name, "check": "error_rate", "status": "fail", "windows": 1,
        "webhook_url": url, "secret": "s3cret" });
    for (k, v) in scope.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn signed_ok(r: &Received, secret: &str) -> bool {
    let Some((_, sig)) = r.headers.iter().find(|(k, _)| k == "x-flotilla-signature") else { return false };
    let (Some(t), Some(v1)) =
        (sig.split(',').find_map(|p| p.strip_prefix("t=")), sig.split(',').find_map(|p| p.strip_prefix("v1=")))
    else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    hex == v1
}

flotilla_testkit::on_each_backend!(errors_fire_signed_alerts_and_move_health);

fn errors_fire_signed_alerts_and_move_health(backend: &Backend) {
    let server = server(backend);
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    register(&server, &a, "demand");
    a.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "rita", "password": PASSWORD })));
    let rita = Client::basic(&server, "rita", PASSWORD);
    let (hooks, got) = receiver();

    // Rules: the hanging one first, so its delivery is in flight when the others go.
    let model = json!({ "scope": "model", "model": "demand" });
    let mut ids = Vec::new();
    for (name, path) in [("hang", "/hang"), ("ok", "/ok"), ("flaky", "/flaky")] {
        let made =
            a.ok("POST", "/api/monitor/v1/alerts/rules", Some(rule(name, model.clone(), format!("{hooks}{path}"))));
        assert!(made["rule"].get("secret").is_none(), "a rule's secret is never answered");
        ids.push(made["rule"]["id"].as_i64().unwrap());
    }

    // Permissions: a model rule needs MANAGE on it, a fleet rule an admin.
    let fleet = rule("f", json!({ "scope": "fleet" }), format!("{hooks}/ok"));
    assert_eq!(
        rita.status("POST", "/api/monitor/v1/alerts/rules", Some(rule("r", model.clone(), format!("{hooks}/ok")))),
        403
    );
    assert_eq!(rita.status("POST", "/api/monitor/v1/alerts/rules", Some(fleet.clone())), 403);
    assert_eq!(rita.get("/api/monitor/v1/alerts/rules")["rules"].as_array().unwrap().len(), 0);
    assert_eq!(rita.status("GET", "/api/monitor/v1/models/demand/drift", None), 403);
    // Bad rules.
    for bad in [
        rule("x", json!({ "scope": "galaxy" }), format!("{hooks}/ok")),
        rule("x", model.clone(), "ftp://nope".into()),
        json!({ "name": "x", "scope": "fleet", "check": "vibes", "webhook_url": format!("{hooks}/ok"), "secret": "s" }),
        rule("x", json!({ "scope": "model", "model": "nobody" }), format!("{hooks}/ok")),
    ] {
        let status = a.status("POST", "/api/monitor/v1/alerts/rules", Some(bad.clone()));
        assert!(status == 400 || status == 404, "{bad}: {status}");
    }

    // One window of traffic, a third of it failing (400s).
    for _ in 0..4 {
        a.ok("POST", "/v2/models/demand/versions/1/infer", Some(rows(&[[0.9, 0.0], [0.1, 1.0]])));
    }
    for _ in 0..2 {
        let bad =
            json!({ "inputs": [{ "name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 3.0] }] });
        assert_eq!(a.status("POST", "/v2/models/demand/infer", Some(bad)), 400);
    }
    let sent = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let window_end = (sent / 1000 + 1) * 1000;

    // The /ok webhook hears it within 5 s of the window closing, though /hang never answers.
    let ok = until("the /ok delivery", Duration::from_secs(15), || {
        got.lock().unwrap().iter().find(|r| r.path == "/ok").cloned()
    });
    let body: Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(
        (body["model"].as_str(), body["kind"].as_str(), body["check"].as_str()),
        (Some("demand"), Some("firing"), Some("error_rate"))
    );
    let closed_at = body["window_end"].as_i64().unwrap();
    assert!(closed_at >= window_end - 1000, "{body}");
    let received_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
        - ok.at.elapsed().as_millis() as i64;
    assert!(received_ms - closed_at < 5000, "delivered {} ms after the window closed", received_ms - closed_at);
    assert!(signed_ok(&ok, "s3cret"), "a valid signature: {:?}", ok.headers);
    assert!(!signed_ok(&ok, "other"));
    assert!(
        ok.headers.iter().any(|(k, v)| k == "x-flotilla-dedup-key" && v.starts_with(&format!("{}:demand:", ids[1])))
    );

    // /flaky answered 500 twice, then took it: three attempts listed.
    let flaky = format!("/api/monitor/v1/alerts/deliveries?rule={}", ids[2]);
    let attempts = until("the flaky delivery", Duration::from_secs(15), || {
        let d = a.get(&flaky)["deliveries"].as_array().cloned().unwrap_or_default();
        d.iter().any(|x| x["outcome"] == "delivered").then_some(d)
    });
    let outcomes: Vec<&str> = attempts.iter().map(|d| d["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["delivered", "retrying", "retrying"], "{attempts:?}");
    assert_eq!(attempts[1]["status_code"], 500);

    // Health: the model's error rate fails, and it is the fleet's worst.
    let health = a.get("/api/monitor/v1/health");
    assert!(health["counts"]["error_rate"]["fail"].as_i64().unwrap() >= 1, "{health}");
    assert_eq!(health["worst"][0]["model"], "demand", "{health}");
    assert_eq!(health["worst"][0]["checks"]["error_rate"]["status"], "fail");
    // /metrics carries the same fleet counts, by check and status only.
    let metrics = a.call("GET", "/metrics", None).text();
    let failing = metrics
        .lines()
        .find_map(|l| l.strip_prefix("flotilla_health_models{check=\"error_rate\",status=\"fail\"} "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(failing.is_some_and(|v| v >= 1.0), "{failing:?} in /metrics:\n{metrics}");
    assert_eq!(metrics.lines().filter(|l| l.starts_with("flotilla_health_models{")).count(), 32);
    // Rita reads nothing of it until she may read the model.
    let hers = rita.get("/api/monitor/v1/health");
    assert!(hers["worst"].as_array().unwrap().is_empty(), "{hers}");
    let grant = json!({ "username": "rita", "resource_type": "registered_model", "resource_id": "demand", "permission": "MANAGE" });
    a.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    assert_eq!(rita.get("/api/monitor/v1/health")["worst"][0]["model"], "demand");
    assert_eq!(rita.get("/api/monitor/v1/alerts/rules")["rules"].as_array().unwrap().len(), 3);
    assert!(!rita.get(&flaky)["deliveries"].as_array().unwrap().is_empty());
    assert_eq!(rita.status("POST", "/api/monitor/v1/alerts/rules", Some(fleet)), 403);
    let mine = rita.ok("POST", "/api/monitor/v1/alerts/rules", Some(rule("mine", model, format!("{hooks}/ok"))));
    let mine = format!("/api/monitor/v1/alerts/rules/{}", mine["rule"]["id"]);
    assert_eq!(rita.status("DELETE", &mine, None), 200);
    assert_eq!(rita.status("GET", &mine, None), 404);

    // The CLI answers the same JSON through the server, and a table.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .arg("monitor")
            .args(args)
            .args(["--server", &server.base_url()])
            .env("MLFLOW_TRACKING_USERNAME", "admin")
            .env("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&cli(&["health", "--json"])).unwrap();
    assert_eq!(json["worst"][0]["model"], "demand");
    assert!(cli(&["health"]).contains("error_rate"));
    let json: Value =
        serde_json::from_str(&cli(&["alerts", "deliveries", "--rule", &ids[2].to_string(), "--json"])).unwrap();
    assert_eq!(json["deliveries"].as_array().unwrap().len(), 3);
    assert!(cli(&["alerts", "rules"]).contains("flaky"));
    let json: Value = serde_json::from_str(&cli(&["drift", "demand", "--json"])).unwrap();
    assert_eq!(json["verdict"], "no_reference");

    // Bad input.
    for (path, status) in [
        ("/api/monitor/v1/health?partition=a=b", 400),
        ("/api/monitor/v1/health?family=nope", 404),
        ("/api/monitor/v1/health?max_results=0", 400),
        ("/api/monitor/v1/health/history?from=10&to=5", 400),
        ("/api/monitor/v1/alerts/deliveries?rule=x", 400),
        ("/api/monitor/v1/alerts/rules/99999", 404),
    ] {
        assert_eq!(a.status("GET", path, None), status, "{path}");
    }
}

#[test]
fn drift_against_the_training_profile_and_a_baseline() {
    // SQLite only: the test writes windows and reads a profile in the server's file.
    let server = server(&Backend::sqlite());
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    register(&server, &a, "demand");

    // No profile yet: no reference.
    let d = a.get("/api/monitor/v1/models/demand/drift");
    assert_eq!(d["verdict"], "no_reference", "{d}");
    upload_profile(&a, "d1", 0.0);
    upload_profile(&a, "d2", 5.0);
    let d = a.get("/api/monitor/v1/models/demand/drift");
    assert_eq!(d["reference"]["kind"], "training", "{d}");
    assert_eq!(d["verdict"], "not_enough_data", "{d}");

    // Windows binned against d1 (as serving does): input_0 shifted by 0.5, the rest as trained.
    let store = SqliteStore::open(&server.data_dir().join("flotilla.db")).unwrap();
    let profile = store.dataset_profile("train", "d1").unwrap().unwrap();
    let reference = Reference::from_profile(&flotilla_profile::Profile::from_bytes(&profile.bytes).unwrap());
    let d = a.get("/api/monitor/v1/models/demand/drift");
    assert_eq!(d["reference"]["digest"], "d1", "{d}");
    let mut window = Window::new(&reference);
    for i in 0..500 {
        let u = (i as f64 + 0.5) / 500.0;
        window.record_number(&reference, 0, u + 0.5);
        window.record_number(&reference, 1, u);
        window.record_number(&reference, 2, u);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let stats = flotilla_app::monitor::telemetry::stats::WindowStats { drift: Some(window), ..Default::default() };
    let delta = |start_ms: i64| WindowDelta {
        model: "demand".into(),
        version: flotilla_core::VersionNumber::new(1).unwrap(),
        start_ms,
        length_ms: 1000,
        requests: 500,
        rows: 500,
        errors: ErrorCounts::default(),
        cache: flotilla_store::monitor::CacheCounts::default(),
        fingerprint: Some(reference.fingerprint),
        stats: stats.to_bytes(),
        columns: Some((2, vec!["input_0".into(), "input_1".into(), "predict".into()])),
    };
    let merger = flotilla_app::monitor::telemetry::stats::StatsMerger;
    store.merge_windows(&[delta((now / 1000 - 5) * 1000)], &Retention::default(), now, &merger).unwrap();

    let d = a.get(&format!("/api/monitor/v1/models/demand/drift?version=1&from={}&to={}", now - 60_000, now + 1000));
    assert_eq!(d["windows"], 1, "{d}");
    assert_eq!(d["rows"], 500);
    let features = d["features"].as_array().unwrap();
    let by_name = |n: &str| features.iter().find(|f| f["feature"] == n).cloned().unwrap();
    assert_eq!(by_name("input_0")["verdict"], "drift", "{d}");
    assert_eq!(by_name("input_0")["method"], "wasserstein");
    assert_eq!(by_name("input_1")["verdict"], "no_drift", "{d}");
    assert_eq!(d["prediction_drift"][0]["feature"], "predict", "the output is prediction drift: {d}");
    assert_eq!(d["prediction_drift"][0]["verdict"], "no_drift");
    assert_eq!((d["judged"].as_u64(), d["drifted"].as_u64()), (Some(2), Some(1)));
    assert_eq!((d["verdict"].as_str(), d["prediction_verdict"].as_str()), (Some("drift"), Some("no_drift")), "{d}");

    // The health job judges a window as it closes: data drift fails, predictions hold.
    let next = (now / 1000 + 2) * 1000;
    store.merge_windows(&[delta(next)], &Retention::default(), now, &merger).unwrap();
    let checks = until("drift in the model's health", Duration::from_secs(10), || {
        let h = a.get("/api/monitor/v1/models/demand/health");
        (h["checks"]["data_drift"]["status"] == "fail").then_some(h)
    });
    assert_eq!(checks["checks"]["prediction_drift"]["status"], "ok", "{checks}");
    let health = a.get("/api/monitor/v1/health");
    assert_eq!(health["counts"]["data_drift"]["fail"], 1, "{health}");

    // A baseline switches the reference; windows binned against another one are not mixed in.
    let baseline = json!({ "kind": "dataset", "dataset": "train", "digest": "d2" });
    a.ok("PUT", "/api/monitor/v1/models/demand/baseline", Some(baseline));
    assert_eq!(a.get("/api/monitor/v1/models/demand/baseline")["baseline"]["digest"], "d2");
    let d = a.get("/api/monitor/v1/models/demand/drift");
    assert_eq!(
        (d["reference"]["kind"].as_str(), d["reference"]["digest"].as_str()),
        (Some("baseline"), Some("d2")),
        "{d}"
    );
    assert_eq!(d["windows"], 0);
    a.ok("PUT", "/api/monitor/v1/models/demand/baseline", Some(json!({ "kind": "none" })));
    assert_eq!(a.get("/api/monitor/v1/models/demand/drift")["reference"]["digest"], "d1");

    // Drift settings per family: Evidently's defaults until set.
    a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": "sales", "levels": ["region"] })));
    let c = a.get("/api/monitor/v1/families/sales/drift-config");
    assert_eq!((c["default"].as_bool(), c["drift_config"]["wasserstein"].as_f64()), (Some(true), Some(0.1)));
    a.ok("PUT", "/api/monitor/v1/families/sales/drift-config", Some(json!({ "wasserstein": 0.3 })));
    assert_eq!(a.get("/api/monitor/v1/families/sales/drift-config")["drift_config"]["wasserstein"], 0.3);

    // Bad input.
    for (method, path, body, status) in [
        ("GET", "/api/monitor/v1/models/nobody/drift", None, 404),
        ("GET", "/api/monitor/v1/models/demand/drift?version=7", None, 404),
        ("GET", "/api/monitor/v1/models/demand/drift?version=x", None, 400),
        ("GET", "/api/monitor/v1/models/demand/drift?from=10&to=5", None, 400),
        ("GET", "/api/monitor/v1/models/demand/drift?color=red", None, 400),
        (
            "PUT",
            "/api/monitor/v1/models/demand/baseline",
            Some(json!({ "kind": "dataset", "dataset": "train", "digest": "zz" })),
            404,
        ),
        (
            "PUT",
            "/api/monitor/v1/models/demand/baseline",
            Some(json!({ "kind": "traffic", "version": 1, "from": 5, "to": 1 })),
            400,
        ),
        ("PUT", "/api/monitor/v1/families/sales/drift-config", Some(json!({ "p_value": 7 })), 400),
        ("PUT", "/api/monitor/v1/families/sales/drift-config", Some(json!({ "nope": 1 })), 400),
        ("GET", "/api/monitor/v1/families/nope/drift-config", None, 404),
    ] {
        assert_eq!(a.status(method, path, body.clone()), status, "{method} {path} {body:?}");
    }
}
