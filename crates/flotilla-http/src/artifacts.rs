//! The artifact proxy (`/api/2.0/mlflow-artifacts/...`) and the legacy
//! `artifacts/list` endpoint, streamed both ways: an upload goes from the
//! socket to a temporary file, a download from the file to the socket, so a
//! 1 GB artifact never sits in memory.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flotilla_app::audit;
use flotilla_artifacts::{ArtifactPath, SourceUri, parse_source_uri};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::wire::{Mlflow, run_id};

pub(crate) fn routes() -> Router<AppState> {
    let proxy = Router::new()
        .route("/mlflow-artifacts/artifacts", get(list))
        .route("/mlflow-artifacts/artifacts/", get(list))
        .route("/mlflow-artifacts/artifacts/{*path}", get(download).put(upload).delete(delete));
    let legacy = Router::new().route("/mlflow/artifacts/list", get(list_run_artifacts));
    let api = proxy.merge(legacy);
    Router::new().nest("/api/2.0", api.clone()).nest("/api/3.0", api.clone()).nest("/ajax-api/2.0", api)
}

#[derive(Deserialize)]
struct ListQuery {
    path: Option<String>,
}

fn file_json(info: &flotilla_artifacts::FileInfo, relative_to: &ArtifactPath) -> Value {
    let full = info.path.as_str();
    let rel = full.strip_prefix(relative_to.as_str()).unwrap_or(full).trim_start_matches('/');
    let rel = if rel.is_empty() { info.path.file_name().unwrap_or(full) } else { rel };
    entry_json(rel, info)
}

/// One listing entry, `{"path", "is_dir", "file_size"}`; a size of 0 is left out, as MLflow's
/// proto JSON leaves out every default.
fn entry_json(path: &str, info: &flotilla_artifacts::FileInfo) -> Value {
    let mut f = json!({ "path": path, "is_dir": info.is_dir });
    if let Some(size) = info.size.filter(|&size| size != 0) {
        f["file_size"] = size.into();
    }
    f
}

async fn list(State(s): State<AppState>, Mlflow(q): Mlflow<ListQuery>) -> ApiResult<axum::Json<Value>> {
    let dir = ArtifactPath::parse_dir(q.path.as_deref().unwrap_or(""))?;
    let files = s.artifacts.list(&dir).await?;
    // Entries are named relative to the listed directory: MLflow answers
    // basenames, and nothing for a path that is a file (2.x clients rely on
    // that to tell files from directories).
    let files: Vec<Value> =
        files.iter().filter(|f| f.path != dir).map(|f| entry_json(f.path.file_name().unwrap_or(""), f)).collect();
    let mut out = json!({});
    if !files.is_empty() {
        out["files"] = files.into();
    }
    Ok(axum::Json(out))
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "txt" | "log" | "yaml" | "yml" | "md" | "csv" | "py" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => "application/octet-stream",
    }
}

async fn download(State(s): State<AppState>, Path(raw): Path<String>) -> ApiResult<Response> {
    let path = ArtifactPath::parse(&raw)?;
    let object = s.artifacts.get(&path).await?;
    let name = path.file_name().unwrap_or("artifact");
    let safe_name: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    let mut response = Body::from_stream(object.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

async fn upload(State(s): State<AppState>, Path(raw): Path<String>, request: Request) -> ApiResult<axum::Json<Value>> {
    let path = ArtifactPath::parse(&raw)?;
    let body = request.into_body().into_data_stream().map_err(std::io::Error::other);
    let bytes = s.artifacts.put(&path, Box::pin(body)).await?;
    audit::record(&s, audit::artifact_written(path.as_str(), bytes)).await?;
    Ok(axum::Json(json!({})))
}

async fn delete(State(s): State<AppState>, Path(raw): Path<String>) -> ApiResult<axum::Json<Value>> {
    let path = ArtifactPath::parse(&raw)?;
    s.artifacts.delete(&path).await?;
    audit::record(&s, audit::artifact_deleted(path.as_str())).await?;
    Ok(axum::Json(json!({})))
}

#[derive(Deserialize)]
struct RunListing {
    run_id: Option<String>,
    run_uuid: Option<String>,
    path: Option<String>,
}

/// `GET /mlflow/artifacts/list?run_id=&path=`: a listing relative to the run's root.
async fn list_run_artifacts(State(s): State<AppState>, Mlflow(q): Mlflow<RunListing>) -> ApiResult<axum::Json<Value>> {
    let id = run_id(&q.run_id, &q.run_uuid)?.to_string();
    let run = s.call(move |st| st.get_run(&id)).await?;
    list_under(&s, run.info.artifact_uri, q.path.as_deref().unwrap_or("")).await
}

/// Lists `sub` below an entity's artifact root URI, naming entries relative to
/// that root (`root_uri` + `files`, as MLflow's server-side listings answer).
pub(crate) async fn list_under(s: &AppState, root_uri: String, sub: &str) -> ApiResult<axum::Json<Value>> {
    let root = match parse_source_uri(&root_uri) {
        Ok(SourceUri::Artifacts(p)) => p,
        Ok(_) | Err(_) => {
            return Err(ApiError::invalid(format!("Artifact URI '{root_uri}' is not served by this server")));
        }
    };
    let dir = root.join(&ArtifactPath::parse_dir(sub)?)?;
    let files = s.artifacts.list(&dir).await?;
    let files: Vec<Value> = files.iter().filter(|f| f.path != dir).map(|f| file_json(f, &root)).collect();
    // An empty listing has no `files` in MLflow's answer.
    let mut out = json!({ "root_uri": root_uri });
    if !files.is_empty() {
        out["files"] = files.into();
    }
    Ok(axum::Json(out))
}
