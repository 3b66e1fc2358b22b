//! flotilla under test: `flotilla server --port 0` on a temporary (or given) data directory, its
//! bound port read from the start-up log, and raw HTTP/1.1 over TCP to it, so a test controls
//! every byte and every socket and can measure the process from `/proc`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{Launch, Port, Process};
use crate::{Reply, procfs};

/// Options for the `flotilla` binary of the crate under test: `CARGO_BIN_EXE_flotilla` is
/// named by cargo only when it compiles that crate's integration tests, so this expands there.
#[macro_export]
macro_rules! options {
    () => {
        $crate::Options::new(env!("CARGO_BIN_EXE_flotilla"))
    };
}

/// How to start flotilla: the binary, extra flags and environment, limits.
#[derive(Debug, Clone)]
pub struct Options {
    bin: PathBuf,
    /// Extra `flotilla server` flags.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Soft and hard open-file limit for the process (`ulimit -n`).
    pub open_files: Option<u64>,
    pub start_limit: Duration,
    pub stop_grace: Duration,
    /// A process group of its own (see [`Launch::own_group`]).
    pub own_group: bool,
}

impl Options {
    /// Starts `bin` in the caller's process group, with 30 s to become healthy and 5 s to stop
    /// after SIGTERM.
    pub fn new(bin: impl Into<PathBuf>) -> Options {
        Options {
            bin: bin.into(),
            args: Vec::new(),
            env: Vec::new(),
            open_files: None,
            start_limit: Duration::from_secs(30),
            stop_grace: Duration::from_secs(5),
            own_group: false,
        }
    }
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
    pub fn start_limit(mut self, limit: Duration) -> Self {
        self.start_limit = limit;
        self
    }
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }
    pub fn own_group(mut self, own: bool) -> Self {
        self.own_group = own;
        self
    }

    /// The launch of `flotilla server` on `data_dir` at 127.0.0.1, port 0, its log in
    /// `work_dir/flotilla.log`, for callers that manage the process themselves ([`Process`]).
    pub fn launch(&self, data_dir: &Path, work_dir: &Path) -> Launch {
        let mut args: Vec<String> = vec!["server".into(), "--data-dir".into(), data_dir.display().to_string()];
        args.extend(["--host", "127.0.0.1", "--port", "0"].map(String::from));
        args.extend(self.args.iter().cloned());
        // The bound port is read from the info-level start-up line; callers may override.
        let mut env = vec![("FLOTILLA_LOG".to_owned(), "info".to_owned())];
        env.extend(self.env.iter().cloned());
        Launch {
            name: "flotilla".to_owned(),
            program: self.bin.clone(),
            args,
            env,
            dir: work_dir.to_path_buf(),
            port: Port::Logged,
            open_files: self.open_files,
            start_limit: self.start_limit,
            stop_grace: self.stop_grace,
            own_group: self.own_group,
        }
    }
}

/// A running flotilla on its own data directory; stopped when dropped (the temporary data
/// directory is removed after the process is gone).
pub struct TestServer {
    pub addr: SocketAddr,
    process: Process,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory; panics if it does not start.
    pub fn start(options: Options) -> TestServer {
        TestServer::start_in(tempfile::tempdir().expect("temporary data directory"), options)
    }

    /// Starts a server on an existing data directory (prepared by the test); its log is
    /// `flotilla.log` in that directory.
    pub fn start_in(dir: tempfile::TempDir, options: Options) -> TestServer {
        let process = Process::start(options.launch(dir.path(), dir.path())).unwrap_or_else(|e| panic!("{e}"));
        TestServer { addr: process.addr, process, dir }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.process.base_url()
    }

    pub fn log_text(&self) -> String {
        self.process.log_text()
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
        procfs::status_kib(self.pid(), "VmHWM:").expect("VmHWM of the server")
    }

    /// The process's current resident set (VmRSS) in KiB.
    pub fn rss_kib(&self) -> u64 {
        procfs::status_kib(self.pid(), "VmRSS:").expect("VmRSS of the server")
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
        assert!(self.process.terminate(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(limit)
    }

    /// Asserts the process is still running.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.process.try_wait() {
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
