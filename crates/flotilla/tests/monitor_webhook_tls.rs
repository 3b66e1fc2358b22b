//! Alert webhooks over HTTPS (issue 15, point 5): a local TLS receiver with
//! a self-signed certificate made here, trusted by the server through
//! `SSL_CERT_FILE` (the certificate bundle the webhook client reads; see
//! the README's monitoring section). Under `--auth basic`, traffic with
//! errors fires three rules: `/ok` gets a signed delivery within 5 s of
//! the window closing, `/flaky` answers 500 twice and is retried until it
//! takes it, `/hang` never answers and blocks neither. A server that does
//! not trust the certificate records the failed handshake as a retry.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_testkit::fixtures::{LIGHTGBM_MODEL, MLMODEL};
use flotilla_testkit::{Requester as Client, TestServer, options};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";

#[derive(Clone, Debug)]
struct Received {
    path: String,
    signature: Option<String>,
    body: String,
    at: Instant,
}

/// One request read off a TLS stream, then its answer (none for `/hang`).
fn serve(stream: &mut impl ReadWrite, seen: &Mutex<Vec<Received>>) -> Option<()> {
    let mut reader = BufReader::new(&mut *stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let (mut len, mut signature) = (0usize, None);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim().split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "x-flotilla-signature" => signature = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    drop(reader);
    let received =
        Received { path: path.clone(), signature, body: String::from_utf8_lossy(&body).into(), at: Instant::now() };
    let flaky_seen = {
        let mut all = seen.lock().unwrap();
        all.push(received);
        all.iter().filter(|r| r.path == "/flaky").count()
    };
    let status = match path.as_str() {
        "/hang" => {
            std::thread::sleep(Duration::from_secs(60));
            return None;
        }
        "/flaky" if flaky_seen <= 2 => "500 Internal Server Error",
        _ => "200 OK",
    };
    write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").ok()?;
    stream.flush().ok()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// An HTTPS receiver on 127.0.0.1 with a fresh self-signed certificate,
/// whose PEM is written to `cert`.
fn receiver(cert: &Path) -> (String, Arc<Mutex<Vec<Received>>>) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![made.cert.der().clone()], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (seen, config) = (Arc::clone(&seen), Arc::clone(&config));
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let _ = serve(&mut tls, &seen);
            });
        }
    });
    (base, got)
}

fn server(cert: Option<&Path>) -> TestServer {
    let mut o = options!()
        .env("FLOTILLA_AUTH", "basic")
        .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("FLOTILLA_MONITOR", "on")
        .arg("--monitor-window")
        .arg("1s");
    if let Some(c) = cert {
        o = o.env("SSL_CERT_FILE", c.to_str().unwrap());
    }
    TestServer::start(o)
}

fn register(server: &TestServer, a: &Client<'_>, name: &str) {
    for (file, body) in [("MLmodel", MLMODEL), ("model.lgb", LIGHTGBM_MODEL)] {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/{name}/{file}");
        let headers: Vec<(&str, &str)> = a.auth.as_deref().map(|h| ("Authorization", h)).into_iter().collect();
        assert_eq!(server.request("PUT", &path, &headers, body.as_bytes()).status, 200);
    }
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name })));
    let version = json!({ "name": name, "source": format!("mlflow-artifacts:/{name}") });
    a.ok("POST", "/api/2.0/mlflow/model-versions/create", Some(version));
}

/// Rules on `name`'s error rate posting to `hooks` + each path; one window of traffic, a third failing.
fn fire(a: &Client<'_>, name: &str, hooks: &str, paths: &[&str]) -> (Vec<i64>, i64) {
    let ids = paths
        .iter()
        .map(|p| {
            let rule = json!({ "name": format!("{name}{p}"), "scope": "model", "model": name, "check": "error_rate",
                "status": "fail", "windows": 1, "webhook_url": format!("{hooks}{p}"), "secret": "s3cret" });
            a.ok("POST", "/api/monitor/v1/alerts/rules", Some(rule))["rule"]["id"].as_i64().unwrap()
        })
        .collect();
    let good =
        json!({ "inputs": [{ "name": "input", "shape": [2, 2], "datatype": "FP32", "data": [0.9, 0.0, 0.1, 1.0] }] });
    let bad = json!({ "inputs": [{ "name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 3.0] }] });
    for _ in 0..4 {
        a.ok("POST", &format!("/v2/models/{name}/versions/1/infer"), Some(good.clone()));
    }
    for _ in 0..2 {
        assert_eq!(a.status("POST", &format!("/v2/models/{name}/infer"), Some(bad.clone())), 400);
    }
    let sent = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    (ids, (sent / 1000 + 1) * 1000)
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

fn signed_by(r: &Received, secret: &str) -> bool {
    let Some(sig) = &r.signature else { return false };
    let part = |p: &str| sig.split(',').find_map(|x| x.strip_prefix(p)).map(str::to_string);
    let (Some(t), Some(v1)) = (part("t="), part("v1=")) else { return false };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>() == v1
}

#[test]
fn https_webhooks_are_signed_retried_and_never_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("receiver.pem");
    let (hooks, got) = receiver(&cert);
    let server = server(Some(&cert));
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    register(&server, &a, "demand");
    let (ids, window_end) = fire(&a, "demand", &hooks, &["/hang", "/ok", "/flaky"]);

    let ok = until("the /ok delivery over HTTPS", Duration::from_secs(15), || {
        got.lock().unwrap().iter().find(|r| r.path == "/ok").cloned()
    });
    let body: Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!((body["model"].as_str(), body["check"].as_str()), (Some("demand"), Some("error_rate")), "{body}");
    let closed_at = body["window_end"].as_i64().unwrap();
    assert!(closed_at >= window_end - 1000, "{body}");
    let received_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
        - ok.at.elapsed().as_millis() as i64;
    assert!(received_ms - closed_at < 5000, "delivered {} ms after the window closed", received_ms - closed_at);
    assert!(signed_by(&ok, "s3cret") && !signed_by(&ok, "other"), "{:?}", ok.signature);

    let flaky = format!("/api/monitor/v1/alerts/deliveries?rule={}", ids[2]);
    let attempts = until("the flaky delivery", Duration::from_secs(15), || {
        let d = a.get(&flaky)["deliveries"].as_array().cloned().unwrap_or_default();
        d.iter().any(|x| x["outcome"] == "delivered").then_some(d)
    });
    let outcomes: Vec<&str> = attempts.iter().map(|d| d["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["delivered", "retrying", "retrying"], "{attempts:?}");
    assert!(got.lock().unwrap().iter().any(|r| r.path == "/hang"), "the hanging receiver was reached too");
}

#[test]
fn an_untrusted_certificate_is_a_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, got) = receiver(&dir.path().join("receiver.pem"));
    let server = server(None);
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    register(&server, &a, "demand");
    let (ids, _) = fire(&a, "demand", &hooks, &["/ok"]);
    let path = format!("/api/monitor/v1/alerts/deliveries?rule={}", ids[0]);
    let attempt = until("a failed attempt", Duration::from_secs(15), || {
        a.get(&path)["deliveries"].as_array().and_then(|d| d.first().cloned())
    });
    assert_eq!(attempt["outcome"], "retrying", "{attempt}");
    assert!(got.lock().unwrap().is_empty(), "nothing reached the receiver without trust");
}
