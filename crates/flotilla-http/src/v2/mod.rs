//! The Open Inference Protocol (V2): health, server and model metadata,
//! readiness, infer (JSON and binary tensors) and the model-repository
//! extension with filters and paging. Models are addressed through the
//! registry: `/v2/models/{name}` serves the default alias, else the newest
//! version; `/versions/{v}` takes a number or an alias; `{name}@{alias}` too.

pub(crate) mod codec;
pub(crate) mod error;
mod non_finite;
pub(crate) mod repository;
mod stats;

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use flotilla_app::auth::{Caller, Permission, denied};
use flotilla_infer::{Tensor, TensorSpec};
use flotilla_serving::{ModelRef, Serving};
use serde_json::{Map, Value, json};

use self::error::V2Error;
use crate::AppState;
use crate::infer_telemetry::Stages;

/// The largest infer body read: axum's default body limit, which the V2
/// and scoring routes keep (gRPC's message limit is the same).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The extensions `GET /v2` advertises.
pub const EXTENSIONS: [&str; 2] = ["model_repository", "binary_tensor_data"];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/", get(server_metadata))
        .route("/v2/health/live", get(|| async { StatusCode::OK }))
        .route("/v2/health/ready", get(|| async { StatusCode::OK }))
        .route("/v2/models/{model}", get(model_metadata))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route("/v2/models/{model}/infer", post(infer))
        .route("/v2/models/{model}/versions/{version}", get(version_metadata))
        .route("/v2/models/{model}/versions/{version}/ready", get(version_ready))
        .route("/v2/models/{model}/versions/{version}/infer", post(version_infer))
        .merge(repository::routes())
        .merge(stats::routes())
}

pub(crate) fn serving(s: &AppState) -> Result<&Arc<Serving>, V2Error> {
    s.serving.as_ref().ok_or_else(|| V2Error::not_found("model serving is not enabled on this server"))
}

async fn server_metadata() -> axum::Json<Value> {
    axum::Json(json!({ "name": "flotilla", "version": env!("CARGO_PKG_VERSION"), "extensions": EXTENSIONS }))
}

fn specs(specs: &[TensorSpec]) -> Vec<Value> {
    specs.iter().map(|t| json!({ "name": t.name, "datatype": t.datatype.as_str(), "shape": t.shape })).collect()
}

async fn metadata(s: &AppState, model: &str, version: Option<&str>) -> Result<axum::Json<Value>, V2Error> {
    let (resolved, loaded) = serving(s)?.model(&ModelRef::parse(model, version)?).await?;
    Ok(axum::Json(json!({
        "name": resolved.name,
        "versions": [resolved.version.as_text()],
        "platform": loaded.model.platform(),
        "inputs": specs(&loaded.declared_inputs()),
        "outputs": specs(loaded.model.outputs()),
    })))
}

async fn model_metadata(State(s): State<AppState>, Path(model): Path<String>) -> Result<axum::Json<Value>, V2Error> {
    metadata(&s, &model, None).await
}

async fn version_metadata(
    State(s): State<AppState>,
    Path((model, version)): Path<(String, String)>,
) -> Result<axum::Json<Value>, V2Error> {
    metadata(&s, &model, Some(&version)).await
}

/// Ready means servable now: registered, resolvable and loadable (it is
/// loaded on the way if it was not in memory).
async fn ready(s: &AppState, model: &str, version: Option<&str>) -> Result<StatusCode, V2Error> {
    serving(s)?.model(&ModelRef::parse(model, version)?).await?;
    Ok(StatusCode::OK)
}

async fn model_ready(State(s): State<AppState>, Path(model): Path<String>) -> Result<StatusCode, V2Error> {
    ready(&s, &model, None).await
}

async fn version_ready(
    State(s): State<AppState>,
    Path((model, version)): Path<(String, String)>,
) -> Result<StatusCode, V2Error> {
    ready(&s, &model, Some(&version)).await
}

async fn infer(
    State(s): State<AppState>,
    Path(model): Path<String>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let caller = caller.map(|c| c.0);
    let started = Instant::now();
    let answer = run_infer(&s, &model, None, caller.as_ref(), &headers, body, started).await;
    recorded(&s, &model, None, started, answer).await
}

async fn version_infer(
    State(s): State<AppState>,
    Path((model, version)): Path<(String, String)>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let caller = caller.map(|c| c.0);
    let started = Instant::now();
    let answer = run_infer(&s, &model, Some(&version), caller.as_ref(), &headers, body, started).await;
    recorded(&s, &model, Some(&version), started, answer).await
}

/// Answers an inference, recording a failure in telemetry against the
/// version the request resolves to (a success was recorded where its
/// tensors were at hand; a request for no known model is not recorded).
async fn recorded(
    s: &AppState,
    model: &str,
    version: Option<&str>,
    started: Instant,
    answer: Result<Response, V2Error>,
) -> Response {
    let error = match answer {
        Ok(response) => return response,
        Err(e) => e,
    };
    crate::infer_telemetry::record_failure(s, model, version, started, error.status.as_u16()).await;
    error.into_response()
}

