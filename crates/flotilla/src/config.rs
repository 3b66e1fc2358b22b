//! Server configuration from flags and `FLOTILLA_*` environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Directory holding the SQLite database (`flotilla.db`) and the artifact
    /// store (`artifacts/`); created if missing.
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value = "./flotilla-data")]
    pub data_dir: PathBuf,
    /// Address to listen on. Use 0.0.0.0 to accept connections from other hosts.
    #[arg(long, env = "FLOTILLA_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "FLOTILLA_PORT", default_value_t = 5000)]
    pub port: u16,
    /// Worker threads for network I/O (default: one per core).
    #[arg(long, env = "FLOTILLA_WORKERS")]
    pub workers: Option<usize>,
}

/// Everything `flotilla server` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub database: PathBuf,
    pub artifact_root: PathBuf,
    pub listen: SocketAddr,
    pub workers: Option<usize>,
}

impl ServerArgs {
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        Ok(ServerConfig {
            database: self.data_dir.join("flotilla.db"),
            artifact_root: self.data_dir.join("artifacts"),
            data_dir: self.data_dir,
            listen: SocketAddr::new(self.host, self.port),
            workers: self.workers.filter(|w| *w > 0),
        })
    }
}
