//! The statistics extension: `/v2/models/{m}/stats` and
//! `/v2/models/{m}/versions/{v}/stats` in Triton's shape, from serving
//! telemetry's per-version counters (since the version's state was made;
//! zeros for a version without state, or with `--monitor off`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use flotilla_app::monitor::telemetry::{Duration2, V2Stats};
use flotilla_core::VersionNumber;
use flotilla_serving::ModelRef;
use serde_json::{Value, json};

use super::error::V2Error;
use super::serving;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/models/{model}/stats", get(model_stats))
        .route("/v2/models/{model}/versions/{version}/stats", get(version_stats))
}

fn pair(d: Duration2) -> Value {
    json!({ "count": d.count, "ns": d.ns })
}

fn entry(name: &str, version: VersionNumber, s: &V2Stats) -> Value {
    json!({
        "name": name,
        "version": version.get().to_string(),
        "last_inference": s.last_inference_ms,
        "inference_count": s.inference_count,
        "execution_count": s.execution_count,
        "inference_stats": {
            "success": pair(s.success),
            "fail": pair(s.fail),
            "queue": pair(s.queue),
            "compute_input": pair(s.compute_input),
            "compute_infer": pair(s.compute_infer),
            "compute_output": pair(s.compute_output),
        },
        "batch_stats": [],
    })
}

async fn stats(s: &AppState, model: &str, version: Option<&str>) -> Result<Json<Value>, V2Error> {
    let resolved = serving(s)?.resolver.resolve(&ModelRef::parse(model, version)?).await?;
    let mut found = match &s.telemetry {
        Some(t) => t.v2_stats(&resolved.name, version.map(|_| resolved.version)),
        None => Vec::new(),
    };
    if found.is_empty() {
        found.push((resolved.version, V2Stats::default()));
    }
    let list: Vec<Value> = found.iter().map(|(v, st)| entry(&resolved.name, *v, st)).collect();
    Ok(Json(json!({ "model_stats": list })))
}

async fn model_stats(State(s): State<AppState>, Path(model): Path<String>) -> Result<Json<Value>, V2Error> {
    stats(&s, &model, None).await
}

async fn version_stats(
    State(s): State<AppState>,
    Path((model, version)): Path<(String, String)>,
) -> Result<Json<Value>, V2Error> {
    stats(&s, &model, Some(&version)).await
}
