//! The Python venv holding the real MLflow server, installed once and shared with other tools.
//!
//! Other scripts may install the same venv at the same time (they mark it with an
//! `.installing` file and run `pip install` on it). We never install twice: while any process
//! is creating or installing into the venv we wait, and we install only when nobody is.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use flotilla_testkit::procfs;

pub const MLFLOW_VERSION: &str = "3.17.2";
const STAMP: &str = ".flotilla-bench-installed";
const OTHERS_MARKER: &str = ".installing";
const OUR_LOCK: &str = ".flotilla-bench-installing";
const QUIET_GRACE: Duration = Duration::from_secs(20);
const WAIT_LIMIT: Duration = Duration::from_secs(20 * 60);

/// Makes sure `venv` holds `mlflow==3.17.2` and returns the path of its `mlflow` executable.
pub fn ensure_mlflow(venv: &Path) -> Result<PathBuf> {
    let mlflow = venv.join("bin/mlflow");
    let started = Instant::now();
    let mut said_waiting = false;
    let mut quiet_since: Option<Instant> = None;
    loop {
        if venv.join(STAMP).exists() && mlflow.exists() {
            return Ok(mlflow);
        }
        if started.elapsed() > WAIT_LIMIT {
            bail!("gave up after {WAIT_LIMIT:?} waiting for another install of {}", venv.display());
        }
        if let Some(pid) = installer_running(venv) {
            if !said_waiting {
                eprintln!("bench: venv {} is being installed by pid {pid}; waiting", venv.display());
                said_waiting = true;
            }
            quiet_since = None;
            std::thread::sleep(Duration::from_secs(3));
            continue;
        }
        if installed_version(venv).as_deref() == Some(MLFLOW_VERSION) && mlflow.exists() {
            fs::write(venv.join(STAMP), MLFLOW_VERSION).context("writing venv stamp")?;
            return Ok(mlflow);
        }
        // Another installer may be between steps (venv made, pip not yet started): a venv
        // folder that exists without a finished install gets a quiet grace period first.
        if venv.exists() {
            let quiet = *quiet_since.get_or_insert_with(Instant::now);
            if quiet.elapsed() < QUIET_GRACE {
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        }
        install(venv)?;
        quiet_since = None;
    }
}

/// Pid of a live process creating or installing into this venv, if any.
fn installer_running(venv: &Path) -> Option<u32> {
    let name = venv.file_name()?.to_str()?.to_owned();
    procfs::command_lines().into_iter().find_map(|(pid, args)| {
        let touches_venv = args.iter().any(|a| a.contains(&name));
        let installs = args.iter().any(|a| a == "install" || a == "venv" || a == "ensurepip" || a.ends_with("/pip"));
        let serves = args.iter().any(|a| a == "server");
        (touches_venv && installs && !serves).then_some(pid)
    })
}

/// The mlflow version importable from the venv, if any.
fn installed_version(venv: &Path) -> Option<String> {
    let python = venv.join("bin/python");
    let out = Command::new(python)
        .args(["-c", "import importlib.metadata as m; print(m.version('mlflow'))"])
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn install(venv: &Path) -> Result<()> {
    if let Some(parent) = venv.parent() {
        fs::create_dir_all(parent)?;
    }
    // Claim the install; if someone else claimed it between our checks, go back to waiting.
    let lock =
        venv.with_file_name(format!("{}{OUR_LOCK}", venv.file_name().and_then(|n| n.to_str()).unwrap_or("venv")));
    match fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let owner = fs::read_to_string(&lock).ok().and_then(|s| s.trim().parse::<u32>().ok());
            if owner.is_some_and(procfs::alive) {
                std::thread::sleep(Duration::from_secs(3));
                return Ok(());
            }
            eprintln!("bench: removing stale install lock {}", lock.display());
            fs::remove_file(&lock)?;
            return Ok(());
        }
        Err(e) => return Err(e).context("creating install lock"),
    }
    fs::write(&lock, std::process::id().to_string())?;
    let result = run_install(venv);
    let _ = fs::remove_file(&lock);
    result
}

fn run_install(venv: &Path) -> Result<()> {
    let started = Instant::now();
    if !venv.join("bin/python").exists() {
        eprintln!("bench: creating venv {}", venv.display());
        let status = Command::new("python3").arg("-m").arg("venv").arg(venv).status()?;
        if !status.success() {
            bail!("python3 -m venv {} failed", venv.display());
        }
    }
    let marker = venv.join(OTHERS_MARKER);
    let _ = fs::write(&marker, format!("installing by flotilla-bench {}\n", std::process::id()));
    eprintln!("bench: pip install mlflow=={MLFLOW_VERSION} (about a minute)");
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", &format!("mlflow=={MLFLOW_VERSION}")])
        .status()
        .context("running pip")?;
    let _ = fs::remove_file(&marker);
    if !status.success() {
        bail!("pip install mlflow=={MLFLOW_VERSION} failed");
    }
    if installed_version(venv).as_deref() != Some(MLFLOW_VERSION) {
        bail!("mlflow {MLFLOW_VERSION} not importable after install");
    }
    fs::write(venv.join(STAMP), MLFLOW_VERSION)?;
    eprintln!("bench: mlflow installed in {:.0?}", started.elapsed());
    Ok(())
}

/// The PostgreSQL driver MLflow's SQL store needs for a `postgresql://` backend.
pub const PSYCOPG2: &str = "psycopg2-binary==2.9.13";

/// Makes sure the mlflow venv can open a PostgreSQL backend store (installs [`PSYCOPG2`] once).
pub fn ensure_psycopg2(venv: &Path) -> Result<()> {
    let python = venv.join("bin/python");
    let has = |python: &Path| Command::new(python).args(["-c", "import psycopg2"]).status().is_ok_and(|s| s.success());
    if has(&python) {
        return Ok(());
    }
    eprintln!("bench: installing {PSYCOPG2} into {}", venv.display());
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", PSYCOPG2])
        .status()
        .context("running pip")?;
    anyhow::ensure!(status.success() && has(&python), "could not install {PSYCOPG2} into {}", venv.display());
    Ok(())
}
