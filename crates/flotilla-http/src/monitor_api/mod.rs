//! The native monitoring API, `/api/monitor/v1` (issue 15): serving
//! telemetry ([`telemetry`]); fleet health, drift settings and baselines,
//! alert rules and deliveries beside it. Errors use the MLflow shape like
//! the rest of the server; permissions are declared in
//! `permissions/table.rs`; handlers are thin over `flotilla_app::monitor`,
//! whose answers the CLI prints too.

mod alerts;
pub mod alerts_client;
mod drift;
mod health;
mod telemetry;
mod telemetry_post;

use axum::Router;

use crate::AppState;

pub(crate) fn routes(upload_limit: u64) -> Router<AppState> {
    Router::new()
        .merge(telemetry_post::routes())
        .layer(axum::Extension(crate::data_api::UploadLimit(upload_limit)))
        .merge(telemetry::routes())
        .merge(health::routes())
        .merge(alerts::routes())
        .merge(drift::routes())
}

/// The caller of a request, if authenticated.
pub(crate) struct CallerOf(pub Option<flotilla_app::auth::Caller>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CallerOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<flotilla_app::auth::Caller>().cloned()))
    }
}
