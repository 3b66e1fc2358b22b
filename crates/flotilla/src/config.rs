//! Server configuration from flags and `FLOTILLA_*` environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use std::time::Duration;

use clap::Args;
use flotilla_app::auth::Permission;
use flotilla_app::monitor::telemetry::TelemetryConfig;
use flotilla_http::rate_limit::{Rate, RateLimitConfig};
use flotilla_http::request_meta::TrustedProxies;
use flotilla_serving::{CacheConfig, ServingConfig};
use flotilla_store::monitor::Retention;

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Directory holding the SQLite database (`flotilla.db`) and the artifact
    /// store (`artifacts/`); created if missing.
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value = "./flotilla-data")]
    pub data_dir: PathBuf,
    /// The metadata store on PostgreSQL instead of the embedded SQLite file:
    /// `postgresql://user@host:port/db` or libpq's `key=value` form.
    #[arg(long = "database", env = "FLOTILLA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on. Use 0.0.0.0 to accept connections from other hosts
    /// (with --auth basic, or --insecure-no-auth).
    #[arg(long, env = "FLOTILLA_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "FLOTILLA_PORT", default_value_t = 5000)]
    pub port: u16,
    /// Also serve the Open Inference Protocol (V2) over gRPC on this port (the
    /// KServe/Triton `inference.GRPCInferenceService`, plaintext HTTP/2), on
    /// the same address, models and authentication as HTTP.
    #[arg(long, env = "FLOTILLA_GRPC_PORT")]
    pub grpc_port: Option<u16>,
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
    /// How long a resolved alias is trusted without a change notice. Changes
    /// made through this process are seen at once, and on PostgreSQL those of
    /// every replica too (LISTEN/NOTIFY), so this only bounds what a missed
    /// notice could cost; on SQLite it bounds what a writer in another
    /// process (the CLI on the data directory) takes to be seen. Default: 1s
    /// on SQLite, 30s on PostgreSQL.
    #[arg(long, env = "FLOTILLA_RESOLVE_TTL", value_parser = parse_duration)]
    pub resolve_ttl: Option<Duration>,
    /// `flotilla serve` only: answer MLflow's scoring protocol for this model
    /// at `/invocations`, `/ping` and `/health`, as `mlflow models serve`
    /// does: `NAME`, `NAME@alias`, `NAME/VERSION`, or a `models:/` URI.
    #[arg(long, env = "FLOTILLA_MODEL")]
    pub model: Option<String>,
    /// Model loads running at once (a burst of cold models queues here).
    #[arg(long, env = "FLOTILLA_LOAD_CONCURRENCY", default_value_t = 2)]
    pub load_concurrency: usize,
    /// Connections open at once (default: from the open-file limit, leaving
    /// room for the database, artifacts and model files). Over the cap the
    /// oldest idle connection is closed; if none is idle, a 503.
    #[arg(long, env = "FLOTILLA_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Concurrent writes committed together at most (SQLite's group commit:
    /// writes that arrive while one runs share its transaction and commit,
    /// each in its own savepoint; 1: every write commits alone).
    #[arg(long, env = "FLOTILLA_WRITE_GROUP", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub write_group: u16,
    /// Time a client has to send a request's head once it has started, e.g. `10s`.
    #[arg(long, env = "FLOTILLA_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Silence allowed on a connection between requests before it is closed.
    #[arg(long, env = "FLOTILLA_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Requests served on one keep-alive connection before it is closed.
    #[arg(long, env = "FLOTILLA_MAX_REQUESTS_PER_CONNECTION", default_value_t = 1000)]
    pub max_requests_per_connection: usize,
    /// Time budget of a request's store work; a query still running then is
    /// stopped and answered with a 400 (`0` for no budget).
    #[arg(long, env = "FLOTILLA_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// On SIGTERM or Ctrl-C, how long requests in progress may take to finish
    /// before their connections are dropped.
    #[arg(long, env = "FLOTILLA_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Authentication: `none` (anyone who can reach the server may do
    /// anything; refused on a non-loopback address without
    /// --insecure-no-auth) or `basic` (users and passwords, and API tokens).
    #[arg(long, env = "FLOTILLA_AUTH", value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,
    /// Serve without authentication on a non-loopback address anyway.
    #[arg(long, env = "FLOTILLA_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Mark the UI's session cookie `Secure` (sent only over HTTPS): for a
    /// server reached through a proxy that terminates TLS. Serving TLS
    /// itself turns it on.
    #[arg(long, env = "FLOTILLA_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// With `--auth basic`, the first admin's username, created on a store
    /// with no users.
    #[arg(long, env = "FLOTILLA_ADMIN_USER", default_value = "admin")]
    pub admin_user: String,
    /// The first admin's password (at least 12 characters); read from the
    /// environment only. Unset: a one-time password is printed once at the
    /// first start.
    #[arg(skip = std::env::var("FLOTILLA_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()))]
    pub admin_password: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, env = "FLOTILLA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "FLOTILLA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed
    /// (comma-separated addresses or CIDR blocks, e.g. `10.0.0.0/8,::1`).
    /// From any other peer those headers are ignored.
    #[arg(long, env = "FLOTILLA_TRUSTED_PROXIES", default_value = "", value_parser = TrustedProxies::parse)]
    pub trusted_proxies: TrustedProxies,
    /// Expensive searches (MLflow searches, fleet search, facets, audit) per
    /// second per token, user or anonymous client address, as `RATE` or
    /// `RATE:BURST`; over it a 429 with Retry-After. `0` for no limit.
    #[arg(long, env = "FLOTILLA_RATE_LIMIT_SEARCHES", default_value = "20000:40000", value_parser = Rate::parse)]
    pub rate_limit_searches: Rate,
    /// Writes per second per token, user or anonymous client address
    /// (`RATE` or `RATE:BURST`; `0` for no limit).
    #[arg(long, env = "FLOTILLA_RATE_LIMIT_WRITES", default_value = "20000:40000", value_parser = Rate::parse)]
    pub rate_limit_writes: Rate,
    /// With `--auth basic`, what a user holds on an experiment, registered
    /// model or family they have no grant on: READ (MLflow's default), USE,
    /// EDIT, MANAGE, or NO_PERMISSIONS (DENY: private unless granted).
    #[arg(long, env = "FLOTILLA_DEFAULT_PERMISSION", default_value = "READ", value_parser = parse_permission)]
    pub default_permission: Permission,
    /// The largest dataset a client may upload to be profiled
    /// (`POST /api/data/v1/datasets/{name}/{digest}/profile`), in bytes;
    /// past it the upload is refused with 413 and nothing is kept.
    #[arg(long, env = "FLOTILLA_MAX_UPLOAD_BYTES", default_value_t = flotilla_http::DEFAULT_UPLOAD_LIMIT)]
    pub max_upload_bytes: u64,
    /// Where artifacts are stored: a directory (default: `artifacts/` in the data
    /// directory) or `s3://bucket/prefix` on S3 or an S3-compatible server, with
    /// credentials and endpoint from the standard AWS variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`;
    /// plain http only to loopback unless `AWS_ALLOW_HTTP=true`).
    #[arg(long, env = "FLOTILLA_ARTIFACTS")]
    pub artifacts: Option<String>,
    /// Serving telemetry: `on` records every V2 request per window, `off`
    /// records nothing (and answers no telemetry).
    #[arg(long, env = "FLOTILLA_MONITOR", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub monitor: bool,
    /// The base telemetry window (`1m`, `30s`, ...; at least 1s).
    #[arg(long, env = "FLOTILLA_MONITOR_WINDOW", default_value = "1m", value_parser = parse_duration)]
    pub monitor_window: Duration,
    /// How long telemetry is kept per grain, as `base=2d,hour=30d,day=400d`
    /// (any subset; durations in `d`, `h`, `m`, `s`).
    #[arg(long, env = "FLOTILLA_MONITOR_RETENTION", default_value = "base=2d,hour=30d,day=400d", value_parser = parse_retention)]
    pub monitor_retention: Retention,
    /// A scheduled report (repeatable): `weekly: family=demand`, `daily:`
    /// (the fleet), with `partition=key=value` or `tag=key=value`, and
    /// `webhook=URL` to be told each report's link (signed with
    /// FLOTILLA_REPORT_WEBHOOK_SECRET). Each report's HTML goes into the
    /// artifact store and is listed at /reports.
    #[arg(long = "report", value_name = "RULE")]
    pub reports: Vec<String>,
    /// The secret scheduled-report webhooks are signed with.
    #[arg(long, env = "FLOTILLA_REPORT_WEBHOOK_SECRET", default_value = "", hide_env_values = true)]
    pub report_webhook_secret: String,
    /// The server's URL as its readers reach it, for the links sent to
    /// report webhooks (default: the listening address).
    #[arg(long, env = "FLOTILLA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Tests only: make every scheduled report this often instead of daily
    /// or weekly (the report still covers a day or a week).
    #[arg(long, env = "FLOTILLA_REPORT_EVERY", value_parser = parse_duration, hide = true)]
    pub report_every: Option<Duration>,
}

