//! The Open Inference Protocol over a real store: registry addressing, alias
//! moves, JSON and binary tensors, errors, and the model cache's budget.
//! Models are tiny LightGBM text models (`common::lightgbm_model`, one split on feature 0),
//! so these tests need no Python; reference agreement with the real libraries
//! is tested in flotilla-infer with fixtures the test command trains.

mod common;

use axum::body::Body;
use flotilla_core::VersionNumber;
use serde_json::{Value, json};

use common::{MLMODEL, Server, lightgbm_model, server, server_with_budget};

/// Uploads a model's files and registers them as a new version of `name`.
async fn register(s: &Server, name: &str, dir: &str, low: f64, high: f64) -> String {
    for (file, body) in [("MLmodel", MLMODEL.to_string()), ("model.lgb", lightgbm_model(low, high))] {
        let r = s.send("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{dir}/{file}"), None, body).await;
        assert_eq!(r.status.as_u16(), 200);
    }
    s.post("/api/2.0/mlflow/registered-models/create", json!({ "name": name })).await;
    let r = s
        .post(
            "/api/2.0/mlflow/model-versions/create",
            json!({ "name": name, "source": format!("mlflow-artifacts:/{dir}") }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", String::from_utf8_lossy(&r.bytes));
    r.json()["model_version"]["version"].as_str().unwrap().to_string()
}

fn rows(values: Value) -> String {
    json!({ "id": "req-1", "inputs": [{ "name": "input", "shape": [2, 2], "datatype": "FP32", "data": values }] })
        .to_string()
}

async fn predict(s: &Server, path: &str) -> (u16, Value) {
    let r = s.send("POST", path, None, rows(json!([[0.1, 0.0], [0.9, 0.0]]))).await;
    (r.status.as_u16(), r.json())
}

#[tokio::test]
async fn serves_registered_versions_and_follows_alias_moves() {
    let s = server();
    assert_eq!(register(&s, "demand", "0/demand/v1", 1.0, 2.0).await, "1");
    let meta = s.get("/v2").await.json();
    assert_eq!(meta["extensions"], json!(["model_repository", "binary_tensor_data"]));
    assert_eq!(s.get("/v2/health/live").await.status.as_u16(), 200);

    let (status, out) = predict(&s, "/v2/models/demand/infer").await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["model_name"].as_str(), out["model_version"].as_str(), out["id"].as_str()),
        (Some("demand"), Some("1"), Some("req-1"))
    );
    assert_eq!(out["outputs"][0]["name"], "predict");
    assert_eq!(out["outputs"][0]["data"], json!([1.0, 2.0]));

    // A newer version serves by default (no alias yet); an alias pins one.
    register(&s, "demand", "0/demand/v2", 10.0, 20.0).await;
    assert_eq!(predict(&s, "/v2/models/demand/infer").await.1["outputs"][0]["data"], json!([10.0, 20.0]));
    s.post("/api/2.0/mlflow/registered-models/alias", json!({"name": "demand", "alias": "champion", "version": "1"}))
        .await;
    assert_eq!(predict(&s, "/v2/models/demand/infer").await.1["model_version"], "1");
    s.post("/api/2.0/mlflow/registered-models/alias", json!({"name": "demand", "alias": "champion", "version": "2"}))
        .await;
    assert_eq!(
        predict(&s, "/v2/models/demand/infer").await.1["model_version"],
        "2",
        "an alias move takes effect at once"
    );
    assert_eq!(predict(&s, "/v2/models/demand/versions/1/infer").await.1["outputs"][0]["data"], json!([1.0, 2.0]));
    assert_eq!(predict(&s, "/v2/models/demand/versions/champion/infer").await.1["model_version"], "2");
    assert_eq!(predict(&s, "/v2/models/demand@champion/infer").await.1["model_version"], "2");

    let meta = s.get("/v2/models/demand/versions/1").await.json();
    assert_eq!(meta["inputs"][0], json!({"name": "input", "datatype": "FP32", "shape": [-1, 2]}));
    assert_eq!(meta["platform"], "lightgbm");
    assert_eq!(s.get("/v2/models/demand/ready").await.status.as_u16(), 200);
}

