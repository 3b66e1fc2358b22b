//! `GET /api/reports/v1/report` (issue 16): a fleet report as JSON, what the
//! CLI's `--server` reads and renders. `format=html` is answered with a
//! redirect to the UI's self-contained document (`/reports/document`, the
//! web crate renders HTML). Thin over `flotilla_app::report`: the report
//! holds what the caller reads; a family scope needs READ on the family.
//!
//! Scheduled reports: `/api/reports/v1/schedules` (list, create; `/{id}`
//! read, delete) and `/api/reports/v1/runs` (the reports made, each with
//! its link). Who may is `flotilla_app::report::schedule`'s: MANAGE on the
//! scope's family to make or delete a rule, READ to see it and its reports;
//! fleet and tag rules are an admin's.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use flotilla_app::report::request::Format;
use flotilla_app::report::schedule::{self, ScheduleBody};
use flotilla_core::Error;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::monitor_api::CallerOf;
use crate::permissions::Sees;
use crate::wire::Mlflow;

/// Made reports listed at most.
const MAX_RUNS: usize = 200;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/reports/v1/report", get(report))
        .route("/api/reports/v1/schedules", get(list_schedules).post(create_schedule))
        .route("/api/reports/v1/schedules/{id}", get(get_schedule).delete(delete_schedule))
        .route("/api/reports/v1/runs", get(runs))
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

fn schedule_id(raw: &str) -> Result<i64, Error> {
    raw.parse().map_err(|_| Error::invalid(format!("a schedule id is an integer, got '{raw}'")))
}

async fn list_schedules(State(s): State<AppState>, caller: CallerOf) -> ApiResult<Json<Value>> {
    let all = s.call(|st| st.schedules()).await?;
    let shown: Vec<Value> = all
        .iter()
        .filter(|r| schedule::may_read(s.auth.as_deref(), caller.0.as_ref(), &r.family))
        .map(schedule::schedule_json)
        .collect();
    Ok(Json(json!({ "schedules": shown })))
}

async fn create_schedule(
    State(s): State<AppState>,
    caller: CallerOf,
    Mlflow(body): Mlflow<ScheduleBody>,
) -> ApiResult<Json<Value>> {
    let by = caller.0.as_ref().map(|c| c.username.clone()).unwrap_or_default();
    let now = flotilla_app::monitor::alerts_delivery::now_ms();
    let new = schedule::parse_body(&body, &by, now)?;
    schedule::may_manage(s.auth.as_deref(), caller.0.as_ref(), &new.family)?;
    if !new.family.is_empty() {
        let family = new.family.clone();
        s.call(move |st| st.get_family(&family).map(|_| ())).await?;
    }
    let made = s.call(move |st| st.create_schedule(&new)).await?;
    Ok(Json(json!({ "schedule": schedule::schedule_json(&made) })))
}

async fn get_schedule(State(s): State<AppState>, caller: CallerOf, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = schedule_id(&id)?;
    let found = s.call(move |st| st.get_schedule(id)).await?;
    if !schedule::may_read(s.auth.as_deref(), caller.0.as_ref(), &found.family) {
        return Err(flotilla_app::auth::denied().into());
    }
    Ok(Json(json!({ "schedule": schedule::schedule_json(&found) })))
}

async fn delete_schedule(
    State(s): State<AppState>,
    caller: CallerOf,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = schedule_id(&id)?;
    let found = s.call(move |st| st.get_schedule(id)).await?;
    schedule::may_manage(s.auth.as_deref(), caller.0.as_ref(), &found.family)?;
    s.call(move |st| st.delete_schedule(id)).await?;
    Ok(Json(json!({})))
}

async fn runs(State(s): State<AppState>, caller: CallerOf, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let mut schedule_filter = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "schedule" => schedule_filter = Some(schedule_id(&v)?),
            other => return Err(Error::invalid(format!("unknown parameter '{other}'; known: schedule")).into()),
        }
    }
    let all = s.call(|st| st.report_runs(MAX_RUNS)).await?;
    let shown: Vec<Value> = all
        .iter()
        .filter(|r| schedule_filter.is_none_or(|id| r.schedule_id == Some(id)))
        .filter(|r| schedule::may_read(s.auth.as_deref(), caller.0.as_ref(), &r.family))
        .map(schedule::run_json)
        .collect();
    Ok(Json(json!({ "runs": shown })))
}