/// USE on the model a partitioned request resolves to, checked before it is
/// loaded. The family's own name was checked where the route was matched;
/// the member that answers decides as well (its own grant, else its
/// family's), so a veto on one partition's model holds whoever asks
/// through the family.
pub(crate) async fn may_use_partition(
    s: &AppState,
    caller: Option<&Caller>,
    model_ref: &ModelRef,
) -> Result<(), V2Error> {
    let (Some(auth), Some(caller)) = (s.auth.as_ref(), caller) else { return Ok(()) };
    if caller.is_admin {
        return Ok(());
    }
    let resolved = serving(s)?.resolver.resolve(model_ref).await?;
    if auth.model_level(caller, &resolved.name).await?.allows(Permission::Use) { Ok(()) } else { Err(denied().into()) }
}

/// The request parameter that routes a family's request to a partition.
pub(crate) const PARTITION_PARAMETER: &str = "partition";

/// A partition as a request gives it: `"region=west/store=0042"`, or an
/// object `{"store": "0042"}` (numbers allowed as values).
pub(crate) fn partition_path(value: &Value) -> Result<Vec<flotilla_core::fleet::PartitionValue>, V2Error> {
    use flotilla_core::fleet::{PartitionValue, parse_path};
    let path = match value {
        Value::String(s) => parse_path(s).map_err(|e| V2Error::bad_request(e.message))?,
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                        return Err(V2Error::bad_request(format!(
                            "partition value for '{k}' must be a string or number"
                        )));
                    }
                };
                let part = PartitionValue::new(k.clone(), v);
                part.validate().map_err(|e| V2Error::bad_request(e.message))?;
                Ok(part)
            })
            .collect::<Result<_, _>>()?,
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) => {
            return Err(V2Error::bad_request("parameter 'partition' must be a string like 'store=0042' or an object"));
        }
    };
    if path.is_empty() {
        return Err(V2Error::bad_request("parameter 'partition' names no partition"));
    }
    Ok(path)
}

fn flag(map: &Map<String, Value>, key: &str) -> Option<bool> {
    map.get(key).and_then(Value::as_bool)
}

async fn run_infer(
    s: &AppState,
    model: &str,
    version: Option<&str>,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    started: Instant,
) -> Result<Response, V2Error> {
    // A body over the limit (413) or cut short is answered in V2's shape too.
    let body = body.map_err(|e| V2Error { status: e.status(), message: e.body_text(), retry_after: None })?;
    let header_length = match headers.get(codec::HEADER_LENGTH) {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| V2Error::bad_request("Inference-Header-Content-Length is not a number"))?,
        ),
        None => None,
    };
    let (request, tail) = codec::parse(&body, header_length)?;
    let inputs = codec::decode_inputs(&request, &tail, body.len())?;
    let decoded = Instant::now();
    let mut model_ref = ModelRef::parse(model, version)?;
    if let Some(partition) = request.parameters.get(PARTITION_PARAMETER) {
        model_ref = model_ref.partitioned(partition_path(partition)?)?;
        may_use_partition(s, caller, &model_ref).await?;
    }
    let wanted: Vec<String> = request.outputs.iter().map(|o| o.name.clone()).collect();
    let mut inference = serving(s)?.infer(&model_ref, inputs, &wanted).await?;
    let inferred = Instant::now();
    let binary_default = flag(&request.parameters, "binary_data_output").unwrap_or(false);
    let outputs = std::mem::take(&mut inference.outputs);
    let selected: Vec<(Tensor, bool)> = if request.outputs.is_empty() {
        outputs.into_iter().map(|t| (t, binary_default)).collect()
    } else {
        let binary = request.outputs.iter().map(|o| flag(&o.parameters, "binary_data").unwrap_or(binary_default));
        outputs.into_iter().zip(binary).collect()
    };
    let resolved = &inference.resolved;
    let mut head = Map::new();
    head.insert("model_name".into(), json!(resolved.name));
    head.insert("model_version".into(), json!(resolved.version.as_text()));
    if let Some(id) = request.id {
        head.insert("id".into(), id);
    }
    if let Some((partition, fallback)) = &resolved.partition {
        let answered = flotilla_core::fleet::path_string(partition);
        head.insert("parameters".into(), json!({ "partition": answered, "fallback": fallback }));
    }
    let (body, binary_header) = codec::encode(head, &selected);
    let outputs: Vec<&Tensor> = selected.iter().map(|(t, _)| t).collect();
    crate::infer_telemetry::record_success(s, &inference, &outputs, Stages { started, decoded, inferred });
    let mut response = body.into_response();
    let h = response.headers_mut();
    match binary_header {
        Some(n) => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            h.insert(codec::HEADER_LENGTH, HeaderValue::from(n));
        }
        None => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
    }
    Ok(response)
}
