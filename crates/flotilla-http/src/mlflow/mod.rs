//! MLflow's tracking and registry REST API (`/api/2.0/mlflow/...`), mounted
//! under every prefix the real server uses (`/api/{2,3}.0`, `/ajax-api/{2,3}.0`).

mod experiments;
mod logged_models;
pub(crate) mod models;
mod registry;
mod runs;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;

/// The empty response message, `{}`.
pub(crate) fn empty() -> axum::Json<Value> {
    axum::Json(json!({}))
}

pub(crate) fn routes() -> Router<AppState> {
    let api = Router::new()
        .merge(experiments::routes())
        .merge(runs::routes())
        .merge(logged_models::routes())
        .merge(registry::routes())
        .route("/mlflow/ping", get(|| async { "OK" }).post(|| async { "OK" }));
    Router::new()
        .nest("/api/2.0", api.clone())
        .nest("/api/3.0", api.clone())
        .nest("/ajax-api/2.0", api.clone())
        .nest("/ajax-api/3.0", api)
}
