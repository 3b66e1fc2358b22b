//! MLflow's proxied multipart upload (`/api/2.0/mlflow-artifacts/mpu/{create,complete,abort}`),
//! for whichever artifact store the server runs on.
//!
//! MLflow's client sends `create` to the artifact *directory* with the local file's path in
//! the body (the file lands under its base name), receives one URL per part, `PUT`s each part
//! there without credentials (as it would to presigned S3 URLs), then `complete`s with the
//! parts' ETags. Our part URLs are `mpu/part/{upload_id}/{part_number}` on this server: the
//! unguessable upload id is the capability, handed out only to a caller allowed to write the
//! directory (`create` needs EDIT on its experiment, like a `PUT` of the file). Both paths are
//! validated: the URL's as an `ArtifactPath`, the body's reduced to a base name that must be
//! one safe segment.

use axum::Router;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use flotilla_app::audit;
use flotilla_artifacts::multipart::MAX_PARTS;
use flotilla_artifacts::{ArtifactPath, UploadedPart};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::request_meta::Origin;
use crate::wire::Mlflow;

pub(crate) fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/mlflow-artifacts/mpu/create/{*path}", post(create))
        .route("/mlflow-artifacts/mpu/complete/{*path}", post(complete))
        .route("/mlflow-artifacts/mpu/abort/{*path}", post(abort))
        .route("/mlflow-artifacts/mpu/part/{upload_id}/{part_number}", put(upload_part));
    Router::new().nest("/api/2.0", api.clone()).nest("/api/3.0", api.clone()).nest("/ajax-api/2.0", api)
}

#[derive(Deserialize)]
struct CreateBody {
    path: Option<String>,
    num_parts: Option<i64>,
}

#[derive(Deserialize)]
struct Part {
    part_number: Option<i64>,
    etag: Option<String>,
}

#[derive(Deserialize)]
struct CompleteBody {
    path: Option<String>,
    upload_id: Option<String>,
    parts: Option<Vec<Part>>,
}

#[derive(Deserialize)]
struct AbortBody {
    path: Option<String>,
    upload_id: Option<String>,
}

/// The file an upload writes: the URL's directory and the base name of the body's `path`
/// (the client's local file), as MLflow's artifact repositories do.
fn target(raw_dir: &str, local_file: Option<&str>) -> ApiResult<ArtifactPath> {
    let dir = ArtifactPath::parse(raw_dir)?;
    let local_file = local_file.filter(|p| !p.is_empty()).ok_or_else(|| ApiError::missing("path"))?;
    let name = local_file.rsplit(['/', '\\']).next().unwrap_or(local_file);
    Ok(dir.child(name)?)
}

fn required<'a>(value: &'a Option<String>, name: &str) -> ApiResult<&'a str> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| ApiError::missing(name))
}

/// `http(s)://host` the client addressed, for the part URLs.
fn base_url(headers: &HeaderMap, origin: Option<&Origin>) -> ApiResult<String> {
    let forwarded = origin.and_then(|o| o.forwarded_host.as_deref());
    let host = forwarded
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@')))
        .ok_or_else(|| ApiError::invalid("A multipart upload needs the request's Host header"))?;
    let scheme = if origin.is_some_and(|o| o.https) { "https" } else { "http" };
    Ok(format!("{scheme}://{host}"))
}

async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    origin: Option<Extension<Origin>>,
    Path(raw): Path<String>,
    Mlflow(body): Mlflow<CreateBody>,
) -> ApiResult<axum::Json<Value>> {
    let path = target(&raw, body.path.as_deref())?;
    let num_parts = body.num_parts.unwrap_or(1);
    if !(1..=i64::from(MAX_PARTS)).contains(&num_parts) {
        return Err(ApiError::invalid(format!("num_parts must be between 1 and {MAX_PARTS}, not {num_parts}")));
    }
    let base = base_url(&headers, origin.as_deref())?;
    let upload_id = s.artifacts.create_multipart(&path).await?;
    tracing::info!(path = %path, num_parts, "multipart upload created");
    let credentials: Vec<Value> = (1..=num_parts)
        .map(|n| {
            json!({
                "url": format!("{base}/api/2.0/mlflow-artifacts/mpu/part/{upload_id}/{n}"),
                "part_number": n,
                "headers": {},
            })
        })
        .collect();
    Ok(axum::Json(json!({ "upload_id": upload_id, "credentials": credentials })))
}

async fn upload_part(
    State(s): State<AppState>,
    Path((upload_id, part_number)): Path<(String, String)>,
    request: Request,
) -> ApiResult<Response> {
    let part_number: u32 =
        part_number.parse().map_err(|_| ApiError::invalid(format!("part number must be between 1 and {MAX_PARTS}")))?;
    let body = request.into_body().into_data_stream().map_err(std::io::Error::other);
    let etag = s.artifacts.upload_part(&upload_id, part_number, Box::pin(body)).await?;
    let mut response = axum::Json(json!({})).into_response();
    let value = HeaderValue::from_str(&etag).map_err(|_| ApiError::internal())?;
    response.headers_mut().insert(header::ETAG, value);
    Ok(response)
}

async fn complete(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Mlflow(body): Mlflow<CompleteBody>,
) -> ApiResult<axum::Json<Value>> {
    let path = target(&raw, body.path.as_deref())?;
    let upload_id = required(&body.upload_id, "upload_id")?;
    let parts = body.parts.ok_or_else(|| ApiError::missing("parts"))?;
    if parts.is_empty() || parts.len() > MAX_PARTS as usize {
        return Err(ApiError::invalid(format!("parts must list 1 to {MAX_PARTS} parts, not {}", parts.len())));
    }
    let parts: Vec<UploadedPart> = parts
        .into_iter()
        .map(|p| {
            let part_number = p.part_number.and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                ApiError::invalid(format!("every part needs a part_number between 1 and {MAX_PARTS}"))
            })?;
            Ok(UploadedPart { part_number, etag: p.etag.unwrap_or_default() })
        })
        .collect::<ApiResult<_>>()?;
    let bytes = s.artifacts.complete_multipart(&path, upload_id, &parts).await?;
    audit::record(&s, audit::artifact_written(path.as_str(), bytes)).await?;
    Ok(axum::Json(json!({})))
}

async fn abort(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Mlflow(body): Mlflow<AbortBody>,
) -> ApiResult<axum::Json<Value>> {
    let path = target(&raw, body.path.as_deref())?;
    let upload_id = required(&body.upload_id, "upload_id")?;
    s.artifacts.abort_multipart(&path, upload_id).await?;
    tracing::info!(path = %path, "multipart upload aborted");
    Ok(axum::Json(json!({})))
}
