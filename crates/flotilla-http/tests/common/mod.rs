//! A router over a real SQLite file and a real artifact directory, driven
//! in-process request by request.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use flotilla_artifacts::LocalArtifactStore;
use flotilla_http::AppState;
use flotilla_serving::{CacheConfig, Serving, ServingConfig};
use flotilla_store::SqliteStore;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A LightGBM regression model: `x0 <= 0.5 ? low : high`, over 2 features.
pub fn lightgbm_model(low: f64, high: f64) -> String {
    format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\nobjective=regression\n\
         feature_names=f0 f1\nfeature_infos=[0:1] [0:1]\ntree_sizes=300\n\n\
         Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\ndecision_type=2\n\
         left_child=-1\nright_child=-2\nleaf_value={low} {high}\nleaf_weight=1 1\nleaf_count=1 1\n\
         internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=1\n\n\nend of trees\n"
    )
}

pub const MLMODEL: &str = "flavors:\n  lightgbm:\n    data: model.lgb\n    model_class: lightgbm.basic.Booster\n";

pub struct Server {
    pub dir: tempfile::TempDir,
    pub app: Router,
    pub serving: Arc<Serving>,
}

pub fn server() -> Server {
    server_with_budget(64 << 20)
}

pub fn server_with_budget(budget_bytes: usize) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    let artifacts = LocalArtifactStore::new(dir.path().join("artifacts")).unwrap();
    let (store, artifacts): (Arc<dyn flotilla_store::Store>, Arc<dyn flotilla_artifacts::ArtifactStore>) =
        (Arc::new(store), Arc::new(artifacts));
    let config = ServingConfig {
        cache: CacheConfig { budget_bytes, load_concurrency: 2 },
        default_alias: "champion".into(),
        resolve_ttl: std::time::Duration::from_secs(1),
    };
    let serving = Arc::new(Serving::new(config, Arc::clone(&store), Arc::clone(&artifacts)));
    let app = flotilla_http::router(AppState {
        store,
        artifacts,
        serving: Some(Arc::clone(&serving)),
        auth: None,
        telemetry: None,
    });
    Server { dir, app, serving }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
    pub fn error_code(&self) -> String {
        self.json()["error_code"].as_str().unwrap_or("<not an MLflow error>").to_string()
    }
}

impl Server {
    pub async fn send(&self, method: &str, uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let response = self.app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, bytes }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some("application/json"), body.to_string()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, Body::empty()).await
    }
}
