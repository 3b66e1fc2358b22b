//! Bad input over HTTP: every client mistake gets an MLflow-shaped 4xx, never
//! a 5xx, and writes nothing.

mod common;

use axum::body::Body;
use serde_json::json;

use common::server;

const API: &str = "/api/2.0/mlflow";

/// method, path, content type, body, expected status, expected error code
type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, u16, &'a str);

#[tokio::test]
async fn malformed_requests_get_mlflow_shaped_4xx() {
    let s = server();
    let cases: &[Case] = &[
        // method, path, content type, body, status, error code
        // MLflow 3.17.2 answers broken JSON INVALID_PARAMETER_VALUE; a body that is not an object
        // is its 500, our BAD_REQUEST.
        (
            "POST",
            "/api/2.0/mlflow/experiments/create",
            Some("application/json"),
            "{not json",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("POST", "/api/2.0/mlflow/experiments/create", Some("application/json"), "[1, 2]", 400, "BAD_REQUEST"),
        ("POST", "/api/2.0/mlflow/experiments/create", Some("application/json"), "{}", 400, "INVALID_PARAMETER_VALUE"),
        (
            "POST",
            "/api/2.0/mlflow/experiments/create",
            Some("application/json"),
            r#"{"name": {"a": 1}}"#,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/create",
            Some("text/plain"),
            r#"{"name": "x"}"#,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("POST", "/api/2.0/mlflow/experiments/create", None, r#"{"name": "x"}"#, 400, "INVALID_PARAMETER_VALUE"),
        (
            "POST",
            "/api/2.0/mlflow/experiments/create",
            Some("application/x-www-form-urlencoded"),
            "name=x",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("GET", "/api/2.0/mlflow/experiments/get", None, "", 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=abc", None, "", 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=424242", None, "", 404, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "/api/2.0/mlflow/runs/get?run_id=nope", None, "", 404, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "/api/2.0/mlflow/registered-models/get?name=nope", None, "", 404, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "/api/2.0/mlflow/model-versions/get?name=nope&version=x", None, "", 400, "INVALID_PARAMETER_VALUE"),
        (
            "GET",
            "/api/2.0/mlflow/registered-models/search?filter=name%20%3C%3C%3C%20%27x%27",
            None,
            "",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/2.0/mlflow/registered-models/search?filter=name%3D%27a%27%20OR%20name%3D%27b%27",
            None,
            "",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("GET", "/api/2.0/mlflow/registered-models/search?max_results=1001", None, "", 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "/api/2.0/mlflow/registered-models/search?max_results=ten", None, "", 400, "INVALID_PARAMETER_VALUE"),
        (
            "GET",
            "/api/2.0/mlflow/registered-models/search?page_token=bm90LWEtdG9rZW4",
            None,
            "",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/2.0/mlflow/model-versions/search?filter=current_stage%3D%27None%27",
            None,
            "",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            Some("application/json"),
            r#"{"experiment_ids": ["0"], "max_results": 50001}"#,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            Some("application/json"),
            r#"{"experiment_ids": ["0"], "filter": "metrics.a > 'x'"}"#,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            Some("application/json"),
            r#"{"experiment_ids": ["0"], "page_token": "%%%"}"#,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/registered-models/create",
            Some("application/json"),
            r#"{"name": "a/b"}"#,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/registered-models/create",
            Some("application/json"),
            r#"{"name": "a:b"}"#,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("GET", "/api/2.0/mlflow/no-such-endpoint", None, "", 404, "ENDPOINT_NOT_FOUND"),
        ("GET", "/totally/unknown", None, "", 404, "ENDPOINT_NOT_FOUND"),
        ("DELETE", "/api/2.0/mlflow/experiments/create", Some("application/json"), "{}", 405, "BAD_REQUEST"),
    ];
    for (method, path, ct, body, status, code) in cases {
        let r = s.send(method, path, *ct, body.to_string()).await;
        assert_eq!(r.status.as_u16(), *status, "{method} {path} {body}: {}", String::from_utf8_lossy(&r.bytes));
        assert_eq!(r.error_code(), *code, "{method} {path} {body}");
        assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()), "{method} {path}: message present");
    }
}

#[tokio::test]
async fn oversize_body_is_a_client_error() {
    let s = server();
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(30 * 1024 * 1024));
    let r = s.send("POST", "/api/2.0/mlflow/experiments/create", Some("application/json"), huge).await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(r.error_code(), "INVALID_PARAMETER_VALUE");
}

#[tokio::test]
async fn failed_log_batch_writes_nothing() {
    let s = server();
    let run = s.post(&format!("{API}/runs/create"), json!({"experiment_id": "0"})).await.json();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let r = s
        .post(
            &format!("{API}/runs/log-batch"),
            json!({"run_id": run_id, "metrics": [{"key": "ok", "value": 1, "timestamp": 1}, {"key": "../bad", "value": 1, "timestamp": 1}],
                   "params": [{"key": "p", "value": "1"}]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.error_code().as_str()), (400, "INVALID_PARAMETER_VALUE"));
    let got = s.get(&format!("{API}/runs/get?run_id={run_id}")).await.json();
    assert!(got["run"]["data"].get("metrics").is_none(), "{got}");
    assert!(got["run"]["data"].get("params").is_none(), "{got}");
    // A metric without a value is a missing field, also a 400.
    let r = s.post(&format!("{API}/runs/log-metric"), json!({"run_id": run_id, "key": "m", "timestamp": 1})).await;
    assert_eq!(r.status.as_u16(), 400);
}

#[tokio::test]
async fn artifact_paths_outside_the_root_are_refused() {
    let s = server();
    let bad = [
        "../../../../etc/passwd",
        "1/../../../etc/passwd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "1/..%2f..%2f..%2fetc%2fpasswd",
        "1/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "C:%5Cwindows",
        "%5C%5Cserver%5Cshare",
        "file:%2F%2F%2Fetc%2Fpasswd",
        "a%23b",
        "..%5c..%5cx",
        "a%00b",
        "a;b",
    ];
    for path in bad {
        let uri = format!("/api/2.0/mlflow-artifacts/artifacts/{path}");
        for method in ["GET", "PUT", "DELETE"] {
            let r = s.send(method, &uri, None, Body::from("x")).await;
            assert!(r.status.is_client_error(), "{method} {path}: {}", r.status);
            assert_ne!(r.status.as_u16(), 200);
        }
        let r = s.get(&format!("/api/2.0/mlflow-artifacts/artifacts?path={path}")).await;
        assert_eq!(r.status.as_u16(), 400, "list {path}");
    }
    // Nothing escaped into the data directory's parent.
    assert!(!s.dir.path().join("../etc").exists());
}

#[tokio::test]
async fn artifacts_round_trip_as_attachments() {
    let s = server();
    let r =
        s.send("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/page.html", None, "<script>x</script>").await;
    assert_eq!(r.status.as_u16(), 200);
    let r = s.get("/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/page.html").await;
    assert_eq!(r.bytes, b"<script>x</script>");
    assert!(r.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    let listing = s.get("/api/2.0/mlflow-artifacts/artifacts?path=1/r/artifacts").await.json();
    assert_eq!(listing["files"][0]["path"], "page.html");
    assert_eq!(listing["files"][0]["file_size"], 18);
    let r = s.send("DELETE", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/page.html", None, Body::empty()).await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(s.get("/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/page.html").await.status.as_u16(), 404);
}

#[tokio::test]
async fn unsafe_model_sources_and_locations_are_refused() {
    let s = server();
    s.post(&format!("{API}/registered-models/create"), json!({"name": "m"})).await;
    let run = s.post(&format!("{API}/runs/create"), json!({"experiment_id": "0"})).await.json();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let bad_sources = [
        "file:///etc/passwd",
        "/etc/passwd",
        "relative/path",
        "mlflow-artifacts:/../../../etc",
        "mlflow-artifacts://evil.example:80/..%2f..%2f",
        "s3:/bucket/a/../../b",
        "http://169.254.169.254/latest",
        "https://other-host/model",
        "ftp://host/x",
        "mlflow-artifacts:/0/x%00",
        "mlflow-artifacts:/0/x#frag",
        "runs://netloc/model",
    ];
    for source in bad_sources {
        let r = s.post(&format!("{API}/model-versions/create"), json!({"name": "m", "source": source})).await;
        assert_eq!((r.status.as_u16(), r.error_code().as_str()), (400, "INVALID_PARAMETER_VALUE"), "{source}");
    }
    let mismatched = s
        .post(
            &format!("{API}/model-versions/create"),
            json!({"name": "m", "source": "runs:/0123456789abcdef/model", "run_id": run_id}),
        )
        .await;
    assert_eq!(mismatched.status.as_u16(), 400);
    let listed = s.get(&format!("{API}/model-versions/search?filter=name%3D%27m%27")).await.json();
    assert!(
        listed.get("model_versions").is_none_or(|v| v.as_array().is_some_and(Vec::is_empty)),
        "nothing registered: {listed}"
    );
    let ok = s
        .post(
            &format!("{API}/model-versions/create"),
            json!({"name": "m", "source": format!("runs:/{run_id}/model"), "run_id": run_id}),
        )
        .await;
    assert_eq!(ok.status.as_u16(), 200);

    for location in [
        "file:///etc",
        "/tmp/x",
        "http://169.254.169.254/latest",
        "s3://b/p?x=../../",
        "mlflow-artifacts:/a#b",
        "runs:/x/y",
    ] {
        let r = s
            .post(
                &format!("{API}/experiments/create"),
                json!({"name": format!("e-{location}"), "artifact_location": location}),
            )
            .await;
        assert_eq!(r.status.as_u16(), 400, "{location}");
    }
}

#[tokio::test]
async fn get_fields_come_from_query_and_delete_carries_json() {
    let s = server();
    s.post(&format!("{API}/registered-models/create"), json!({"name": "q"})).await;
    let r = s
        .send(
            "DELETE",
            &format!("{API}/registered-models/delete"),
            Some("application/json"),
            json!({"name": "q"}).to_string(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(s.get(&format!("{API}/registered-models/get?name=q")).await.status.as_u16(), 404);
    // Repeated query keys are lists; booleans as the client writes them.
    let r = s.get(&format!("{API}/registered-models/search?order_by=name&order_by=creation_timestamp%20DESC")).await;
    assert_eq!(r.status.as_u16(), 200);
    // The same routes answer under /ajax-api.
    assert_eq!(s.get("/ajax-api/2.0/mlflow/experiments/get?experiment_id=0").await.status.as_u16(), 200);
    assert_eq!(s.get("/api/3.0/mlflow/server-info").await.status.as_u16(), 200);
}

#[tokio::test]
async fn foreign_host_headers_are_refused_on_loopback() {
    use tower::ServiceExt;
    let s = server();
    let store = flotilla_store::SqliteStore::open(&s.dir.path().join("hosts.db")).unwrap();
    let artifacts = flotilla_artifacts::LocalArtifactStore::new(s.dir.path().join("hosts-artifacts")).unwrap();
    let state = flotilla_http::AppState {
        store: std::sync::Arc::new(store),
        artifacts: std::sync::Arc::new(artifacts),
        serving: None,
        auth: None,
        telemetry: None,
    };
    let app = flotilla_http::router_with_hosts(state, flotilla_http::AllowedHosts::loopback());
    for (host, status) in
        [("evil.example", 403), ("evil.example:5000", 403), ("127.0.0.1:5000", 200), ("localhost", 200)]
    {
        let req = axum::http::Request::get("/api/2.0/mlflow/experiments/get?experiment_id=0")
            .header("host", host)
            .body(Body::empty())
            .unwrap();
        let r = app.clone().oneshot(req).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{host}");
    }
}
