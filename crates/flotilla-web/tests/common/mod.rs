//! The harness the page tests share: a real SQLite file and artifact
//! directory behind the whole server router, driven request by request.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use flotilla_app::AppState;
use flotilla_artifacts::LocalArtifactStore;
use flotilla_http::AllowedHosts;
use flotilla_store::SqliteStore;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub struct Ui {
    _dir: tempfile::TempDir,
    pub app: Router,
    /// The store behind the router, for state no API writes (health).
    pub store: Arc<SqliteStore>,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

pub fn ui() -> Ui {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("flotilla.db")).unwrap());
    let artifacts = LocalArtifactStore::new(dir.path().join("artifacts")).unwrap();
    let state =
        AppState { store: store.clone(), artifacts: Arc::new(artifacts), serving: None, auth: None, telemetry: None };
    let app = flotilla_http::router_with_pages(state, AllowedHosts::Any, flotilla_web::routes());
    Ui { _dir: dir, app, store }
}

impl Ui {
    pub async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = self.app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send("GET", uri, &[], Body::empty()).await
    }

    pub async fn post_json(&self, uri: &str, body: Value) -> Reply {
        let r = self.send("POST", uri, &[("content-type", "application/json")], body.to_string()).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text);
        r
    }

    /// A page that must render: 200, HTML, the page's security headers.
    pub async fn page(&self, uri: &str) -> String {
        let r = self.get(uri).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text);
        assert!(r.header("content-type").starts_with("text/html"), "{uri}");
        assert!(r.header("content-security-policy").contains("default-src 'none'"), "{uri}");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        r.text
    }
}
