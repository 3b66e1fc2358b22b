//! `flotilla server`: opens the store and the artifact directory, binds, serves
//! until Ctrl-C or SIGTERM, then drains in-flight requests.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use flotilla_artifacts::{ArtifactStore, LocalArtifactStore};
use flotilla_http::{AllowedHosts, AppState};
use flotilla_serving::Serving;
use flotilla_store::{SqliteStore, Store};

use crate::config::ServerConfig;

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
    runtime.build().context("starting the async runtime")?.block_on(serve(config, mode))
}

async fn serve(config: ServerConfig, mode: Mode) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store = SqliteStore::open(&config.database)
        .with_context(|| format!("opening the database {}", config.database.display()))?;
    let artifacts = LocalArtifactStore::new(config.artifact_root.clone())
        .with_context(|| format!("opening the artifact directory {}", config.artifact_root.display()))?;
    let (store, artifacts): (Arc<dyn Store>, Arc<dyn ArtifactStore>) = (Arc::new(store), Arc::new(artifacts));
    let serving = Serving::new(config.serving.clone(), Arc::clone(&store), Arc::clone(&artifacts));
    let state = AppState { store, artifacts, serving: Some(Arc::new(serving)) };
    let allowed = match config.allowed_hosts.clone() {
        Some(names) => AllowedHosts::Only(Arc::new(names)),
        None => AllowedHosts::Any,
    };
    let app = match mode {
        Mode::Full => flotilla_http::router_with_pages(state, allowed, flotilla_web::routes()),
        Mode::InferenceOnly => flotilla_http::inference_router(state, allowed),
    };
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        address = %address,
        data_dir = %config.data_dir.display(),
        mode = ?mode,
        model_memory = config.serving.cache.budget_bytes,
        startup_ms = started.elapsed().as_millis() as u64,
        "flotilla is listening"
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("serving HTTP")?;
    tracing::info!("flotilla stopped");
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
