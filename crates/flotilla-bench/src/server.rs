//! Starting a server under test in its own process group, timing it to healthy, stopping it.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::http::{Http, Req};
use crate::procfs::{self, TreeRss};

const HEALTH_POLL: Duration = Duration::from_millis(10);

/// A running server: its process group is stopped when this is dropped.
pub struct Server {
    pub name: String,
    pub base: String,
    child: Child,
    log: PathBuf,
}

/// How to start one server: program, arguments, working directory, extra environment.
pub struct Launch {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub port: u16,
}

/// A free loopback port (bound then released; another process could take it in between,
/// which start-up would then report as a failure).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Spawns the server and waits for the first 200 on `/health`, polling every 10 ms.
    /// Returns the server and the time from spawn to healthy.
    pub async fn start(launch: Launch, limit: Duration) -> Result<(Server, Duration)> {
        let log = launch.dir.join(format!("{}.log", launch.name.replace(' ', "-")));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args).current_dir(&launch.dir).stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let spawned = Instant::now();
        let child = cmd.spawn().with_context(|| format!("starting {} ({})", launch.name, launch.program.display()))?;
        let mut server = Server { name: launch.name, base: format!("http://127.0.0.1:{}", launch.port), child, log };
        let health = Req::get("/health");
        loop {
            // A fresh client each poll: the server may not be listening yet.
            let probe = Http::new(&server.base);
            let answer = tokio::time::timeout(Duration::from_secs(2), probe.send(&health)).await;
            if matches!(answer, Ok(Ok((status, _))) if status.as_u16() == 200) {
                return Ok((server, spawned.elapsed()));
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!("{} exited before healthy ({status}); log:\n{}", server.name, server.log_tail());
            }
            if spawned.elapsed() > limit {
                bail!("{} not healthy after {limit:?}; log:\n{}", server.name, server.log_tail());
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server's whole process tree.
    pub fn rss(&self) -> TreeRss {
        procfs::tree_rss(self.pid())
    }

    /// The last lines of the server's combined stdout/stderr.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops the process group politely, then by force; also any descendant that left it.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.pid();
        let tree = procfs::tree(pid);
        signal(&format!("-{pid}"), "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(&format!("-{pid}"), "KILL");
        for p in tree {
            if procfs::alive(p) {
                signal(&p.to_string(), "KILL");
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends a signal to a pid (or to a process group with a leading '-') through `kill`.
fn signal(target: &str, sig: &str) {
    let _ = Command::new("kill")
        .args([format!("-{sig}"), "--".to_owned(), target.to_owned()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The launch of flotilla on a data directory.
pub fn flotilla(bin: &Path, data_dir: &Path, work_dir: &Path, port: u16) -> Launch {
    Launch {
        name: "flotilla".to_owned(),
        program: bin.to_path_buf(),
        args: vec![
            "server".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
        ],
        dir: work_dir.to_path_buf(),
        env: Vec::new(),
        port,
    }
}

/// The launch of the real MLflow tracking server on SQLite plus a local artifact folder.
pub fn mlflow(mlflow_bin: &Path, work_dir: &Path, port: u16) -> Launch {
    let db = work_dir.join("mlflow.db");
    let artifacts = work_dir.join("artifacts");
    Launch {
        name: "mlflow".to_owned(),
        program: mlflow_bin.to_path_buf(),
        args: vec![
            "server".into(),
            "--backend-store-uri".into(),
            format!("sqlite:///{}", db.display()),
            "--artifacts-destination".into(),
            artifacts.display().to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
        ],
        dir: work_dir.to_path_buf(),
        env: vec![("MLFLOW_DISABLE_TELEMETRY".into(), "true".into()), ("DO_NOT_TRACK".into(), "true".into())],
        port,
    }
}
