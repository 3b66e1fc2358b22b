//! `TempS3`: moto's S3 server (`moto_server`, in memory) on a free loopback port with one
//! bucket, for the S3 artifact store's tests; killed on drop.
//!
//! `moto_server` comes from `.venvs/s3` (made by `tests/s3/setup.sh`, which `scripts/test.sh`
//! runs before the Rust tests) or `FLOTILLA_MOTO_SERVER`. When it is missing, [`TempS3::start`]
//! answers `None` (the caller skips, loudly) — except under `CI`, where that is a failure.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

/// How long moto may take to answer (it imports a lot of Python).
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running moto S3 server with one empty bucket.
pub struct TempS3 {
    child: Child,
    pub addr: SocketAddr,
    pub bucket: String,
    _dir: tempfile::TempDir,
}

/// Where `moto_server` is, if anywhere.
pub fn moto_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLOTILLA_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(".venvs/s3/bin/moto_server");
    path.exists().then_some(path)
}

impl TempS3 {
    /// Start moto with a bucket named `bucket`; `None` (after a message on stderr) when moto is
    /// not installed outside CI. Panics when it cannot start, or is missing under `CI`.
    pub fn start(bucket: &str) -> Option<TempS3> {
        let Some(program) = moto_server() else {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(
                !ci,
                "moto_server is missing: run tests/s3/setup.sh (scripts/test.sh does) or set FLOTILLA_MOTO_SERVER"
            );
            eprintln!("SKIPPED: moto_server not found; run tests/s3/setup.sh to run the S3 tests");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory for moto");
        let log = std::fs::File::create(dir.path().join("moto.log")).expect("moto's log");
        let port = free_port().expect("a free port for moto");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("moto's log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut s3 =
            TempS3 { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), bucket: bucket.to_owned(), _dir: dir };
        let started = Instant::now();
        loop {
            if let Some(status) = s3.child.try_wait().expect("polling moto") {
                panic!("moto_server exited ({status}); log:\n{}", s3.log());
            }
            // Creating the bucket is also the readiness probe.
            if request(s3.addr, "PUT", &format!("/{bucket}")).is_some_and(|status| status == 200) {
                return Some(s3);
            }
            assert!(started.elapsed() < START_LIMIT, "moto_server not ready after {START_LIMIT:?}; log:\n{}", s3.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `s3://<bucket>/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The `AWS_*` variables a client of this server needs (moto takes any credentials).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("moto.log")).unwrap_or_default()
    }
}

impl Drop for TempS3 {
    fn drop(&mut self) {
        if let Err(error) = self.child.kill() {
            eprintln!("stopping moto_server: {error}");
        }
        if let Err(error) = self.child.wait() {
            eprintln!("reaping moto_server: {error}");
        }
    }
}

/// One bodiless request on a fresh connection; the status code, if any answer came.
fn request(addr: SocketAddr, method: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    let mut first = String::new();
    BufReader::new(stream).read_line(&mut first).ok()?;
    first.split_whitespace().nth(1)?.parse().ok()
}
