//! `flotilla server`: raises the open-file limit, opens the store and the
//! artifact directory, binds, serves until Ctrl-C or SIGTERM, then drains
//! in-flight requests up to the shutdown deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use flotilla_app::AppState;
use flotilla_app::auth::{Authenticator, Bootstrap};
use flotilla_app::monitor::telemetry::{Telemetry, run_flusher};
use flotilla_http::listener::{ListenerConfig, Tls};
use flotilla_http::rate_limit::RateLimits;
use flotilla_http::{AllowedHosts, Edge};
use flotilla_serving::Serving;
use flotilla_store::{PgStore, SqliteStore, Store};

use crate::config::{AuthConfig, ServerConfig};

/// What the process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `flotilla server`: MLflow API, artifacts and inference.
    Full,
    /// `flotilla serve`: inference only, from the same store.
    InferenceOnly,
}

pub fn run(config: ServerConfig, mode: Mode) -> anyhow::Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().max_blocking_threads(64);
    if let Some(workers) = config.workers {
        runtime.worker_threads(workers);
    }
    let runtime = runtime.build().context("starting the async runtime")?;
    let served = runtime.block_on(serve(config, mode));
    // Whatever outlived the shutdown deadline is dropped here; its store work
    // sees its budget cancelled and stops at the next check.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

/// File descriptors kept back from connections: the database and its WAL,
/// artifact uploads and downloads, model files being loaded, the runtime.
const RESERVED_FILES: u64 = 256;
/// The default connection cap never goes above this, whatever the limit.
const MAX_DEFAULT_CONNECTIONS: u64 = 4096;

/// Raises the open-file soft limit to the hard limit and returns the limit in force.
fn raise_open_file_limit() -> u64 {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            tracing::info!(before, now, "open-file limit");
            now
        }
        Err(e) => {
            tracing::warn!(error = %e, limit = before, "could not raise the open-file limit");
            before
        }
    }
}

/// The connection cap for an open-file limit: what is left after the reserve
/// (half the limit when it is small), within a ceiling.
fn default_max_connections(open_files: u64) -> usize {
    let reserve = RESERVED_FILES.min(open_files / 2);
    open_files.saturating_sub(reserve).clamp(1, MAX_DEFAULT_CONNECTIONS) as usize
}

