//! `GET /health` and `/health/history` (roll-ups, worst models, trends),
//! a model's checks, a family's drift configuration and a model's baseline.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use flotilla_app::monitor::health;
use flotilla_core::{Error, VersionNumber};
use flotilla_drift::DriftConfig;
use flotilla_store::health::{Baseline, HealthScope};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::permissions::Sees;
use crate::wire::Mlflow;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/monitor/v1/health", get(get_health))
        .route("/api/monitor/v1/health/history", get(get_history))
        .route("/api/monitor/v1/models/{name}/health", get(model_health))
        .route("/api/monitor/v1/families/{family}/drift-config", get(get_drift_config).put(put_drift_config))
        .route("/api/monitor/v1/models/{name}/baseline", get(get_baseline).put(put_baseline))
}

/// Only the models the caller reads are counted and listed.
async fn get_health(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let (scope, page) = health::health_query(raw.as_deref().unwrap_or(""))?;
    let visible = sees.models();
    Ok(Json(s.call(move |st| health::health_answer(st, scope, page, visible)).await?))
}

/// A family's history needs READ on it; the fleet's, reading the whole fleet.
async fn get_history(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let (scope, from, to) = health::history_query(raw.as_deref().unwrap_or(""))?;
    let allowed = match &scope {
        HealthScope::Family(f) => sees.families().admits(f, Some(f)) || sees.models().family_wholly(f),
        HealthScope::Fleet | HealthScope::Partition { .. } | HealthScope::Tag { .. } => sees.models().is_everything(),
    };
    if !allowed {
        return Err(flotilla_app::auth::denied().into());
    }
    Ok(Json(s.call(move |st| health::history_answer(st, scope, from, to)).await?))
}

async fn model_health(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let shown = name.clone();
    let checks = s.call(move |st| st.model_health(&name)).await?;
    Ok(Json(json!({ "model": shown, "checks": health::checks_json(&checks) })))
}

async fn get_drift_config(State(s): State<AppState>, Path(family): Path<String>) -> ApiResult<Json<Value>> {
    let shown = family.clone();
    let kept = s.call(move |st| st.drift_config(&family)).await?;
    let (config, default) = match kept {
        Some(text) => (serde_json::from_str::<DriftConfig>(&text).unwrap_or_default(), false),
        None => (DriftConfig::default(), true),
    };
    Ok(Json(json!({ "family": shown, "drift_config": config, "default": default })))
}

/// The body is a `DriftConfig` (unknown fields refused, missing ones Evidently's defaults).
async fn put_drift_config(
    State(s): State<AppState>,
    Path(family): Path<String>,
    Mlflow(config): Mlflow<DriftConfig>,
) -> ApiResult<Json<Value>> {
    flotilla_app::monitor::drift::check_config(&config)?;
    let text = serde_json::to_string(&config).map_err(|_| flotilla_app::error::internal())?;
    let shown = family.clone();
    s.call(move |st| st.set_drift_config(&family, &text)).await?;
    Ok(Json(json!({ "family": shown, "drift_config": config, "default": false })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineBody {
    /// dataset, traffic, or none (clears it).
    kind: String,
    #[serde(default)]
    dataset: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    to: Option<i64>,
}

fn baseline_json(b: Option<&Baseline>) -> Value {
    match b {
        None => json!({ "kind": "none" }),
        Some(Baseline::Dataset { name, digest }) => json!({ "kind": "dataset", "dataset": name, "digest": digest }),
        Some(Baseline::Traffic { version, from, to }) => {
            json!({ "kind": "traffic", "version": version, "from": from, "to": to })
        }
    }
}

async fn get_baseline(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let shown = name.clone();
    let b = s.call(move |st| st.baseline(&name)).await?;
    Ok(Json(json!({ "model": shown, "baseline": baseline_json(b.as_ref()) })))
}

async fn put_baseline(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Mlflow(body): Mlflow<BaselineBody>,
) -> ApiResult<Json<Value>> {
    let baseline = match body.kind.as_str() {
        "none" => None,
        "dataset" => match (body.dataset, body.digest) {
            (Some(name), Some(digest)) if !name.is_empty() && !digest.is_empty() => {
                Some(Baseline::Dataset { name, digest })
            }
            _ => return Err(Error::invalid("a dataset baseline needs 'dataset' and 'digest'").into()),
        },
        "traffic" => {
            let version = body
                .version
                .and_then(VersionNumber::new)
                .ok_or_else(|| Error::invalid("a traffic baseline needs a positive 'version'"))?;
            let (Some(from), Some(to)) = (body.from, body.to) else {
                return Err(Error::invalid("a traffic baseline needs 'from' and 'to' (ms since the epoch)").into());
            };
            health::check_range(from, to, health::MAX_HISTORY_MS)?;
            Some(Baseline::Traffic { version, from, to })
        }
        other => return Err(Error::invalid(format!("'kind' must be dataset, traffic or none, got '{other}'")).into()),
    };
    let shown = name.clone();
    let kept = baseline.clone();
    s.call(move |st| flotilla_app::monitor::drift::set_baseline(st, &name, kept.as_ref())).await?;
    if let Some(telemetry) = s.telemetry.as_ref() {
        telemetry.refresh_references(&shown);
    }
    Ok(Json(json!({ "model": shown, "baseline": baseline_json(baseline.as_ref()) })))
}
