//! One server process under test: spawned with its output in a log file (in its own process
//! group if asked), waited for until `/health` answers 200, and stopped politely, then by force.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, procfs};

/// How often start-up reads the log and probes `/health`.
const POLL: Duration = Duration::from_millis(10);

/// Where a started server's port comes from.
#[derive(Debug, Clone, Copy)]
pub enum Port {
    /// The server binds port 0 and logs the bound address (`flotilla is listening
    /// address=127.0.0.1:…`), so no other process can take the port between choice and bind.
    Logged,
    /// Chosen beforehand with [`free_port`] and passed in the arguments, for a peer (MLflow)
    /// that cannot report the port it bound.
    Fixed(u16),
}

/// How to start one server.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Names the server in errors and its log file (`<dir>/<name>.log`).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Working directory, and where the log is written.
    pub dir: PathBuf,
    pub port: Port,
    /// Soft and hard open-file limit of the process (`ulimit -n`).
    pub open_files: Option<u64>,
    /// How long start-up may take before it counts as failed.
    pub start_limit: Duration,
    /// How long a stop waits after SIGTERM before it kills the process.
    pub stop_grace: Duration,
    /// Runs the server in a process group of its own, signalled as a whole on stop: for a peer
    /// that forks workers (MLflow). Off, the server stays in the caller's group, so whatever
    /// ends the caller's group (a test runner's timeout, Ctrl-C) ends the server too.
    pub own_group: bool,
}

/// A running server; stopped when dropped.
pub struct Process {
    pub name: String,
    pub addr: SocketAddr,
    /// The time from spawn to the first 200 on `/health`.
    pub started_in: Duration,
    child: Child,
    log: PathBuf,
    stop_grace: Duration,
    own_group: bool,
}

impl Process {
    /// Spawns the server and waits until it is healthy.
    pub fn start(launch: Launch) -> Result<Process, Error> {
        let log = launch.dir.join(format!("{}.log", launch.name.replace(' ', "-")));
        let out = File::create(&log).map_err(|source| Error::Log { path: log.clone(), source })?;
        let err = out.try_clone().map_err(|source| Error::Log { path: log.clone(), source })?;
        let mut cmd = match launch.open_files {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("ulimit -n {n} && exec \"$0\" \"$@\"")).arg(&launch.program);
                c
            }
            None => Command::new(&launch.program),
        };
        cmd.args(&launch.args).current_dir(&launch.dir).stdin(Stdio::null()).stdout(out).stderr(err);
        if launch.own_group {
            cmd.process_group(0);
        }
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let spawned = Instant::now();
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            name: launch.name.clone(),
            program: launch.program.clone(),
            source,
        })?;
        let mut process = Process {
            name: launch.name,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            started_in: Duration::ZERO,
            child,
            log,
            stop_grace: launch.stop_grace,
            own_group: launch.own_group,
        };
        loop {
            let addr = match launch.port {
                Port::Logged => process.log_text().lines().find_map(listening_address),
                Port::Fixed(port) => Some(SocketAddr::from(([127, 0, 0, 1], port))),
            };
            if let Some(addr) = addr.filter(|&a| probe(a)) {
                process.addr = addr;
                process.started_in = spawned.elapsed();
                return Ok(process);
            }
            if let Some(status) = process.try_wait() {
                return Err(Error::Exited { name: process.name.clone(), status, log: process.log_tail(30) });
            }
            if spawned.elapsed() > launch.start_limit {
                return Err(Error::NotHealthy {
                    name: process.name.clone(),
                    limit: launch.start_limit,
                    log: process.log_tail(30),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The server's combined stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The exit status, if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("polling the server process")
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends SIGTERM to the server itself; false if `kill` failed.
    pub fn terminate(&self) -> bool {
        signal(&self.pid().to_string(), "TERM")
    }

    /// Kills the server with SIGKILL and reaps it: a crash, with no chance to clean up.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        signal(&self.pid().to_string(), "KILL");
        self.child.wait().ok()
    }

    /// Stops the server (its process group, if it has its own) with SIGTERM, then after the
    /// grace with SIGKILL; also kills any descendant still alive.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.pid();
        let tree = procfs::tree(pid);
        let target = if self.own_group { format!("-{pid}") } else { pid.to_string() };
        signal(&target, "TERM");
        let deadline = Instant::now() + self.stop_grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(&target, "KILL");
        for p in tree {
            if procfs::alive(p) {
                signal(&p.to_string(), "KILL");
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback port (bound then released; another process could take it in between,
/// which start-up would then report as a failure).
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(Error::FreePort)?;
    Ok(listener.local_addr().map_err(Error::FreePort)?.port())
}

/// Whether `GET /health` on a fresh connection answers 200.
fn probe(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut first = String::new();
    BufReader::new(s).read_line(&mut first).is_ok() && first.contains(" 200 ")
}

/// The address in flotilla's start-up line, `... flotilla is listening address=127.0.0.1:PORT ...`,
/// or in its JSON form (`FLOTILLA_LOG_FORMAT=json`), `..."address":"127.0.0.1:PORT"...`.
fn listening_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("flotilla is listening") {
        return None;
    }
    if let Some(at) = line.find("\"address\":\"") {
        let rest = &line[at + "\"address\":\"".len()..];
        return rest.split('"').next()?.parse().ok();
    }
    let rest = &line[line.find("address=")? + "address=".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Sends a signal to a pid (or to a process group with a leading '-') through `kill`.
fn signal(target: &str, sig: &str) -> bool {
    Command::new("kill")
        .args([format!("-{sig}"), "--".to_owned(), target.to_owned()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