/// `on` or `off` (also true/false, 1/0).
pub fn parse_on_off(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(format!("'{other}' is not on or off")),
    }
}

/// `base=2d,hour=30d,day=400d`, any subset (the rest keep their defaults).
pub fn parse_retention(s: &str) -> Result<Retention, String> {
    let mut r = Retention::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (grain, value) = part.split_once('=').ok_or_else(|| format!("'{part}' is not GRAIN=DURATION"))?;
        let value = value.trim();
        let ms = match value.strip_suffix('d') {
            Some(days) => {
                days.trim().parse::<f64>().map_err(|_| format!("'{value}' is not a duration"))? * 86_400_000.0
            }
            None => parse_duration(value)?.as_secs_f64() * 1000.0,
        } as i64;
        match grain.trim() {
            "base" | "minute" => r.base_ms = ms,
            "hour" => r.hour_ms = ms,
            "day" => r.day_ms = ms,
            other => return Err(format!("unknown grain '{other}': base, hour or day")),
        }
    }
    Ok(r)
}

/// Parses a permission level by MLflow's names.
pub fn parse_permission(s: &str) -> Result<Permission, String> {
    Permission::parse(&s.trim().to_ascii_uppercase())
        .ok_or_else(|| format!("'{s}' is not a permission: READ, USE, EDIT, MANAGE or NO_PERMISSIONS (DENY)"))
}

