//! The replicas shape under test: `flotilla server` processes on one
//! PostgreSQL database and one artifact directory, and nginx in front of them
//! (`flotilla_testkit::nginx`: the deployment configuration, unprivileged,
//! on a free loopback port).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use flotilla_testkit::postgres::Postgres;
use flotilla_testkit::{Reply, TestServer, options};
use serde_json::{Value, json};

/// A LightGBM model answering `leaves.0` for `x0 <= 0.5`, else `leaves.1`.
pub fn lightgbm(leaves: (u32, u32)) -> String {
    flotilla_testkit::fixtures::LIGHTGBM_MODEL
        .replace("leaf_value=1 2", &format!("leaf_value={} {}", leaves.0, leaves.1))
}

/// Replicas on one database and one artifact directory.
pub struct Replicas {
    pub servers: Vec<TestServer>,
    _artifacts: tempfile::TempDir,
    _postgres: Postgres,
}

impl Replicas {
    /// Starts `n` replicas; `resolve_ttl` is long, so an alias move reaches a
    /// replica that did not make it only through the database's notification.
    pub fn start(n: usize) -> Replicas {
        let postgres = Postgres::for_tests().expect("a PostgreSQL server");
        let url = postgres.create_database().expect("a database");
        let artifacts = tempfile::tempdir().expect("an artifact directory");
        let servers = (0..n)
            .map(|_| {
                TestServer::start(
                    options!()
                        .env("FLOTILLA_DATABASE_URL", url.as_str())
                        .env("FLOTILLA_ARTIFACTS", artifacts.path().display().to_string())
                        .env("FLOTILLA_RESOLVE_TTL", "60s")
                        .env("FLOTILLA_LOG", "info"),
                )
            })
            .collect();
        Replicas { servers, _artifacts: artifacts, _postgres: postgres }
    }

    /// Uploads a model under `dir` through replica 0 (the artifact directory is shared).
    pub fn upload(&self, dir: &str, model: &str) {
        for (file, body) in [("MLmodel", flotilla_testkit::fixtures::MLMODEL), ("model.lgb", model)] {
            let path = format!("/api/2.0/mlflow-artifacts/artifacts/{dir}/{file}");
            let r = request(self.servers[0].addr, "PUT", &path, body.as_bytes()).expect("uploading");
            assert_eq!(r.status, 200, "PUT {path}: {}", r.text());
        }
    }
}

/// Registers a version of `name` from artifact directory `dir` through `at`;
/// the model is created first when `create`. Answers the version.
pub fn register(at: SocketAddr, name: &str, dir: &str, create: bool) -> String {
    if create {
        ok(at, "POST", "/api/2.0/mlflow/registered-models/create", &json!({ "name": name }));
    }
    let body = json!({ "name": name, "source": format!("mlflow-artifacts:/{dir}") });
    let v = ok(at, "POST", "/api/2.0/mlflow/model-versions/create", &body);
    v["model_version"]["version"].as_str().expect("a version").to_owned()
}

/// Sets `alias` of `name` to `version` through `at`.
pub fn set_alias(at: SocketAddr, name: &str, alias: &str, version: &str) {
    let body = json!({ "name": name, "alias": alias, "version": version });
    ok(at, "POST", "/api/2.0/mlflow/registered-models/alias", &body);
}

/// One inference of `name` (its default alias) through `at`: the version that
/// answered and the prediction.
pub fn infer(at: SocketAddr, name: &str) -> Result<(String, f64), String> {
    let body = flotilla_testkit::fixtures::infer_body().to_string();
    let r = request(at, "POST", &format!("/v2/models/{name}/infer"), body.as_bytes())?;
    if r.status != 200 {
        return Err(format!("{} {}", r.status, r.text()));
    }
    let answer = r.json();
    let version = answer["model_version"].as_str().ok_or_else(|| format!("no version in {answer}"))?;
    let value = answer["outputs"][0]["data"][0].as_f64().ok_or_else(|| format!("no prediction in {answer}"))?;
    Ok((version.to_owned(), value))
}

/// The models a replica holds in memory (`/v2/repository/index`, ready only).
pub fn loaded_models(at: SocketAddr) -> Vec<String> {
    let r = request(at, "POST", "/v2/repository/index", br#"{"ready": true}"#).expect("the repository index");
    assert_eq!(r.status, 200, "index: {}", r.text());
    let mut names: Vec<String> =
        r.json().as_array().expect("an index").iter().filter_map(|m| m["name"].as_str().map(str::to_owned)).collect();
    names.sort();
    names
}

/// A gauge of a replica's `/metrics`.
pub fn gauge(at: SocketAddr, name: &str) -> f64 {
    let r = request(at, "GET", "/metrics", b"").expect("metrics");
    assert_eq!(r.status, 200, "metrics: {}", r.text());
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// A JSON call that must answer 200.
pub fn ok(at: SocketAddr, method: &str, path: &str, body: &Value) -> Value {
    let r = request(at, method, path, body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
    r.json()
}

/// One request on a fresh connection; a connection error or a cut answer is an `Err`.
pub fn request(at: SocketAddr, method: &str, path: &str, body: &[u8]) -> Result<Reply, String> {
    let mut s = TcpStream::connect_timeout(&at, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(&[head.as_bytes(), body].concat()).map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(|e| format!("read: {e}"))?;
    if !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("cut answer: {:?}", String::from_utf8_lossy(&answer)));
    }
    Ok(Reply::parse(&answer))
}

pub use flotilla_testkit::nginx::Nginx;
