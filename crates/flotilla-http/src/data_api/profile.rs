//! `/api/data/v1/datasets/{name}/{digest}/profile`: `POST` profiles the
//! data in the body (CSV, Parquet, Arrow IPC stream), keeps a profile the
//! CLI made (`application/x-flotilla-profile`), or with `?from=source` and
//! no body profiles the dataset's own source file in the artifact store
//! (READ on the experiment it is stored under as well); `GET` answers the
//! kept profile's summary. The body is spooled to an unnamed temporary file
//! (gone with the process, whatever happens) up to `--max-upload-bytes`
//! (413 past it), never held in memory; it is parsed on the blocking pool;
//! a bad input is a 400 naming its line or column and keeps nothing; a
//! media type the profiler does not read is a 415, refused before the body
//! is read.

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Permission, Resource};
use flotilla_app::data::profile::{self, Upload};
use flotilla_core::ErrorKind;
use flotilla_store::{Readable, StoreError};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult};
use crate::permissions::Sees;

/// The upload limit, as the data router carries it.
#[derive(Clone, Copy)]
pub(crate) struct UploadLimit(pub u64);

pub(super) async fn put(
    State(s): State<AppState>,
    Extension(UploadLimit(limit)): Extension<UploadLimit>,
    caller: Option<Extension<Caller>>,
    Path((name, digest)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let from_source = match query.as_deref().unwrap_or("") {
        "" => false,
        "from=source" => true,
        other => return Err(ApiError::invalid(format!("Unknown query '{other}': the only parameter is from=source"))),
    };
    let caller = caller.map(|c| c.0);
    // Authentication off: anyone may; a missing dataset is found missing when it is kept.
    if let (Some(auth), Some(caller)) = (s.auth.as_ref(), caller.as_ref()) {
        profile::may_write(auth, caller, std::sync::Arc::clone(&s.store), name.clone(), digest.clone()).await?;
    }
    let (file, len, upload) = if from_source {
        if headers.get(header::CONTENT_LENGTH).is_some_and(|l| l != "0") {
            return Err(ApiError::invalid("A profile from the dataset's source takes no body"));
        }
        let (n, d) = (name.clone(), digest.clone());
        let (path, content_type) = s.call(move |st| profile::source_file(st, &n, &d).map_err(StoreError::from)).await?;
        if let (Some(auth), Some(caller), Some(experiment)) =
            (s.auth.as_ref(), caller.as_ref(), profile::artifact_experiment(&path))
        {
            auth.require(caller, Resource::Experiment(experiment), Permission::Read)?;
        }
        let object = s.artifacts.get(&path).await.map_err(flotilla_app::error::from_artifact)?;
        let (file, len) = spool(object.body, limit).await?;
        (file, len, Upload::Data(content_type))
    } else {
        let media_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let upload = Upload::of_media_type(media_type).map_err(|m| {
            ApiError::new(ErrorKind::InvalidParameter, StatusCode::UNSUPPORTED_MEDIA_TYPE, "INVALID_PARAMETER_VALUE", m)
        })?;
        let (file, len) = spool(body.into_data_stream(), limit).await?;
        (file, len, upload)
    };
    let made = profile::profile_upload(file, upload, len).await?;
    let answer = s.call(move |st| profile::keep(st, &name, &digest, &made).map_err(StoreError::from)).await?;
    Ok(Json(answer))
}

pub(super) async fn get(
    State(s): State<AppState>,
    sees: Sees,
    Path((name, digest)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let readable = Readable { experiments: sees.experiments(), models: sees.models() };
    let answer = s
        .call(move |st| {
            // Not found unless the caller reads something that used it.
            st.get_dataset(&name, &digest, &readable)?;
            profile::kept(st, &name, &digest).map_err(StoreError::from)
        })
        .await?;
    Ok(Json(answer))
}

/// Writes a body to an unnamed temporary file, refusing it (413) once it
/// passes `limit`; answers the file, rewound, and its length.
async fn spool<E: std::fmt::Display>(
    mut stream: impl Stream<Item = Result<Bytes, E>> + Unpin,
    limit: u64,
) -> Result<(std::fs::File, u64), ApiError> {
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| io_failed(&e))?;
    let mut out = tokio::fs::File::from_std(file);
    let mut len: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the upload failed: {e}")))?;
        len += chunk.len() as u64;
        if len > limit {
            return Err(ApiError::of(
                ErrorKind::TooLarge,
                format!("the upload is larger than the limit of {limit} bytes (--max-upload-bytes); nothing was kept"),
            ));
        }
        out.write_all(&chunk).await.map_err(|e| io_failed(&e))?;
    }
    out.flush().await.map_err(|e| io_failed(&e))?;
    let mut file = out.into_std().await;
    tokio::task::spawn_blocking(move || {
        std::io::Seek::rewind(&mut file)?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map(|file| (file, len))
    .map_err(|e| io_failed(&e))
}

fn io_failed(e: &std::io::Error) -> ApiError {
    tracing::error!(error = %e, "spooling an upload failed");
    ApiError::internal()
}