/// `--auth`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    None,
    Basic,
}

/// Parses `30s`, `500ms`, `2m`, `1h`, `7d` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("'{s}' is not a duration like 30s or 500ms"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        other => return Err(format!("unknown time unit '{other}' in '{s}'")),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|e| format!("'{s}': {e}"))
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

/// How long serving trusts a resolved alias on SQLite, where a writer in
/// another process (the CLI) sends no change notice.
const RESOLVE_TTL_SQLITE: Duration = Duration::from_secs(1);
/// On PostgreSQL every committed change is notified to every replica; the
/// TTL only covers a notice lost while the listener reconnects.
const RESOLVE_TTL_POSTGRES: Duration = Duration::from_secs(30);

/// The metadata store's file in a data directory (the embedded SQLite backend).
pub const DATABASE_FILE: &str = "flotilla.db";
/// The artifact store's directory in a data directory.
pub const ARTIFACTS_DIR: &str = "artifacts";

pub fn database_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}

pub fn artifacts_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join(ARTIFACTS_DIR)
}

/// Where the artifact store is (`--artifacts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactsLocation {
    Directory(PathBuf),
    /// `s3://bucket/prefix`.
    S3(String),
}

impl ArtifactsLocation {
    /// A directory, an `s3://` URL, or (when unset) `artifacts/` in the data directory.
    pub fn parse(value: Option<&str>, data_dir: &std::path::Path) -> Result<Self, flotilla_core::Error> {
        match value.filter(|v| !v.is_empty()) {
            None => Ok(Self::Directory(artifacts_path(data_dir))),
            Some(url) if url.starts_with("s3://") => Ok(Self::S3(url.to_owned())),
            Some(other) if other.contains("://") => Err(flotilla_core::Error::invalid(format!(
                "--artifacts {other}: only a directory or an s3://bucket/prefix URL is supported"
            ))),
            Some(dir) => Ok(Self::Directory(PathBuf::from(dir))),
        }
    }
}

/// Everything `flotilla server` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub database: PathBuf,
    /// `Some`: the metadata store is this PostgreSQL database, not `database`.
    pub database_url: Option<String>,
    pub artifacts: ArtifactsLocation,
    pub listen: SocketAddr,
    /// `--grpc-port`: gRPC V2 on the same address.
    pub grpc_listen: Option<SocketAddr>,
    pub workers: Option<usize>,
    /// `None` means any host.
    pub allowed_hosts: Option<Vec<String>>,
    pub serving: ServingConfig,
    /// `None`: sized from the open-file limit at start.
    pub max_connections: Option<usize>,
    /// SQLite's group commit: writes per commit at most.
    pub write_group: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_requests_per_connection: usize,
    pub request_timeout: Option<Duration>,
    pub shutdown_timeout: Duration,
    pub auth: AuthConfig,
    /// The UI's session cookie gets `Secure` (the server is reached over TLS).
    pub secure_cookies: bool,
    /// `(certificate, key)` PEM files for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub trusted_proxies: TrustedProxies,
    pub rate_limits: RateLimitConfig,
    /// `--max-upload-bytes`.
    pub upload_limit: u64,
    /// `--monitor` and its settings; `None` is `--monitor off`.
    pub telemetry: Option<TelemetryConfig>,
    /// `--report` rules and their settings.
    pub reports: crate::report_schedule::ScheduleConfig,
    /// `--model`: the model `/invocations` answers for (`flotilla serve`).
    pub scoring_model: Option<flotilla_http::ScoringTarget>,
}

