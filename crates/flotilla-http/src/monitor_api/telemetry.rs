//! `GET /api/monitor/v1/models/{name}/telemetry?version=&from=&to=&grain=`:
//! a model's telemetry windows (READ on the model, declared in the
//! permission table), answered by `flotilla_app::monitor::telemetry::read`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use flotilla_app::monitor::telemetry::read::{self, TelemetryAnswer, TelemetryAsk};
use flotilla_core::Error;

use crate::AppState;
use crate::error::ApiResult;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/monitor/v1/models/{name}/telemetry", get(telemetry))
}

fn ask(raw: Option<&str>) -> Result<TelemetryAsk, Error> {
    let mut ask = TelemetryAsk::default();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let slot = match k.as_ref() {
            "version" => &mut ask.version,
            "from" => &mut ask.from,
            "to" => &mut ask.to,
            "grain" => &mut ask.grain,
            other => return Err(Error::invalid(format!("unknown parameter '{other}'"))),
        };
        *slot = Some(v.into_owned());
    }
    Ok(ask)
}

async fn telemetry(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<TelemetryAnswer>> {
    let ask = ask(raw.as_deref())?;
    Ok(Json(read::telemetry(&s, &name, ask).await?))
}
