//! HTTPS with `--tls-cert`/`--tls-key`: a real TLS client (rustls, checking
//! the self-signed certificate made here), the connection limits under TLS
//! (handshake timeout, idle timeout, requests per connection), and clear
//! start-up errors for bad certificate and key files.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_testkit::Reply;

/// A certificate for `localhost` and 127.0.0.1, written to `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf, rustls::pki_types::CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, made.cert.der().clone())
}

/// `flotilla server` with TLS; its readiness is the start-up line (the
/// testkit's probe speaks plain HTTP).
struct TlsServer {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn flotilla(dir: &Path, cert: &Path, key: &Path, extra: &[&str]) -> (Child, PathBuf) {
    let log = dir.join("flotilla.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["server", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .args(extra)
        .env("FLOTILLA_LOG", "info")
        .env_remove("FLOTILLA_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    (child, log)
}

fn start(extra: &[&str]) -> (TlsServer, rustls::pki_types::CertificateDer<'static>) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate(dir.path());
    let (mut child, log) = flotilla(dir.path(), &cert, &key, extra);
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("flotilla is listening")) {
            assert!(line.contains("scheme=\"https\"") || line.contains("scheme=https"), "{line}");
            let at = line.find("address=").unwrap() + "address=".len();
            let addr = line[at..].split_whitespace().next().unwrap().parse().unwrap();
            return (TlsServer { child, addr, log, cert, _dir: dir }, der);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("flotilla exited ({status}): {text}");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "not listening: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn client(root: &rustls::pki_types::CertificateDer<'static>, addr: SocketAddr, name: &str) -> impl Read + Write {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// Reads one answer with a `Content-Length` body off a keep-alive stream.
fn read_answer(stream: &mut impl Read) -> Reply {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the connection closed mid-answer");
        bytes.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    bytes.extend(body);
    Reply::parse(&bytes)
}

/// Whether the server closes `stream` within `limit` (a read ends or fails).
fn closed_within(mut stream: impl Read, limit: Duration) -> bool {
    let started = Instant::now();
    let mut sink = [0u8; 256];
    loop {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return started.elapsed() <= limit,
            Ok(_) => {}
        }
    }
}

#[test]
fn https_with_a_real_client_under_every_connection_limit() {
    let (server, root) =
        start(&["--max-requests-per-connection", "2", "--header-timeout", "1s", "--idle-timeout", "1s"]);
    let get = |host: &str| {
        format!("GET /api/2.0/mlflow/experiments/get?experiment_id=0 HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
    };
    // Keep-alive over TLS, closed after the per-connection budget of two.
    let mut tls = client(&root, server.addr, "localhost");
    tls.write_all(&get("localhost")).unwrap();
    let first = read_answer(&mut tls);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["experiment"]["name"], "Default");
    tls.write_all(&get("localhost")).unwrap();
    let second = read_answer(&mut tls);
    assert_eq!((second.status, second.header("connection")), (200, Some("close")));
    // By address too (the certificate names 127.0.0.1).
    let mut tls = client(&root, server.addr, "127.0.0.1");
    tls.write_all(&get(&server.addr.to_string())).unwrap();
    assert_eq!(read_answer(&mut tls).status, 200);
    // An idle TLS connection is closed after the idle timeout.
    assert!(closed_within(tls, Duration::from_secs(4)), "idle TLS connection left open");

    // A handshake that never finishes is cut at the header timeout.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    assert!(closed_within(stalled, Duration::from_secs(4)), "a stalled handshake was not cut");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "plain HTTP answered on the TLS port");

    // A client that does not trust the certificate refuses the server.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let mut distrustful = client(other.cert.der(), server.addr, "localhost");
    assert!(distrustful.write_all(&get("localhost")).and_then(|()| distrustful.flush()).is_err());
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("route=/api/2.0/mlflow/experiments/get status=200"), "{log}");

    // The CLI's --server client over HTTPS, trusting the certificate as the mlflow client does.
    let url = format!("https://localhost:{}", server.addr.port());
    let families = |cert: Option<&Path>| {
        let mut cli = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cli.args(["fleet", "families", "--server", &url, "--json"]).env_remove("MLFLOW_TRACKING_SERVER_CERT_PATH");
        if let Some(cert) = cert {
            cli.env("MLFLOW_TRACKING_SERVER_CERT_PATH", cert);
        }
        cli.output().unwrap()
    };
    let trusted = families(Some(&server.cert));
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
    let untrusted = families(None);
    assert!(!untrusted.status.success(), "the CLI trusted a self-signed certificate it was not given");
}

#[test]
fn bad_certificate_or_key_files_stop_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = certificate(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a pem file\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let (other_cert, other_key, _) = certificate(&{
        let d = dir.path().join("other");
        std::fs::create_dir(&d).unwrap();
        d
    });
    let _ = other_cert;
    // (cert, key) -> what the error names
    for (cert, key, expected) in [
        (&garbage, &key, "garbage.pem"),
        (&missing, &key, "missing.pem"),
        (&cert, &garbage, "garbage.pem"),
        (&cert, &missing, "missing.pem"),
        (&cert, &other_key, "do not fit"),
    ] {
        let (mut child, log) = flotilla(dir.path(), cert, key, &[]);
        let status = child.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!status.success(), "started with {cert:?} {key:?}");
        assert!(text.contains(expected) && text.contains("TLS"), "{expected}: {text}");
        assert!(!text.contains("flotilla is listening"), "{text}");
    }
    let half = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["server", "--port", "0", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!half.status.success());
    assert!(String::from_utf8_lossy(&half.stderr).contains("--tls-key"));
}
