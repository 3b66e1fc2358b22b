//! `flotilla server --database` on a real PostgreSQL server (the test
//! command's, else a cluster this test starts): the tracking and registry
//! calls an MLflow client makes, with `--auth basic` on, answered from
//! PostgreSQL, and the CLI (`user`, `audit`, `fleet`, `monitor`, `data`)
//! working on the same database with `--database`. (Monitoring on PostgreSQL: the monitor and report tests run
//! on both backends, `flotilla_testkit::Backend`.)

use base64::Engine;
use flotilla_testkit::postgres::Postgres;
use flotilla_testkit::{TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";

fn call(server: &TestServer, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}")));
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let r = server.request(method, path, &headers, body.to_string().as_bytes());
    let json = if r.body.is_empty() { Value::Null } else { r.json() };
    (r.status, json)
}

fn ok(server: &TestServer, method: &str, path: &str, body: &Value) -> Value {
    let (status, json) = call(server, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {json}");
    json
}

#[test]
fn tracking_and_registry_calls_are_answered_from_postgresql() {
    let pg = Postgres::for_tests().expect("a PostgreSQL server");
    let url = pg.create_database().expect("a database");
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_DATABASE_URL", url.as_str())
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD),
    );
    assert!(server.log_text().contains("PostgreSQL"), "{}", server.log_text());
    let api = "/api/2.0/mlflow";
    let exp = ok(&server, "POST", &format!("{api}/experiments/create"), &json!({"name": "pg"}))["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = ok(&server, "POST", &format!("{api}/runs/create"), &json!({"experiment_id": exp, "start_time": 1}));
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let batch = json!({
        "run_id": run_id,
        "metrics": [{"key": "rmse", "value": 0.5, "timestamp": 1, "step": 0}],
        "params": [{"key": "alpha", "value": "0.1"}],
        "tags": [{"key": "team", "value": "ml"}],
    });
    ok(&server, "POST", &format!("{api}/runs/log-batch"), &batch);
    let got = ok(&server, "GET", &format!("{api}/runs/get?run_id={run_id}"), &Value::Null);
    assert_eq!(got["run"]["data"]["metrics"][0]["value"], 0.5, "{got}");
    let found = ok(
        &server,
        "POST",
        &format!("{api}/runs/search"),
        &json!({"experiment_ids": [exp], "filter": "metrics.rmse < 1 and params.alpha = '0.1'"}),
    );
    assert_eq!(found["runs"].as_array().map(Vec::len), Some(1), "{found}");
    // The same run again is a client error in MLflow's shape, not a 5xx.
    let (status, err) = call(&server, "POST", &format!("{api}/experiments/create"), &json!({"name": "pg"}));
    assert_eq!((status, err["error_code"].as_str()), (400, Some("RESOURCE_ALREADY_EXISTS")), "{err}");

    ok(&server, "POST", &format!("{api}/registered-models/create"), &json!({"name": "m"}));
    let v = ok(
        &server,
        "POST",
        &format!("{api}/model-versions/create"),
        &json!({"name": "m", "source": format!("runs:/{run_id}/model"), "run_id": run_id}),
    );
    assert_eq!(v["model_version"]["version"], "1", "{v}");
    ok(
        &server,
        "POST",
        &format!("{api}/registered-models/alias"),
        &json!({"name": "m", "alias": "champion", "version": "1"}),
    );
    let by_alias = ok(&server, "GET", &format!("{api}/registered-models/alias?name=m&alias=champion"), &Value::Null);
    assert_eq!(by_alias["model_version"]["version"], "1", "{by_alias}");
    // No background task logs a failed store call.
    let log = server.log_text();
    assert!(!log.contains(" ERROR "), "{log}");

    // The CLI works on the same database directly (`--database`), as its local admin.
    let cli = |args: &[&str], stdin: &str| -> String {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(args)
            .args(["--database", url.as_str(), "--data-dir", "/nonexistent-data-dir"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&["user", "create", "carol", "--password-stdin"], "carol-password-1\n");
    assert!(cli(&["user", "list"], "").contains("carol"));
    let carol = base64::engine::general_purpose::STANDARD.encode("carol:carol-password-1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = server.request(
            "GET",
            &format!("{api}/registered-models/get?name=m"),
            &[("authorization", &format!("Basic {carol}"))],
            b"",
        );
        if r.status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "carol never signed in: {} {}", r.status, r.text());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let audit: Value = serde_json::from_str(&cli(&["audit", "--json", "--action", "user.create"], "")).unwrap();
    assert_eq!(audit["events"][0]["resource_id"], "carol", "{audit}");
    let fleet: Value = serde_json::from_str(&cli(&["fleet", "search", "--json", "--prefix", "m"], "")).unwrap();
    assert!(fleet.to_string().contains("\"m\""), "{fleet}");
    let health: Value = serde_json::from_str(&cli(&["monitor", "health", "--json"], "")).unwrap();
    assert!(health.is_object(), "{health}");
    let datasets: Value = serde_json::from_str(&cli(&["data", "datasets", "--json"], "")).unwrap();
    assert!(datasets["datasets"].is_array(), "{datasets}");
}
