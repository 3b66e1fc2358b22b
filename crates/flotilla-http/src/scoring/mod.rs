//! MLflow's scoring protocol (`mlflow models serve`, SageMaker containers):
//! `POST /invocations` with JSON (`dataframe_split`, `dataframe_records`,
//! `instances`, `inputs`) or CSV, answered `{"predictions": ...}` as MLflow's
//! pyfunc scoring server answers, errors as `{"error_code", "message"}`.
//!
//! `flotilla serve --model NAME[@alias|/VERSION]` binds one model to
//! `/invocations`, `/ping` and `/health` ([`bound_routes`]); every server
//! offers the protocol per model at `/invocations/models/{model}` and
//! `/invocations/models/{model}/versions/{version}` ([`routes`]). The model is
//! resolved, loaded and run by `flotilla-serving`, as for V2.

mod answer;
pub(crate) mod error;
pub(crate) mod frame;
mod inputs;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use flotilla_app::auth::{Caller, Permission, denied};
use flotilla_serving::ModelRef;

use self::error::ScoringError;
use crate::AppState;
use crate::infer_telemetry::{Stages, record_failure, record_success};

/// The model `flotilla serve --model` answers `/invocations` with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoringTarget {
    /// The registered name, with `@alias` when an alias was named.
    pub model: String,
    /// A version number, when one was named.
    pub version: Option<String>,
}

impl ScoringTarget {
    /// Reads `NAME`, `NAME@alias`, `NAME/VERSION` (a number after the last
    /// `/`), each also as an MLflow `models:/` URI.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix("models:/").unwrap_or(text);
        let (model, version) = match text.rsplit_once('/') {
            Some((name, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => (name, Some(v.to_string())),
            Some(_) | None => (text, None),
        };
        ModelRef::parse(model, version.as_deref()).map_err(|e| format!("--model '{text}': {e}"))?;
        Ok(Self { model: model.to_string(), version })
    }
}

/// The protocol per model, on every server.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/invocations/models/{model}", post(model_invocations))
        .route("/invocations/models/{model}/versions/{version}", post(version_invocations))
}

/// `/invocations`, `/ping` and `/health` for the one model `flotilla serve --model` serves.
pub(crate) fn bound_routes(target: ScoringTarget) -> Router<AppState> {
    Router::new()
        .route("/invocations", post(bound_invocations))
        .route("/ping", get(ping))
        .route("/health", get(ping))
        .layer(Extension(Arc::new(target)))
}

async fn model_invocations(
    State(s): State<AppState>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    invocations(&s, &model, None, &headers, body).await
}

async fn version_invocations(
    State(s): State<AppState>,
    Path((model, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    invocations(&s, &model, Some(&version), &headers, body).await
}

/// The route names no model, so the permission table delegates: USE on the
/// bound model is checked here, as the table checks it on a model's path.
async fn bound_invocations(
    State(s): State<AppState>,
    Extension(target): Extension<Arc<ScoringTarget>>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(e) = may_use(&s, caller.as_ref().map(|c| &c.0), &target).await {
        return e.into_response();
    }
    invocations(&s, &target.model, target.version.as_deref(), &headers, body).await
}

async fn may_use(s: &AppState, caller: Option<&Caller>, target: &ScoringTarget) -> Result<(), ScoringError> {
    let (Some(auth), Some(caller)) = (s.auth.as_ref(), caller) else { return Ok(()) };
    if caller.is_admin {
        return Ok(());
    }
    let name = ModelRef::parse(&target.model, None)?.name;
    if auth.model_level(caller, &name).await?.allows(Permission::Use) { Ok(()) } else { Err(denied().into()) }
}

/// Healthy when the bound model resolves and loads (the scoring server is
/// healthy once its model has loaded): `"\n"`, 200; else 404.
async fn ping(State(s): State<AppState>, Extension(target): Extension<Arc<ScoringTarget>>) -> Response {
    let ready = match (&s.serving, ModelRef::parse(&target.model, target.version.as_deref())) {
        (Some(serving), Ok(model_ref)) => serving.model(&model_ref).await.is_ok(),
        (None, _) | (_, Err(_)) => false,
    };
    let status = if ready { StatusCode::OK } else { StatusCode::NOT_FOUND };
    (status, [(header::CONTENT_TYPE, "application/json")], "\n").into_response()
}

async fn invocations(
    s: &AppState,
    model: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    match score(s, model, version, headers, body, started).await {
        Ok(response) => response,
        Err(e) => {
            record_failure(s, model, version, started, e.status.as_u16()).await;
            e.into_response()
        }
    }
}

/// The content types the scoring server names in its refusal.
const CONTENT_TYPES: &str = "['text/csv', 'application/json', 'application/vnd.apache.parquet']";

/// A body's reader: JSON or CSV (told which columns are text).
type Reader = fn(&[u8], &dyn Fn(&str) -> bool) -> Result<frame::Frame, ScoringError>;

/// Which reader a content type asks for, refused as the scoring server refuses it.
fn reader(content_type: &str) -> Result<Reader, ScoringError> {
    let mut parts = content_type.split(';').map(str::trim);
    let mime = parts.next().unwrap_or_default();
    for parameter in parts {
        match parameter.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("charset") => {
                if !value.trim_matches('"').eq_ignore_ascii_case("utf-8") {
                    return Err(ScoringError::unsupported_media("The scoring server only supports UTF-8"));
                }
            }
            Some((key, _)) => {
                return Err(ScoringError::unsupported_media(format!("Unrecognized content type parameters: {key}.")));
            }
            None => {
                return Err(ScoringError::unsupported_media(format!(
                    "Unrecognized content type parameters: {parameter}."
                )));
            }
        }
    }
    match mime.to_ascii_lowercase().as_str() {
        "application/json" => Ok(|body, _| frame::from_json(body)),
        "text/csv" => Ok(frame::from_csv),
        _ => Err(ScoringError::unsupported_media(format!(
            "This predictor only supports the following content types: Types: {CONTENT_TYPES}. Got '{content_type}'."
        ))),
    }
}

async fn score(
    s: &AppState,
    model: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    started: Instant,
) -> Result<Response, ScoringError> {
    // A body over the limit (413) or cut short is answered in the protocol's shape.
    let body = body.map_err(|e| ScoringError { status: e.status(), ..ScoringError::bad_request(e.body_text()) })?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let read = reader(content_type)?;
    let serving = s.serving.as_ref().ok_or_else(|| {
        ScoringError::of(flotilla_core::ErrorKind::NotFound, "model serving is not enabled on this server")
    })?;
    let model_ref = ModelRef::parse(model, version)?;
    let fetched = serving.fetch(&model_ref).await?;
    let columns = &fetched.1.columns;
    let frame = read(&body, &|name| columns.iter().any(|c| c.name == name && c.kind.is_text()))?;
    let (tabular, rows) = (frame.tabular, frame.rows);
    let inputs = inputs::to_inputs(frame, &fetched.1)?;
    let decoded = Instant::now();
    let inference = serving.infer_fetched(fetched, inputs, &[]).await?;
    let inferred = Instant::now();
    let body = answer::predictions(&inference.outputs, &inference.model, tabular, rows);
    let outputs: Vec<&flotilla_infer::Tensor> = inference.outputs.iter().collect();
    record_success(s, &inference, &outputs, Stages { started, decoded, inferred });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests;
