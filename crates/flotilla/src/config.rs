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
    /// Host names the server answers to (comma-separated, `*` for any). Default:
    /// loopback names when listening on loopback, any otherwise. Guards against
    /// DNS rebinding.
    #[arg(long, env = "FLOTILLA_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
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
    /// `None` means any host.
    pub allowed_hosts: Option<Vec<String>>,
}

impl ServerArgs {
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        Ok(ServerConfig {
            database: self.data_dir.join("flotilla.db"),
            artifact_root: self.data_dir.join("artifacts"),
            data_dir: self.data_dir,
            listen: SocketAddr::new(self.host, self.port),
            workers: self.workers.filter(|w| *w > 0),
            allowed_hosts: if self.allowed_hosts.iter().any(|h| h == "*") {
                None
            } else if !self.allowed_hosts.is_empty() {
                Some(self.allowed_hosts)
            } else if self.host.is_loopback() {
                Some(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])
            } else {
                None
            },
        })
    }
}
