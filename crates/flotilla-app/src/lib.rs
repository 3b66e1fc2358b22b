//! The application layer: what every interface (the MLflow REST API, the
//! fleet API, the Open Inference Protocol, the web UI) stands on. It holds
//! the shared state ([`AppState`]), runs store work on the blocking pool
//! under the request's time budget ([`budget`]), says what of a failure a
//! client may see ([`error`]), understands searches once: MLflow's
//! filters and orders ([`search`]) and the fleet's ([`fleet_query`]),
//! holds the fleet API's JSON contract ([`fleet_api`]), shared by the
//! server and the CLI, and establishes who is calling ([`auth`]).
//!
//! Architecture invariant: this crate knows no protocol (no HTTP, no HTML,
//! no SQL). Its errors are the one vocabulary, [`flotilla_core::Error`];
//! each adapter answers them from its own table.

pub mod audit;
pub mod auth;
pub mod budget;
pub mod data;
pub mod error;
pub mod fleet_api;
pub mod fleet_query;
pub mod monitor;
pub mod report;
pub mod search;

use std::sync::Arc;

use flotilla_artifacts::ArtifactStore;
use flotilla_core::{Error, ErrorKind};
use flotilla_serving::Serving;
use flotilla_store::{Budget, Store, StoreResult};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Model serving (the V2 endpoints); `None` answers them with 404.
    pub serving: Option<Arc<Serving>>,
    /// Authentication (`--auth basic`); `None` is `--auth none`: no caller
    /// is established and the user and token routes are not served.
    pub auth: Option<Arc<auth::Authenticator>>,
    /// Serving telemetry (`--monitor on`); `None` records nothing.
    pub telemetry: Option<Arc<monitor::telemetry::Telemetry>>,
}

impl AppState {
    /// Runs a store call on the blocking pool, under the request's time budget:
    /// past it, or once the client has gone, the store stops the statement.
    /// Grants its writes changed are in force when it returns.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    ) -> Result<T, Error> {
        let store = Arc::clone(&self.store);
        let budget = budget::current();
        if let Some(spent) = budget.as_ref().filter(|b| b.is_spent()) {
            return Err(over_budget(spent));
        }
        let within = budget.clone();
        let audit = audit::current();
        let auth = self.auth.clone();
        let joined = tokio::task::spawn_blocking(move || {
            // Grant-log entries an earlier task on this thread left are not this call's.
            flotilla_store::auth::take_written_grants();
            let out = audit::run(audit.as_ref(), || match within {
                Some(budget) => budget.run(|| f(store.as_ref())),
                None => f(store.as_ref()),
            });
            // Grants the call changed hold for the caller's next request.
            let written = flotilla_store::auth::take_written_grants();
            if let Some(auth) = auth.filter(|_| !written.is_empty()) {
                auth.apply_written(store.as_ref(), written);
            }
            out
        })
        .await;
        match joined {
            Ok(Err(e)) if e.kind() == ErrorKind::Interrupted => Err(match &budget {
                Some(budget) => over_budget(budget),
                None => error::from_store(e),
            }),
            Ok(result) => result.map_err(error::from_store),
            Err(e) => {
                tracing::error!(error = %e, "store task failed");
                Err(error::internal())
            }
        }
    }
}

/// The answer to a request whose store work ran past its budget: a client
/// error, so the mlflow client does not retry the same slow query.
fn over_budget(budget: &Budget) -> Error {
    if budget.is_cancelled() {
        tracing::debug!("query stopped: its client went away");
    } else {
        tracing::info!(budget_s = budget.limit().as_secs_f64(), "query stopped at the request budget");
    }
    Error::interrupted(format!(
        "the query ran past the {:?} request budget (--request-timeout); narrow the filter or the sort",
        budget.limit()
    ))
}