/// Authentication, resolved.
#[derive(Clone)]
pub enum AuthConfig {
    None,
    Basic { admin_user: String, admin_password: Option<String>, default_permission: Permission },
}

impl std::fmt::Debug for AuthConfig {
    // Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Basic { admin_user, .. } => {
                f.debug_struct("Basic").field("admin_user", admin_user).finish_non_exhaustive()
            }
        }
    }
}

impl ServerArgs {
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        if self.auth == AuthMode::None && !self.host.is_loopback() && !self.insecure_no_auth {
            return Err(flotilla_core::Error::invalid(format!(
                "refusing to listen on {} without authentication: anyone who reaches it could change or delete \
                 every model. Use --auth basic (FLOTILLA_AUTH=basic), or --insecure-no-auth if something in front \
                 of flotilla authenticates",
                self.host
            ))
            .into());
        }
        let auth = match self.auth {
            AuthMode::None => AuthConfig::None,
            AuthMode::Basic => AuthConfig::Basic {
                admin_user: self.admin_user,
                admin_password: self.admin_password,
                default_permission: self.default_permission,
            },
        };
        let database_url = self.database_url.filter(|u| !u.trim().is_empty());
        let reports = crate::report_schedule::ScheduleConfig {
            rules: self.reports,
            secret: self.report_webhook_secret,
            base_url: self.public_url,
            every: self.report_every,
        };
        let scoring_model = match self.model.as_deref().filter(|m| !m.trim().is_empty()) {
            Some(m) => Some(flotilla_http::ScoringTarget::parse(m.trim()).map_err(flotilla_core::Error::invalid)?),
            None => None,
        };
        Ok(ServerConfig {
            scoring_model,
            reports,
            auth,
            secure_cookies: self.secure_cookies || self.tls_cert.is_some(),
            tls: self.tls_cert.zip(self.tls_key),
            trusted_proxies: self.trusted_proxies,
            upload_limit: self.max_upload_bytes,
            telemetry: self.monitor.then(|| TelemetryConfig {
                window_ms: (self.monitor_window.as_millis() as i64).max(1000),
                retention: self.monitor_retention,
            }),
            rate_limits: RateLimitConfig {
                searches: self.rate_limit_searches,
                writes: self.rate_limit_writes,
                ..RateLimitConfig::default()
            },
            database: database_path(&self.data_dir),
            database_url: database_url.clone(),
            artifacts: ArtifactsLocation::parse(self.artifacts.as_deref(), &self.data_dir)?,
            data_dir: self.data_dir,
            listen: SocketAddr::new(self.host, self.port),
            grpc_listen: self.grpc_port.map(|port| SocketAddr::new(self.host, port)),
            workers: self.workers.filter(|w| *w > 0),
            max_connections: self.max_connections.filter(|n| *n > 0),
            write_group: usize::from(self.write_group),
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_requests_per_connection: self.max_requests_per_connection.max(1),
            request_timeout: Some(self.request_timeout).filter(|t| !t.is_zero()),
            shutdown_timeout: self.shutdown_timeout,
            serving: ServingConfig {
                cache: CacheConfig { budget_bytes: self.model_memory, load_concurrency: self.load_concurrency.max(1) },
                default_alias: self.default_alias,
                resolve_ttl: self.resolve_ttl.unwrap_or(if database_url.is_some() {
                    RESOLVE_TTL_POSTGRES
                } else {
                    RESOLVE_TTL_SQLITE
                }),
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
    use super::{ServerArgs, parse_bytes, parse_duration};
    use std::time::Duration;

    #[test]
    fn monitor_takes_on_or_off_on_the_command_line() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            server: ServerArgs,
        }
        let monitor = |args: &[&str]| Cli::try_parse_from([&["flotilla"], args].concat()).map(|c| c.server.monitor);
        assert!(monitor(&[]).unwrap());
        assert!(!monitor(&["--monitor", "off"]).unwrap());
        assert!(monitor(&["--monitor=on"]).unwrap());
        assert!(monitor(&["--monitor", "maybe"]).is_err());
    }

    #[test]
    fn durations() {
        for (s, d) in [
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1.5", Duration::from_millis(1500)),
            ("0", Duration::ZERO),
        ] {
            assert_eq!(parse_duration(s), Ok(d), "{s}");
        }
        for bad in ["", "s", "3 fortnights", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

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
