//! `GET /api/reports/v1/report` (issue 16): a fleet report as JSON, what the
//! CLI's `--server` reads and renders. `format=html` is answered with a
//! redirect to the UI's self-contained document (`/reports/document`, the
//! web crate renders HTML). Thin over `flotilla_app::report`: the report
//! holds what the caller reads; a family scope needs READ on the family.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use flotilla_app::report::request::Format;

use crate::AppState;
use crate::error::ApiResult;
use crate::permissions::Sees;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/reports/v1/report", get(report))
}

async fn report(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let raw = raw.unwrap_or_default();
    let now = flotilla_app::monitor::alerts_delivery::now_ms();
    let req = flotilla_app::report::report_query(&raw, now)?;
    let visible = sees.models();
    flotilla_app::report::may_read(&req.scope, &sees.families(), &visible)?;
    if req.format == Format::Html {
        return Ok(Redirect::to(&format!("/reports/document?{raw}")).into_response());
    }
    let report = s.call(move |st| flotilla_app::report::build(st, &req, visible, now)).await?;
    Ok(Json(report).into_response())
}
