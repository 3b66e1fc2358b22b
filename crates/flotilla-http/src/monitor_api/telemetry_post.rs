//! `POST /api/monitor/v1/models/{name}/versions/{v}/predictions` (JSON
//! lines, Parquet or an Arrow IPC stream) and `.../labels` (JSON lines or
//! a JSON array; `?task=regression|classification`), EDIT on the model
//! (declared in the permission table). The body is read up to the smaller
//! of `--max-upload-bytes` and [`MAX_BODY`] (413 past it), at most
//! [`CONCURRENT`] at once, and parsed on the blocking pool.

use std::sync::LazyLock;

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use bytes::Bytes;
use flotilla_app::monitor::telemetry::ingest::{LabelsAnswer, PredictionsAnswer};
use flotilla_app::monitor::telemetry::post::{self, Encoding};
use flotilla_core::ErrorKind;
use tokio::sync::Semaphore;

use crate::AppState;
use crate::data_api::UploadLimit;
use crate::error::{ApiError, ApiResult};

/// The largest body read, whatever the upload limit.
pub const MAX_BODY: u64 = 256 << 20;
/// Bodies held at once.
pub const CONCURRENT: usize = 2;
static BODIES: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(CONCURRENT));

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/monitor/v1/models/{name}/versions/{version}/predictions", post(predictions))
        .route("/api/monitor/v1/models/{name}/versions/{version}/labels", post(labels))
}

async fn read(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let limit = limit.min(MAX_BODY);
    axum::body::to_bytes(body, limit as usize).await.map_err(|_| {
        ApiError::of(
            ErrorKind::TooLarge,
            format!("the body is larger than the limit of {limit} bytes; nothing was kept"),
        )
    })
}

async fn predictions(
    State(s): State<AppState>,
    Extension(UploadLimit(limit)): Extension<UploadLimit>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PredictionsAnswer>> {
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/x-ndjson");
    let encoding = Encoding::of_media_type(media).map_err(|m| {
        ApiError::new(ErrorKind::InvalidParameter, StatusCode::UNSUPPORTED_MEDIA_TYPE, "INVALID_PARAMETER_VALUE", m)
    })?;
    let _permit = BODIES.acquire().await.map_err(|_| ApiError::internal())?;
    let body = read(body, limit).await?;
    Ok(Json(post::predictions(&s, &name, &version, encoding, body).await?))
}

async fn labels(
    State(s): State<AppState>,
    Extension(UploadLimit(limit)): Extension<UploadLimit>,
    Path((name, version)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> ApiResult<Json<LabelsAnswer>> {
    let mut task = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "task" => task = Some(v.into_owned()),
            other => return Err(ApiError::invalid(format!("unknown parameter '{other}'"))),
        }
    }
    let _permit = BODIES.acquire().await.map_err(|_| ApiError::internal())?;
    let body = read(body, limit).await?;
    Ok(Json(post::labels(&s, &name, &version, task.as_deref(), body).await?))
}