async fn serve(config: ServerConfig, mode: Mode) -> anyhow::Result<()> {
    let started = Instant::now();
    let open_files = raise_open_file_limit();
    let limits = ListenerConfig {
        max_connections: config.max_connections.unwrap_or_else(|| default_max_connections(open_files)),
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        max_requests: config.max_requests_per_connection,
        request_timeout: config.request_timeout,
        shutdown_timeout: config.shutdown_timeout,
        tls: match &config.tls {
            Some((cert, key)) => Some(Tls::load(cert, key).context("loading --tls-cert and --tls-key")?),
            None => None,
        },
    };
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store: Arc<dyn Store> = match &config.database_url {
        Some(url) => {
            tracing::info!("metadata store: PostgreSQL");
            // The synchronous client runs a small runtime of its own: connect off the async workers.
            let url = url.clone();
            let store = tokio::task::spawn_blocking(move || PgStore::connect(&url))
                .await
                .context("connecting to the PostgreSQL database (--database)")?
                .context("connecting to the PostgreSQL database (--database)")?;
            Arc::new(store)
        }
        None => {
            let mut store = SqliteStore::open(&config.database)
                .with_context(|| format!("opening the database {}", config.database.display()))?;
            store.set_write_group(config.write_group);
            Arc::new(store)
        }
    };
    let artifacts = crate::artifact_store::open(&config.artifacts).await?;
    // A store call, off the async worker (PostgreSQL's client blocks on a runtime of its own).
    tokio::task::block_in_place(|| crate::report_schedule::keep_flag_rules(store.as_ref(), &config.reports))?;
    let auth = match &config.auth {
        AuthConfig::None => {
            tracing::warn!("authentication is off (--auth none): anyone who can reach this server may change anything");
            None
        }
        AuthConfig::Basic { admin_user, admin_password, default_permission } => {
            // A store call, off the async worker (PostgreSQL's client blocks on a runtime of its own).
            tokio::task::block_in_place(|| bootstrap(store.as_ref(), admin_user, admin_password.as_deref()))?;
            Some(Arc::new(
                Authenticator::new(Arc::clone(&store))
                    .with_secure_cookies(config.secure_cookies)
                    .with_default_permission(*default_permission),
            ))
        }
    };
    let serving = Serving::new(config.serving.clone(), Arc::clone(&store), Arc::clone(&artifacts));
    let telemetry = config.telemetry.map(|c| Arc::new(Telemetry::new(c).with_references(Arc::clone(&store))));
    let (stop_flusher, flusher_stopped) = tokio::sync::oneshot::channel::<()>();
    let flusher = telemetry.as_ref().map(|t| {
        tokio::spawn(run_flusher(Arc::clone(t), Arc::clone(&store), async move {
            let _ = flusher_stopped.await;
        }))
    });
    let window_ms = telemetry.as_ref().map(|t| t.config().window_ms);
    let scheduled = (Arc::clone(&store), Arc::clone(&artifacts));
    let state = AppState { store, artifacts, serving: Some(Arc::new(serving)), auth, telemetry };
    let allowed = match config.allowed_hosts.clone() {
        Some(names) => AllowedHosts::Only(Arc::new(names)),
        None => AllowedHosts::Any,
    };
    let edge = Edge {
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        rate_limits: RateLimits::new(config.rate_limits),
        upload_limit: config.upload_limit,
    };
    if let (Some(target), Some(serving)) = (config.scoring_model.clone(), state.serving.clone()) {
        tokio::spawn(load_scoring_model(serving, target));
    }
    if let Some(grpc) = config.grpc_listen {
        let listener =
            tokio::net::TcpListener::bind(grpc).await.with_context(|| format!("binding --grpc-port {grpc}"))?;
        let address = listener.local_addr().context("reading the bound gRPC address")?;
        if limits.tls.is_some() {
            tracing::warn!(address = %address, "gRPC is served without TLS (--tls-cert covers HTTP only)");
        }
        tracing::info!(address = %address, "grpc is listening");
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = flotilla_http::grpc::serve(listener, state, shutdown_signal()).await {
                tracing::error!(error = %e, "gRPC server stopped");
            }
        });
    }
    let app = match mode {
        Mode::Full => flotilla_http::router_with_edge(state, allowed, flotilla_web::routes(), edge),
        Mode::InferenceOnly => flotilla_http::inference_router_for(state, allowed, edge, config.scoring_model.clone()),
    };
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    // The fleet-wide jobs: here on SQLite; on PostgreSQL in the one replica holding the jobs lock.
    let scheme = if limits.tls.is_some() { "https" } else { "http" };
    let base_url = config.reports.base_url.clone().unwrap_or_else(|| format!("{scheme}://{address}"));
    let (leading, reports) = (config.database_url.clone(), config.reports.clone());
    tokio::spawn(async move {
        if let Some(url) = leading {
            crate::jobs_leader::wait_until_leading(url).await;
        }
        let (store, artifacts) = scheduled;
        if let Some(window_ms) = window_ms {
            crate::monitor_tasks::spawn(&store, window_ms);
        }
        if mode == Mode::Full {
            let sender = Arc::new(flotilla_http::HyperSender::default());
            crate::report_schedule::spawn(store, artifacts, sender, reports, base_url);
        }
    });
    tracing::info!(
        address = %address,
        scheme = if limits.tls.is_some() { "https" } else { "http" },
        data_dir = %config.data_dir.display(),
        mode = ?mode,
        model_memory = config.serving.cache.budget_bytes,
        max_connections = limits.max_connections,
        startup_ms = started.elapsed().as_millis() as u64,
        "flotilla is listening"
    );
    flotilla_http::listener::serve(listener, app, limits, shutdown_signal()).await.context("serving HTTP")?;
    // The last windows, open ones included, are written before the process ends.
    let _ = stop_flusher.send(());
    if let Some(flusher) = flusher {
        let _ = flusher.await;
    }
    tracing::info!("flotilla stopped");
    Ok(())
}

/// Loads `--model` at start, as `mlflow models serve` does, so the first
/// request does not wait for it; a failure is logged (and `/ping` answers 404).
async fn load_scoring_model(serving: Arc<Serving>, target: flotilla_http::ScoringTarget) {
    let model_ref = match flotilla_serving::ModelRef::parse(&target.model, target.version.as_deref()) {
        Ok(r) => r,
        Err(e) => return tracing::warn!(model = %target.model, error = %e, "--model is not a model reference"),
    };
    match serving.model(&model_ref).await {
        Ok((resolved, _)) => {
            tracing::info!(model = %resolved.name, version = resolved.version.get(), "serving /invocations")
        }
        Err(e) => tracing::warn!(model = %target.model, error = %e, "--model could not be loaded yet"),
    }
}

/// The first admin, on a store with no users. A generated password goes to
/// stderr once, outside the log's formatting, and is never logged: the next
/// start finds the user and prints nothing.
fn bootstrap(store: &dyn Store, admin_user: &str, admin_password: Option<&str>) -> anyhow::Result<()> {
    match flotilla_app::auth::bootstrap_admin(store, admin_user, admin_password)? {
        Bootstrap::Existing => {}
        Bootstrap::Created => tracing::info!(user = admin_user, "created the first admin with FLOTILLA_ADMIN_PASSWORD"),
        Bootstrap::Generated(password) => {
            tracing::info!(user = admin_user, "created the first admin with a one-time password (printed once)");
            eprintln!(
                "\n  flotilla: first admin '{admin_user}', one-time password: {password}\n  \
                 It is shown only now. Change it: PATCH /api/2.0/mlflow/users/update-password, or \
                 `flotilla user set-password {admin_user}`.\n"
            );
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::default_max_connections;

    #[test]
    fn connection_cap_from_open_file_limit() {
        for (open_files, cap) in [(64, 32), (256, 128), (1024, 768), (65_536, 4096), (1 << 20, 4096), (1, 1)] {
            assert_eq!(default_max_connections(open_files), cap, "{open_files}");
        }
    }
}
