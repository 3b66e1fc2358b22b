//! Starts a real `flotilla server` on a temporary data directory and talks to
//! it over raw TCP: each request is written byte for byte and the answer read
//! to the end of the connection, so tests can also hold sockets open, send
//! partial headers, or measure the process from `/proc`.

// Each class module uses a different part of the harness.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How to start a server.
#[derive(Default, Clone)]
pub struct Options {
    /// Extra `flotilla server` flags.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Soft and hard open-file limit for the process (`ulimit -n`).
    pub open_files: Option<u64>,
}

impl Options {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn open_files(mut self, n: u64) -> Self {
        self.open_files = Some(n);
        self
    }
}

/// A running server; killed when dropped.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

const START_LIMIT: Duration = Duration::from_secs(30);

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Server {
        Server::start_in(tempfile::tempdir().expect("temporary data directory"), options)
    }

    /// Starts a server on an existing data directory (prepared by the test).
    pub fn start_in(dir: tempfile::TempDir, options: Options) -> Server {
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).expect("server log");
        let bin = env!("CARGO_BIN_EXE_flotilla");
        let mut args: Vec<String> = vec!["server".into(), "--data-dir".into(), dir.path().display().to_string()];
        args.extend(["--port".into(), "0".into()]);
        args.extend(options.args.iter().cloned());
        let mut cmd = match options.open_files {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("ulimit -n {n} && exec \"$0\" \"$@\"")).arg(bin).args(&args);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.args(&args);
                c
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(out).env("FLOTILLA_LOG", "info");
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starting flotilla");
        let mut server = Server { dir, addr: SocketAddr::from(([127, 0, 0, 1], 0)), child, log };
        server.addr = server.wait_for_address();
        server
    }

    /// Reads the bound address from the start-up log line, then waits for `/health`.
    fn wait_for_address(&mut self) -> SocketAddr {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the server") {
                panic!("flotilla exited at start ({status}):\n{}", self.log_text());
            }
            if let Some(addr) = self.log_text().lines().find_map(listening_address) {
                let probe = Server::probe(addr);
                if probe {
                    return addr;
                }
            }
            assert!(started.elapsed() < START_LIMIT, "flotilla did not start:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn probe(addr: SocketAddr) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let req = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", addr.port());
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut first = String::new();
        BufReader::new(s).read_line(&mut first).is_ok() && first.contains(" 200 ")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `Host` header value for this server.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// A new TCP connection to the server.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).expect("connecting");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }

    /// Sends one request (with `Connection: close`) and reads the whole answer.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.host());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        self.raw(&[head.as_bytes(), body].concat())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    /// POSTs a JSON body with `Content-Type: application/json`.
    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, &[("Content-Type", "application/json")], body.to_string().as_bytes())
    }

    /// Writes `bytes` as they are and reads the answer to the end of the connection.
    pub fn raw(&self, bytes: &[u8]) -> Reply {
        let mut s = self.connect();
        s.write_all(bytes).expect("sending the request");
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).expect("reading the answer");
        Reply::parse(&answer)
    }

    /// The process's peak resident set (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmHWM:")
    }

    /// The process's current resident set (VmRSS) in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmRSS:")
    }

    /// Resets the peak resident set to the current one, so the next
    /// `peak_rss_kib` measures only what follows.
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").expect("resetting VmHWM");
    }

    /// Open file descriptors of the process.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map(|d| d.count()).unwrap_or(0)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status().expect("kill");
        assert!(ok.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("polling the server") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Asserts the process is still running.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("polling the server") {
            panic!("flotilla died ({status}):\n{}", self.log_text());
        }
    }

    /// The time `/health` takes on a fresh connection.
    pub fn health_latency(&self) -> Duration {
        let started = Instant::now();
        let reply = self.get("/health");
        assert_eq!(reply.status, 200, "health: {}", reply.text());
        started.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("flotilla is listening") {
        return None;
    }
    let rest = &line[line.find("address=")? + "address=".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} missing"));
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().expect("a number of kB")
}

/// An HTTP answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn parse(bytes: &[u8]) -> Reply {
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
            panic!("no complete HTTP head in {:?}", String::from_utf8_lossy(&bytes[..bytes.len().min(200)]))
        });
        let head = String::from_utf8_lossy(&bytes[..split]);
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let raw = &bytes[split + 4..];
        let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked { dechunk(raw) } else { raw.to_vec() };
        Reply { status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// MLflow's `error_code`, or a marker when the body is not an MLflow error.
    pub fn error_code(&self) -> String {
        self.json()["error_code"].as_str().unwrap_or("<not an MLflow error>").to_string()
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}
