//! `GET /api/monitor/v1/models/{name}/drift`: a version's drift against its
//! reference over a range (`flotilla_app::monitor::drift_read`).

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use flotilla_app::monitor::{drift_read, telemetry};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiResult;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/monitor/v1/models/{name}/drift", get(get_drift))
}

/// The statistics run on the blocking pool with the store read.
async fn get_drift(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let ask = drift_read::drift_query(raw.as_deref().unwrap_or(""), telemetry::now_ms())?;
    Ok(Json(s.call(move |st| drift_read::answer(st, &name, &ask)).await?))
}
