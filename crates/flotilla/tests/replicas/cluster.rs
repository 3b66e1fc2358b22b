//! The replicas shape under test: `flotilla server` processes on one
//! PostgreSQL database and one artifact directory, and nginx started from
//! `deploy/nginx/flotilla.conf` as an unprivileged configuration on a free
//! loopback port, with `replicas.conf` and `hot-models.conf` written here.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_testkit::postgres::Postgres;
use flotilla_testkit::{Reply, TestServer, free_port, options};
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

/// nginx with the deployment configuration, in front of `replicas`.
pub struct Nginx {
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx on a free port, or answers `None` when it is not installed
    /// and the run is not CI's (under `CI` a missing nginx fails the test).
    pub fn start(replicas: &[SocketAddr], hot: &[&str]) -> Option<Nginx> {
        let Some(bin) = nginx_binary() else {
            assert!(std::env::var_os("CI").is_none(), "nginx is not installed (tests/deploy/install-nginx.sh)");
            eprintln!("skipped: nginx is not installed (tests/deploy/install-nginx.sh)");
            return None;
        };
        let dir = tempfile::tempdir().expect("a directory for nginx");
        // Workers drop root to `nobody`: they must reach the temp paths.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let port = free_port().expect("a free port");
        std::fs::write(dir.path().join("flotilla.conf"), render(&deploy_conf("flotilla.conf"), dir.path(), port))
            .unwrap();
        let servers: String = replicas.iter().map(|a| format!("server {a} max_fails=1 fail_timeout=5s;\n")).collect();
        std::fs::write(dir.path().join("replicas.conf"), servers).unwrap();
        let hot: String = hot.iter().map(|h| format!("\"{h}\" \"$flotilla_model#$flotilla_copy\";\n")).collect();
        std::fs::write(dir.path().join("hot-models.conf"), hot).unwrap();
        let log = std::fs::File::create(dir.path().join("error.log")).unwrap();
        let globals = format!("daemon off; pid {}/nginx.pid; error_log stderr warn;", dir.path().display());
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("flotilla.conf"))
            .args(["-g", &globals])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting nginx");
        let nginx = Nginx { addr: SocketAddr::from(([127, 0, 0, 1], port)), child, dir };
        nginx.wait_listening();
        Some(nginx)
    }

    fn wait_listening(&self) {
        let started = Instant::now();
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "nginx did not listen: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT is nginx's graceful stop; the master takes its workers with it.
        let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The deployment file `deploy/nginx/{name}`.
fn deploy_conf(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documented substitutions: the port, and temp paths and logs of its own.
fn render(conf: &str, dir: &Path, port: u16) -> String {
    assert!(conf.contains("listen 8080;"), "deploy/nginx/flotilla.conf no longer listens on 8080");
    let own: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("    {t}_temp_path {}/{t}_temp;\n", dir.display()))
        .collect();
    conf.replacen("listen 8080;", &format!("listen 127.0.0.1:{port};"), 1).replacen(
        "http {\n",
        &format!("http {{\n{own}    access_log off;\n"),
        1,
    )
}

fn nginx_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nginx"))
        .find(|p| p.exists());
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.exists()))
}
