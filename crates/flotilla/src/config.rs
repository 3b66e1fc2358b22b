//! Server configuration from flags and `FLOTILLA_*` environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use std::time::Duration;

use clap::Args;
use flotilla_serving::{CacheConfig, ServingConfig};

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
    /// Memory the loaded models may hold together, e.g. `1GiB`, `512MiB`;
    /// counted from each model's measured size after load.
    #[arg(long, env = "FLOTILLA_MODEL_MEMORY", default_value = "1GiB", value_parser = parse_bytes)]
    pub model_memory: usize,
    /// The alias `/v2/models/{name}` serves; without it, the newest version.
    #[arg(long, env = "FLOTILLA_DEFAULT_ALIAS", default_value = "champion")]
    pub default_alias: String,
    /// Model loads running at once (a burst of cold models queues here).
    #[arg(long, env = "FLOTILLA_LOAD_CONCURRENCY", default_value_t = 2)]
    pub load_concurrency: usize,
}

/// Parses `1GiB`, `512MiB`, `100MB`, `64k` or a plain number of bytes.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("'{s}' is not a size like 1GiB or 512MiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        other => return Err(format!("unknown size unit '{other}' in '{s}'")),
    };
    Ok((number * scale) as usize)
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
    pub serving: ServingConfig,
}

impl ServerArgs {
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        Ok(ServerConfig {
            database: self.data_dir.join("flotilla.db"),
            artifact_root: self.data_dir.join("artifacts"),
            data_dir: self.data_dir,
            listen: SocketAddr::new(self.host, self.port),
            workers: self.workers.filter(|w| *w > 0),
            serving: ServingConfig {
                cache: CacheConfig { budget_bytes: self.model_memory, load_concurrency: self.load_concurrency.max(1) },
                default_alias: self.default_alias,
                resolve_ttl: Duration::from_secs(1),
            },
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

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        for (s, n) in
            [("1GiB", 1 << 30), ("512MiB", 512 << 20), ("100MB", 100_000_000), ("64k", 64_000), ("4096", 4096)]
        {
            assert_eq!(parse_bytes(s), Ok(n), "{s}");
        }
        for bad in ["", "GiB", "1 parsec", "-1"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
