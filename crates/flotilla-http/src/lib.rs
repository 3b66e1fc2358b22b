//! HTTP for flotilla: the MLflow REST API, the artifact proxy, the Open
//! Inference Protocol (V2) and the server's health endpoints, as axum routers.
//!
//! Architecture invariant: this crate knows HTTP and nothing of SQL. Handlers
//! are thin: they read the request, call one store or artifact function, and
//! map the result. Store calls are synchronous and run on tokio's blocking
//! pool so the async workers only ever do network I/O, under the request's
//! time budget when it has one (see [`listener`]).

mod artifacts;
mod auth;
pub mod error;
mod fleet;
mod host_check;
pub mod listener;
mod meta;
mod metrics;
mod mlflow;
pub mod request_meta;
mod users;
mod v2;
mod wire;

use axum::Router;
pub use flotilla_app::AppState;

pub use crate::host_check::AllowedHosts;

/// Hooks for the fuzzing harnesses in `fuzz/` and their corpus replay: the
/// decoders a request body goes through, callable without a server.
#[doc(hidden)]
pub mod fuzzing {
    use bytes::Bytes;
    use flotilla_infer::Tensor;

    /// Decodes an infer request body exactly as `POST .../infer` does (the
    /// JSON, then the binary tail when `header_length` is given): the tensors,
    /// or the status and message of the error answer.
    pub fn decode_infer_body(body: &[u8], header_length: Option<usize>) -> Result<Vec<Tensor>, (u16, String)> {
        let body = Bytes::copy_from_slice(body);
        let err = |e: crate::v2::error::V2Error| (e.status.as_u16(), e.message);
        let (request, tail) = crate::v2::codec::parse(&body, header_length).map_err(err)?;
        crate::v2::codec::decode_inputs(&request, &tail, body.len()).map_err(err)
    }
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
        .merge(users::routes())
        .merge(v2::routes())
        .merge(metrics::routes());
    finish(routes, state, allowed)
}

/// JSON answers for unknown routes and methods, the state, authentication
/// (when on; unknown routes need a caller too), and the Host check first.
fn finish(routes: Router<AppState>, state: AppState, allowed: AllowedHosts) -> Router {
    routes
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(state, auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(allowed, host_check::check_host))
        .layer(axum::middleware::from_fn(request_meta::assign))
}
