//! The two servers the bench compares, started on the test kit's mechanics (own process group,
//! readiness on `/health`, SIGTERM then SIGKILL on drop): flotilla on port 0, the real MLflow
//! tracking server on a free port chosen beforehand.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use flotilla_testkit::{Launch, Options, Port, Process};

/// How long a stop waits after SIGTERM (MLflow's workers take a moment).
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Starts a server and waits until it is healthy, off the runtime's thread.
pub async fn start(launch: Launch) -> Result<Process> {
    let started = tokio::task::spawn_blocking(move || Process::start(launch)).await.context("start-up task")?;
    Ok(started?)
}

/// The launch of flotilla on a data directory, allowed `limit` to become healthy.
pub fn flotilla(bin: &Path, data_dir: &Path, work_dir: &Path, limit: Duration) -> Launch {
    Options::new(bin).start_limit(limit).stop_grace(STOP_GRACE).own_group(true).launch(data_dir, work_dir)
}

/// The launch of the real MLflow tracking server on SQLite plus a local artifact folder.
pub fn mlflow(mlflow_bin: &Path, work_dir: &Path, limit: Duration) -> Result<Launch> {
    let db = work_dir.join("mlflow.db");
    mlflow_on(mlflow_bin, work_dir, limit, &format!("sqlite:///{}", db.display()))
}

/// The launch of the real MLflow tracking server on `backend_store_uri` (SQLAlchemy's form)
/// plus a local artifact folder.
pub fn mlflow_on(mlflow_bin: &Path, work_dir: &Path, limit: Duration, backend_store_uri: &str) -> Result<Launch> {
    let port = flotilla_testkit::free_port()?;
    let artifacts = work_dir.join("artifacts");
    Ok(Launch {
        name: "mlflow".to_owned(),
        program: mlflow_bin.to_path_buf(),
        args: vec![
            "server".into(),
            "--backend-store-uri".into(),
            backend_store_uri.to_owned(),
            "--artifacts-destination".into(),
            artifacts.display().to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
        ],
        dir: work_dir.to_path_buf(),
        env: vec![("MLFLOW_DISABLE_TELEMETRY".into(), "true".into()), ("DO_NOT_TRACK".into(), "true".into())],
        port: Port::Fixed(port),
        open_files: None,
        start_limit: limit,
        stop_grace: STOP_GRACE,
        own_group: true,
    })
}

/// A libpq `key=value` conninfo (no quoted values) as the SQLAlchemy URL MLflow takes:
/// `postgresql+psycopg2://user[:password]@[host][:port]/dbname` (SQLAlchemy 2.1 takes plain
/// `postgresql://` for psycopg 3), or with the host as a query
/// parameter when it is a unix-socket directory.
pub fn sqlalchemy_url(conninfo: &str) -> Result<String> {
    let mut fields = std::collections::HashMap::new();
    for pair in conninfo.split_whitespace() {
        let (k, v) = pair.split_once('=').with_context(|| format!("not key=value: {pair:?} in {conninfo:?}"))?;
        fields.insert(k, v);
    }
    let get = |k: &str| fields.get(k).copied().unwrap_or_default();
    let user = match get("password") {
        "" => get("user").to_owned(),
        password => format!("{}:{password}", get("user")),
    };
    let (host, port, db) = (get("host"), get("port"), get("dbname"));
    Ok(if host.starts_with('/') {
        let port = if port.is_empty() { String::new() } else { format!("&port={port}") };
        format!("postgresql+psycopg2://{user}@/{db}?host={host}{port}")
    } else {
        let port = if port.is_empty() { String::new() } else { format!(":{port}") };
        format!("postgresql+psycopg2://{user}@{host}{port}/{db}")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn conninfo_becomes_a_sqlalchemy_url() {
        let url = |c| super::sqlalchemy_url(c).unwrap();
        assert_eq!(
            url("host=/tmp/pg port=5432 user=postgres dbname=b"),
            "postgresql+psycopg2://postgres@/b?host=/tmp/pg&port=5432"
        );
        assert_eq!(url("host=db.local user=u password=p dbname=m"), "postgresql+psycopg2://u:p@db.local/m");
    }
}
