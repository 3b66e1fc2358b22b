//! HTTP for flotilla: the MLflow REST API, the artifact proxy, the Open
//! Inference Protocol (V2) and the server's health endpoints, as axum routers.
//!
//! Architecture invariant: this crate knows HTTP and nothing of SQL. Handlers
//! are thin: they read the request, call one store or artifact function, and
//! map the result. Store calls are synchronous and run on tokio's blocking
//! pool so the async workers only ever do network I/O, under the request's
//! time budget when it has one (see [`listener`]).

mod access_log;
mod artifact_mpu;
mod artifacts;
mod audit;
mod auth;
mod data_api;
pub mod error;
mod fleet;
pub mod grpc;
mod host_check;
mod infer_telemetry;
pub mod listener;
mod meta;
mod metrics;
mod mlflow;
mod monitor_api;
mod observed;
mod permissions;
pub mod rate_limit;
mod report_api;
pub mod request_meta;
mod route_metrics;
mod scoring;
mod session;
mod users;
mod v2;
mod wire;

use std::sync::Arc;

use axum::Router;
pub use flotilla_app::AppState;

pub use crate::host_check::AllowedHosts;
pub use crate::monitor_api::alerts_client::HyperSender;
use crate::rate_limit::RateLimits;
use crate::request_meta::TrustedProxies;
pub use crate::scoring::ScoringTarget;

/// What the edge layers need beyond the state: whose forwarding headers to
/// believe, and the per-identity rate limits.
#[derive(Clone)]
pub struct Edge {
    pub trusted_proxies: Arc<TrustedProxies>,
    pub rate_limits: RateLimits,
    /// The largest dataset upload the profile route reads (`--max-upload-bytes`).
    pub upload_limit: u64,
}

/// `--max-upload-bytes` unless configured: 1 GiB.
pub const DEFAULT_UPLOAD_LIMIT: u64 = 1 << 30;

impl Default for Edge {
    fn default() -> Self {
        Self { trusted_proxies: Arc::default(), rate_limits: RateLimits::off(), upload_limit: DEFAULT_UPLOAD_LIMIT }
    }
}

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

    /// One column of a decoded scoring body: its name, cells per row and cells.
    pub type FrameColumn = (Option<String>, usize, usize);

    /// Reads an `/invocations` body as the scoring protocol does (CSV when
    /// `csv`, else JSON; no column is text): each column's name, cells per
    /// row and cells, or the status and message of the error answer.
    pub fn decode_scoring_body(body: &[u8], csv: bool) -> Result<Vec<FrameColumn>, (u16, String)> {
        let err = |e: crate::scoring::error::ScoringError| (e.status.as_u16(), e.message);
        let frame = if csv {
            crate::scoring::frame::from_csv(body, &|_| false)
        } else {
            crate::scoring::frame::from_json(body)
        }
        .map_err(err)?;
        Ok(frame.columns.into_iter().map(|c| (c.name, c.width, c.cells.len())).collect())
    }

    /// Decodes a gRPC `ModelInferRequest` message and its tensors as
    /// `ModelInfer` does, or the error's HTTP-equivalent status and message.
    pub fn decode_grpc_infer(message: &[u8]) -> Result<Vec<Tensor>, (u16, String)> {
        use prost::Message;
        let request = crate::grpc::proto::ModelInferRequest::decode(message).map_err(|e| (400, e.to_string()))?;
        crate::grpc::decode_inputs(&request).map_err(|e| (e.status.as_u16(), e.message))
    }
}

/// The whole HTTP surface of `flotilla server`, accepting any `Host`.
pub fn router(state: AppState) -> Router {
    router_with_hosts(state, AllowedHosts::Any)
}

/// Only the inference surface (V2, MLflow's scoring protocol per model,
/// health and metrics), for `flotilla serve`.
pub fn inference_router(state: AppState, allowed: AllowedHosts) -> Router {
    inference_router_with_edge(state, allowed, Edge::default())
}

/// [`inference_router`] with trusted proxies and rate limits.
pub fn inference_router_with_edge(state: AppState, allowed: AllowedHosts, edge: Edge) -> Router {
    inference_router_for(state, allowed, edge, None)
}

/// [`inference_router_with_edge`], with MLflow's scoring protocol bound to
/// one model (`/invocations`, `/ping`, `/health`) when `model` is given
/// (`flotilla serve --model`).
pub fn inference_router_for(
    state: AppState,
    allowed: AllowedHosts,
    edge: Edge,
    model: Option<ScoringTarget>,
) -> Router {
    let routes = match model {
        Some(target) => Router::new().merge(meta::routes_but_health()).merge(scoring::bound_routes(target)),
        None => Router::new().merge(meta::routes()),
    };
    let routes = routes.merge(v2::routes()).merge(scoring::routes()).merge(metrics::routes());
    finish(routes, state, allowed, edge)
}

/// The whole HTTP surface, answering only requests addressed to `allowed` hosts.
pub fn router_with_hosts(state: AppState, allowed: AllowedHosts) -> Router {
    router_with_pages(state, allowed, Router::new())
}

/// The whole HTTP surface plus `pages` (the web UI), which share the state,
/// the Host check and the JSON answer for unknown routes.
pub fn router_with_pages(state: AppState, allowed: AllowedHosts, pages: Router<AppState>) -> Router {
    router_with_edge(state, allowed, pages, Edge::default())
}

/// [`router_with_pages`] with trusted proxies and rate limits.
pub fn router_with_edge(state: AppState, allowed: AllowedHosts, pages: Router<AppState>, edge: Edge) -> Router {
    let routes = Router::new()
        .merge(pages)
        .merge(meta::routes())
        .merge(mlflow::routes())
        .merge(artifacts::routes())
        .merge(artifact_mpu::routes())
        .merge(fleet::routes())
        .merge(data_api::routes(edge.upload_limit))
        .merge(monitor_api::routes(edge.upload_limit))
        .merge(report_api::routes())
        .merge(audit::routes())
        .merge(users::routes())
        .merge(permissions::routes::routes())
        .merge(v2::routes())
        .merge(scoring::routes())
        .merge(metrics::routes());
    finish(routes, state, allowed, edge)
}

/// JSON answers for unknown routes and methods, the state, the audit
/// context of a change, rate limits and the access log's user (inside
/// authentication, which knows the caller), authentication (when on; unknown
/// routes need a caller too), the access log, and the Host check after the
/// request's id and origin.
fn finish(routes: Router<AppState>, state: AppState, allowed: AllowedHosts, edge: Edge) -> Router {
    routes
        .route_layer(axum::middleware::from_fn_with_state(state.auth.clone(), permissions::check))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn(audit::context))
        .layer(axum::middleware::from_fn_with_state(edge.rate_limits, rate_limit::check))
        .layer(axum::middleware::from_fn(access_log::note_caller))
        .layer(axum::middleware::from_fn_with_state(state.auth.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn(access_log::record))
        .layer(axum::middleware::from_fn_with_state(allowed, host_check::check_host))
        .layer(axum::middleware::from_fn_with_state(edge.trusted_proxies, request_meta::assign))
}