#[tokio::test]
async fn flat_data_binary_tensors_and_output_selection() {
    let s = server();
    register(&s, "m", "0/m/v1", 1.0, 2.0).await;
    let flat = json!({ "inputs": [{ "name": "input", "shape": [2, 2], "datatype": "FP64", "data": [0.1, 0.0, 0.9, 0.0] }],
                       "outputs": [{ "name": "predict" }] });
    let r = s.send("POST", "/v2/models/m/infer", Some("application/json"), flat.to_string()).await;
    assert_eq!(r.json()["outputs"][0]["data"], json!([1.0, 2.0]));

    // Binary in, binary out, as tritonclient sends by default.
    let header = json!({ "inputs": [{ "name": "input", "shape": [2, 2], "datatype": "FP32", "parameters": { "binary_data_size": 16 } }],
                         "parameters": { "binary_data_output": true } })
    .to_string();
    let mut body = header.clone().into_bytes();
    for x in [0.1f32, 0.0, 0.9, 0.0] {
        body.extend_from_slice(&x.to_le_bytes());
    }
    let req = axum::http::Request::post("/v2/models/m/infer")
        .header("inference-header-content-length", header.len())
        .body(Body::from(body))
        .unwrap();
    let response = tower::ServiceExt::oneshot(s.app.clone(), req).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let n: usize = response.headers()["inference-header-content-length"].to_str().unwrap().parse().unwrap();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let head: Value = serde_json::from_slice(&bytes[..n]).unwrap();
    let output = &head["outputs"][0];
    assert_eq!(output["datatype"], "FP64");
    let size = output["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
    let values: Vec<f64> =
        bytes[n..n + size].chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(values, vec![1.0, 2.0]);
}

#[tokio::test]
async fn bad_requests_get_v2_errors() {
    let s = server();
    register(&s, "m", "0/m/v1", 1.0, 2.0).await;
    let cases: &[(&str, &str, u16)] = &[
        (
            "/v2/models/nope/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
            404,
        ),
        (
            "/v2/models/m/versions/9/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
            404,
        ),
        (
            "/v2/models/m/versions/nosuchalias/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
            404,
        ),
        ("/v2/models/m/infer", "{not json", 400),
        (
            "/v2/models/m/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}"#,
            400,
        ),
        (
            "/v2/models/m/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2, 3]}]}"#,
            400,
        ),
        (
            "/v2/models/m/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP99", "data": [1, 2]}]}"#,
            400,
        ),
        (
            "/v2/models/m/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": ["a", "b"]}]}"#,
            400,
        ),
        (
            "/v2/models/m/infer",
            r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "nope"}]}"#,
            400,
        ),
        (
            "/v2/models/m/infer",
            r#"{"inputs": [{"name": "input", "shape": [-1, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
            400,
        ),
        ("/v2/models/m/infer", r#"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32"}]}"#, 400),
    ];
    for (path, body, status) in cases {
        let r = s.send("POST", path, None, body.to_string()).await;
        assert_eq!(r.status.as_u16(), *status, "{path} {body}: {}", String::from_utf8_lossy(&r.bytes));
        assert!(r.json()["error"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {{\"error\"}} body");
    }
    // A hostile scikit-learn pickle (`os.system('touch /tmp/x')` on unpickling) is refused
    // naming the global; an unsupported flavor names itself.
    s.send(
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/0/sk/MLmodel",
        None,
        "flavors:\n  sklearn: {pickled_model: model.pkl, serialization_format: cloudpickle}\n",
    )
    .await;
    let hostile: &[u8] = b"\x80\x02cos\nsystem\nX\x0c\x00\x00\x00touch /tmp/x\x85R.";
    s.send("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/sk/model.pkl", None, hostile.to_vec()).await;
    s.send(
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/0/pt/MLmodel",
        None,
        "flavors:\n  pytorch: {model_data: data}\n",
    )
    .await;
    for (name, fragment) in [("sk", "refuses global os.system"), ("pt", "pytorch")] {
        s.post("/api/2.0/mlflow/registered-models/create", json!({"name": name})).await;
        let source = format!("mlflow-artifacts:/0/{name}");
        s.post("/api/2.0/mlflow/model-versions/create", json!({"name": name, "source": source})).await;
        let r = s.send("POST", &format!("/v2/models/{name}/infer"), None, rows(json!([[0.1, 0.0], [0.9, 0.0]]))).await;
        assert_eq!(r.status.as_u16(), 400);
        assert!(r.json()["error"].as_str().unwrap().contains(fragment), "{}", r.json());
    }
}

#[tokio::test]
async fn repository_index_load_and_unload() {
    let s = server();
    for name in ["store-1", "store-2", "other"] {
        register(&s, name, &format!("0/{name}"), 1.0, 2.0).await;
    }
    let index = s.send("POST", "/v2/repository/index", None, Body::empty()).await.json();
    assert_eq!(index.as_array().unwrap().len(), 3);
    assert!(index.as_array().unwrap().iter().all(|m| m["state"] == "UNAVAILABLE"));
    assert_eq!(s.send("POST", "/v2/repository/models/store-1/load", None, Body::empty()).await.status.as_u16(), 200);
    let ready = s.send("POST", "/v2/repository/index", None, r#"{"ready": true}"#).await.json();
    assert_eq!(ready, json!([{"name": "store-1", "version": "1", "state": "READY", "reason": ""}]));
    let page = s.send("POST", "/v2/repository/index", None, r#"{"name_prefix": "store-", "max_results": 1}"#).await;
    assert_eq!(page.json().as_array().unwrap().len(), 1);
    let token = page.headers["x-flotilla-next-page-token"].to_str().unwrap().to_string();
    let next = s
        .send("POST", "/v2/repository/index", None, json!({"name_prefix": "store-", "page_token": token}).to_string())
        .await;
    assert_eq!(next.json()[0]["name"], "store-2");
    s.send("POST", "/v2/repository/models/store-1/unload", None, Body::empty()).await;
    assert!(!s.serving.cache.is_loaded("store-1", v1()));
    assert_eq!(s.send("POST", "/v2/repository/models/nope/load", None, Body::empty()).await.status.as_u16(), 404);
}

#[tokio::test]
async fn cache_loads_once_evicts_lru_within_budget_and_refuses_oversize() {
    // Measure one model, then give the cache room for about three.
    let probe = server();
    register(&probe, "probe", "0/probe", 1.0, 2.0).await;
    predict(&probe, "/v2/models/probe/infer").await;
    let one = probe.serving.cache.stats().loaded_bytes;
    assert!(one > 0);

    let s = server_with_budget(one * 3 + one / 2);
    for i in 0..6 {
        register(&s, &format!("m{i}"), &format!("0/m{i}"), 1.0, 2.0).await;
    }
    // Many concurrent requests for one cold model cause one load.
    let burst = (0..16).map(|_| predict(&s, "/v2/models/m0/infer"));
    for (status, _) in futures_util::future::join_all(burst).await {
        assert_eq!(status, 200);
    }
    assert_eq!(s.serving.cache.stats().loads, 1);
    for i in 1..6 {
        assert_eq!(predict(&s, &format!("/v2/models/m{i}/infer")).await.0, 200);
    }
    let stats = s.serving.cache.stats();
    assert!(stats.evictions >= 2, "{stats:?}");
    let scraped = s.send("GET", "/metrics", None, Body::empty()).await;
    let text = String::from_utf8(scraped.bytes).unwrap();
    assert!(text.contains("\nflotilla_model_loads_total 6\n"), "{text}");
    assert!(text.contains(&format!("\nflotilla_model_evictions_total {}\n", stats.evictions)), "{text}");
    assert!(stats.loaded_bytes <= stats.budget_bytes, "{stats:?}");
    assert!(!s.serving.cache.is_loaded("m0", v1()), "the least recently used went first");
    assert!(s.serving.cache.is_loaded("m5", v1()));

    let tiny = server_with_budget(one / 2);
    register(&tiny, "big", "0/big", 1.0, 2.0).await;
    let r = tiny.send("POST", "/v2/models/big/infer", None, rows(json!([[0.1, 0.0], [0.9, 0.0]]))).await;
    assert_eq!(r.status.as_u16(), 507);
    assert!(r.json()["error"].as_str().unwrap().contains("budget"));
}

fn v1() -> VersionNumber {
    VersionNumber::new(1).unwrap()
}
