//! A real PostgreSQL cluster for tests: `initdb` into a temporary directory,
//! `pg_ctl start` listening on a unix socket in that directory only (no port
//! to collide on), stopped and removed when the handle drops.
//!
//! As root (CI runs as root, and PostgreSQL refuses to), the cluster runs as
//! the unprivileged `postgres` user through `runuser`. The binaries come from
//! `FLOTILLA_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`, else
//! `PATH`; when none is found, starting fails loudly (`scripts/test.sh`
//! installs PostgreSQL): a test never skips for want of it.
//!
//! [`Postgres::for_tests`] reuses a server the test command started
//! (`FLOTILLA_TEST_POSTGRES`, a superuser conninfo) so a test process does
//! not pay for `initdb`, and starts its own cluster otherwise.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running cluster this process started.
pub struct TempCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

impl TempCluster {
    /// Initialises and starts a cluster (about a second).
    pub fn start() -> std::io::Result<Self> {
        let bin = bin_dir()?;
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new().prefix("flotilla-pg-").tempdir()?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        let cluster = Self { dir, bin, as_postgres };
        run(cluster.command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]))?;
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300 -c shared_buffers=32MB",
            cluster.dir.path().display()
        );
        run(cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.path().join("server.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"]))?;
        Ok(cluster)
    }

    /// The directory holding the cluster's unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A libpq-style conninfo for database `db` as the superuser `postgres`.
    pub fn conninfo(&self, db: &str) -> String {
        format!("host={} port=5432 user=postgres dbname={db}", self.dir.path().display())
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let stopped = self.command("pg_ctl").arg("-D").arg(&data).args(["-m", "immediate", "-w", "stop"]).output();
        if let Err(e) = stopped {
            eprintln!("stopping the test PostgreSQL cluster: {e}");
        }
    }
}

/// A PostgreSQL server for a test process: the test command's, or one of its own.
pub enum Postgres {
    /// `FLOTILLA_TEST_POSTGRES`: a conninfo without `dbname`.
    Shared(String),
    Own(TempCluster),
}

impl Postgres {
    pub fn for_tests() -> std::io::Result<Self> {
        match std::env::var("FLOTILLA_TEST_POSTGRES") {
            Ok(conninfo) if !conninfo.trim().is_empty() => Ok(Self::Shared(conninfo)),
            Ok(_) | Err(_) => TempCluster::start().map(Self::Own),
        }
    }

    /// A conninfo for database `db` as a superuser.
    pub fn conninfo(&self, db: &str) -> String {
        match self {
            Self::Shared(base) => format!("{base} dbname={db}"),
            Self::Own(cluster) => cluster.conninfo(db),
        }
    }

    /// Creates an empty database with a fresh name; answers its conninfo.
    pub fn create_database(&self) -> Result<String, postgres::Error> {
        let name = format!("flotilla_s{:016x}", rand::random::<u64>());
        let mut admin = postgres::Client::connect(&self.conninfo("postgres"), postgres::NoTls)?;
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(self.conninfo(&name))
    }
}

fn running_as_root() -> bool {
    // The owner of /proc/self is this process's effective user.
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn bin_dir() -> std::io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("FLOTILLA_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists());
    on_path.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "PostgreSQL's initdb and pg_ctl were not found (install postgresql-15, or set FLOTILLA_PG_BIN)",
        )
    })
}

fn run(cmd: &mut Command) -> std::io::Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}
