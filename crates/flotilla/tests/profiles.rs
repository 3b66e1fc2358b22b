//! Dataset profiles on a real server process (`--auth basic`): data
//! uploaded as CSV and profiled by the server, a profile made by
//! `flotilla data profile` and sent alone (through the server and on the
//! data directory), who may write and read one, and the bad inputs: a media
//! type the profiler does not read (415), a body past `--max-upload-bytes`
//! (413), a malformed row (400 naming its line), an unknown dataset (404) —
//! none of which changes the kept profile.

use std::process::Command;

use base64::Engine;
use flotilla_testkit::{Reply, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";
const LIMIT: usize = 200_000;

fn basic(user: &str) -> String {
    let password = if user == "admin" { ADMIN_PASSWORD } else { PASSWORD };
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn call(server: &TestServer, user: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let auth = basic(user);
    server.request(method, path, &[("Authorization", auth.as_str()), ("Content-Type", content_type)], body)
}

fn ok(server: &TestServer, user: &str, method: &str, path: &str, body: Value) -> Value {
    let r = call(server, user, method, path, "application/json", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
    r.json()
}

/// `rows` rows of a numeric `x` (0..rows), a numeric `y` with every tenth
/// missing, and a category `c`.
fn csv(rows: usize) -> String {
    let mut out = String::from("x,y,c\n");
    for i in 0..rows {
        let y = if i % 10 == 0 { String::new() } else { format!("{}", i as f64 / 2.0) };
        out.push_str(&format!("{i},{y},{}\n", ["red", "green", "blue"][i % 3]));
    }
    out
}

const PROFILE: &str = "/api/data/v1/datasets/sales/d1/profile";

fn kept_rows(server: &TestServer) -> u64 {
    let r = call(server, "admin", "GET", PROFILE, "application/json", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["summary"]["rows"].as_u64().unwrap()
}

#[test]
fn profiles_from_uploads_and_the_cli() {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_MAX_UPLOAD_BYTES", LIMIT.to_string()),
    );
    for user in ["bob", "ann"] {
        ok(&server, "admin", "POST", "/api/2.0/mlflow/users/create", json!({ "username": user, "password": PASSWORD }));
    }
    let exp =
        ok(&server, "admin", "POST", "/api/2.0/mlflow/experiments/create", json!({ "name": "e" }))["experiment_id"]
            .as_str()
            .unwrap()
            .to_string();
    let run = ok(&server, "admin", "POST", "/api/2.0/mlflow/runs/create", json!({ "experiment_id": exp }))["run"]
        ["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let input = json!({ "run_id": run, "datasets": [{ "tags": [],
        "dataset": { "name": "sales", "digest": "d1", "source_type": "local", "source": "{}" } }] });
    ok(&server, "admin", "POST", "/api/2.0/mlflow/runs/log-inputs", input);
    let grant = json!({ "experiment_id": exp, "username": "bob", "permission": "EDIT" });
    ok(&server, "admin", "POST", "/api/2.0/mlflow/experiments/permissions/create", grant);

    // Nothing kept yet.
    assert_eq!(call(&server, "ann", "GET", PROFILE, "application/json", b"").status, 404);
    // EDIT on an experiment whose run used the dataset writes its profile; READ does not.
    let data = csv(1000);
    assert_eq!(call(&server, "ann", "POST", PROFILE, "text/csv", data.as_bytes()).status, 403);
    let r = call(&server, "bob", "POST", PROFILE, "text/csv", data.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let summary = &r.json()["summary"];
    assert_eq!(summary["rows"], 1000, "{summary}");
    let feature =
        |name: &str| summary["features"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!(
        (feature("x")["numeric"]["min"].as_f64(), feature("x")["numeric"]["max"].as_f64()),
        (Some(0.0), Some(999.0))
    );
    assert_eq!(feature("y")["nulls"], 100, "{summary}");
    assert!(feature("c")["category"].is_object(), "{summary}");
    let read = call(&server, "ann", "GET", PROFILE, "application/json", b"");
    assert_eq!((read.status, read.json()["summary"]["rows"].as_u64()), (200, Some(1000)), "readers read it");

    // The UI: the datasets list and the dataset's page with its profile.
    let page = |path: &str| {
        let r = call(&server, "ann", "GET", path, "text/html", b"");
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.text()
    };
    let list = page("/datasets");
    assert!(list.contains("/datasets/sales/d1"), "{list}");
    let html = page("/datasets/sales/d1");
    for words in ["Dataset sales", "1,000 rows", "<svg", "x CDF", "c top values", "10.0 %"] {
        assert!(html.contains(words), "{words}: {html}");
    }

    // Bad inputs: a clear 4xx in MLflow's shape, the kept profile untouched.
    // (content type, body) -> status, words the message holds
    let ragged = "x,y,c\n1,2,a\n3,4\n";
    let too_big = csv(LIMIT / 8);
    for (content_type, body, status, words) in [
        ("application/json", data.as_bytes(), 415, "text/csv"),
        ("text/csv", ragged.as_bytes(), 400, "line 3"),
        ("text/csv", too_big.as_bytes(), 413, "--max-upload-bytes"),
        ("application/vnd.apache.parquet", b"PAR1 this is not a parquet file".as_slice(), 400, "Parquet"),
        ("application/x-flotilla-profile", b"not a profile".as_slice(), 400, "profile"),
    ] {
        let r = call(&server, "bob", "POST", PROFILE, content_type, body);
        assert_eq!(r.status, status, "{content_type}: {}", r.text());
        assert!(r.json()["error_code"].is_string() && r.text().contains(words), "{content_type}: {}", r.text());
        assert_eq!(kept_rows(&server), 1000, "{content_type} left the profile as it was");
    }
    let unknown =
        call(&server, "admin", "POST", "/api/data/v1/datasets/sales/nope/profile", "text/csv", data.as_bytes());
    assert_eq!(unknown.status, 404, "{}", unknown.text());

    // A dataset whose source is a data file in the artifact store is profiled from it on request.
    let stored = format!("{exp}/{run}/artifacts/data/sales.csv");
    let put = call(
        &server,
        "admin",
        "PUT",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{stored}"),
        "text/csv",
        csv(40).as_bytes(),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    for (digest, source) in
        [("d2", format!("mlflow-artifacts:/{stored}")), ("d3", "s3://elsewhere/sales.csv".to_string())]
    {
        let input = json!({ "run_id": run, "datasets": [{ "tags": [], "dataset": { "name": "sales", "digest": digest,
            "source_type": "local", "source": json!({ "uri": source }).to_string() } }] });
        ok(&server, "admin", "POST", "/api/2.0/mlflow/runs/log-inputs", input);
    }
    let from_source = |digest: &str, query: &str| {
        call(&server, "bob", "POST", &format!("/api/data/v1/datasets/sales/{digest}/profile?{query}"), "text/csv", b"")
    };
    let r = from_source("d2", "from=source");
    assert_eq!((r.status, r.json()["summary"]["rows"].as_u64()), (200, Some(40)), "{}", r.text());
    let r = from_source("d3", "from=source");
    assert!(r.status == 400 && r.text().contains("artifact store"), "{}", r.text());
    assert_eq!(from_source("d2", "from=elsewhere").status, 400);

    // The CLI profiles here and sends only the profile.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales.csv");
    std::fs::write(&file, csv(250)).unwrap();
    let cli = |through_server: bool, user: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(["data", "profile", &file.display().to_string(), "--dataset", "sales", "--json"]);
        cmd.env_remove("FLOTILLA_SERVER").env_remove("FLOTILLA_DATA_DIR").env("MLFLOW_TRACKING_USERNAME", user);
        cmd.env("MLFLOW_TRACKING_PASSWORD", PASSWORD);
        if through_server {
            cmd.args(["--server", &server.base_url()]);
        } else {
            cmd.args(["--data-dir", &server.data_dir().display().to_string()]);
        }
        cmd.args(["--digest", "d1"]);
        cmd.output().expect("running flotilla data profile")
    };
    let refused = cli(true, "ann");
    assert!(!refused.status.success(), "ann may not write it");
    let sent = cli(true, "bob");
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let answer: Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!((answer["digest"].as_str(), answer["summary"]["rows"].as_u64()), (Some("d1"), Some(250)), "{answer}");
    assert_eq!(kept_rows(&server), 250);
    std::fs::write(&file, csv(300)).unwrap();
    let local = cli(false, "bob");
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    assert_eq!(kept_rows(&server), 300, "a profile kept on the data directory is the server's");
}
