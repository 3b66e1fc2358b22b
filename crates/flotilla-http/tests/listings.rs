//! Server-side artifact listings relative to a run's or a logged model's root.

mod common;

use serde_json::json;

use common::{Reply, Server, server};

async fn put(s: &Server, path: String) -> Reply {
    s.send("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{path}"), None, "x").await
}

#[tokio::test]
async fn run_and_logged_model_listings_are_relative_to_their_roots() {
    let s = server();
    let run = s.post("/api/2.0/mlflow/runs/create", json!({"experiment_id": "0"})).await.json();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(put(&s, format!("0/{run_id}/artifacts/model/MLmodel")).await.status.as_u16(), 200);
    let listing = s.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=model")).await.json();
    assert_eq!(listing["root_uri"], format!("mlflow-artifacts:/0/{run_id}/artifacts"));
    assert_eq!(listing["files"], json!([{"path": "model/MLmodel", "is_dir": false, "file_size": 1}]));
    // As MLflow's proto JSON: an empty file has no file_size, an empty listing no files.
    let empty =
        s.send("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/empty"), None, "").await;
    assert_eq!(empty.status.as_u16(), 200);
    let listing = s.get(&format!("/api/2.0/mlflow-artifacts/artifacts?path=0/{run_id}/artifacts")).await.json();
    assert!(listing["files"].as_array().unwrap().contains(&json!({"path": "empty", "is_dir": false})), "{listing}");
    let listing = s.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=empty")).await.json();
    assert_eq!(listing, json!({"root_uri": format!("mlflow-artifacts:/0/{run_id}/artifacts")}));

    let model = s.post("/api/2.0/mlflow/logged-models", json!({"experiment_id": "0", "name": "m"})).await.json();
    let model_id = model["model"]["info"]["model_id"].as_str().unwrap().to_string();
    assert_eq!(put(&s, format!("0/models/{model_id}/artifacts/sub/model.json")).await.status.as_u16(), 200);
    let listing = s.get(&format!("/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories")).await.json();
    assert_eq!(listing["files"], json!([{"path": "sub", "is_dir": true}]));
    let listing = s
        .get(&format!("/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories?artifact_directory_path=sub"))
        .await
        .json();
    assert_eq!(listing["files"][0]["path"], "sub/model.json");
    let escape = s
        .get(&format!(
            "/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories?artifact_directory_path=../../.."
        ))
        .await;
    assert_eq!(escape.status.as_u16(), 400);
}
