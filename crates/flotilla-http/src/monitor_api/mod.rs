//! The native monitoring API, `/api/monitor/v1` (issue 15): serving
//! telemetry ([`telemetry`]); drift, health and alerts beside it. Errors use
//! the MLflow shape like the rest of the server; permissions are declared
//! in `permissions/table.rs`.

use axum::Router;

use crate::AppState;

mod telemetry;
mod telemetry_post;

pub(crate) fn routes(upload_limit: u64) -> Router<AppState> {
    Router::new()
        .merge(telemetry_post::routes())
        .layer(axum::Extension(crate::data_api::UploadLimit(upload_limit)))
        .merge(telemetry::routes())
}
