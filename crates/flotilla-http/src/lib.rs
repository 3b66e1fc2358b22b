//! HTTP for flotilla: the MLflow REST API, the artifact proxy, the Open
//! Inference Protocol (V2) and the server's health endpoints, as axum routers.
//!
//! Architecture invariant: this crate knows HTTP and nothing of SQL. Handlers
//! are thin: they read the request, call one store or artifact function, and
//! map the result. Store calls are synchronous and run on tokio's blocking
//! pool so the async workers only ever do network I/O, under the request's
//! time budget when it has one (see [`listener`]).

mod artifacts;
pub mod error;
mod fleet;
mod host_check;
pub mod listener;
mod meta;
mod metrics;
mod mlflow;
mod v2;
mod wire;

use std::sync::Arc;

use axum::Router;
use flotilla_artifacts::ArtifactStore;
use flotilla_core::ErrorKind;
use flotilla_serving::Serving;
use flotilla_store::{Budget, Store, StoreResult};

use crate::error::{ApiError, ApiResult};
pub use crate::fleet::query as fleet_query;
pub use crate::host_check::AllowedHosts;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Model serving (the V2 endpoints); `None` answers them with 404.
    pub serving: Option<Arc<Serving>>,
}

impl AppState {
    /// Runs a store call on the blocking pool, under the request's time budget:
    /// past it, or once the client has gone, the store stops the statement.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let store = Arc::clone(&self.store);
        let budget = listener::current_budget();
        if let Some(spent) = budget.as_ref().filter(|b| b.is_spent()) {
            return Err(over_budget(spent));
        }
        let within = budget.clone();
        let joined = tokio::task::spawn_blocking(move || match within {
            Some(budget) => budget.run(|| f(store.as_ref())),
            None => f(store.as_ref()),
        })
        .await;
        match joined {
            Ok(Err(e)) if e.kind() == ErrorKind::Interrupted => Err(match &budget {
                Some(budget) => over_budget(budget),
                None => ApiError::from(e),
            }),
            Ok(result) => result.map_err(ApiError::from),
            Err(e) => {
                tracing::error!(error = %e, "store task failed");
                Err(ApiError::internal())
            }
        }
    }
}

/// The answer to a request whose store work ran past its budget: a 4xx, so
/// the mlflow client does not retry the same slow query.
fn over_budget(budget: &Budget) -> ApiError {
    if budget.is_cancelled() {
        tracing::debug!("query stopped: its client went away");
    } else {
        tracing::info!(budget_s = budget.limit().as_secs_f64(), "query stopped at the request budget");
    }
    ApiError::of(
        ErrorKind::Interrupted,
        format!(
            "the query ran past the {:?} request budget (--request-timeout); narrow the filter or the sort",
            budget.limit()
        ),
    )
}

/// The whole HTTP surface of `flotilla server`, accepting any `Host`.
pub fn router(state: AppState) -> Router {
    router_with_hosts(state, AllowedHosts::Any)
}

/// Only the inference surface (V2, health and metrics), for `flotilla serve`.
pub fn inference_router(state: AppState, allowed: AllowedHosts) -> Router {
    let routes = Router::new().merge(meta::routes()).merge(v2::routes()).merge(metrics::routes());
    finish(routes, state, allowed)
}

/// The whole HTTP surface, answering only requests addressed to `allowed` hosts.
pub fn router_with_hosts(state: AppState, allowed: AllowedHosts) -> Router {
    router_with_pages(state, allowed, Router::new())
}

/// The whole HTTP surface plus `pages` (the web UI), which share the state,
/// the Host check and the JSON answer for unknown routes.
pub fn router_with_pages(state: AppState, allowed: AllowedHosts, pages: Router<AppState>) -> Router {
    let routes = Router::new()
        .merge(pages)
        .merge(meta::routes())
        .merge(mlflow::routes())
        .merge(artifacts::routes())
        .merge(fleet::routes())
        .merge(v2::routes())
        .merge(metrics::routes());
    finish(routes, state, allowed)
}

/// JSON answers for unknown routes and methods, the state, and the Host check.
fn finish(routes: Router<AppState>, state: AppState, allowed: AllowedHosts) -> Router {
    routes
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(allowed, host_check::check_host))
}
