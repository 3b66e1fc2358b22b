//! Streamed uploads and downloads for the S3 store.

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore};
use tokio::io::AsyncWriteExt;

use crate::{PUT_PART_BYTES, RANGE_BYTES, S3ArtifactStore};
use flotilla_artifacts::ArtifactError;
use flotilla_artifacts::{ArtifactObject, ByteStream};

/// Parts of one upload sent at the same time (memory: this many parts plus one buffered).
const PUT_CONCURRENCY: usize = 2;

/// A writer that aborts its multipart upload unless finished, also when the upload future is
/// dropped (the client hung up): no part is left behind in the bucket, and nothing is visible.
struct Writer {
    inner: Option<BufWriter>,
    bucket: String,
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(mut writer) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let bucket = std::mem::take(&mut self.bucket);
            runtime.spawn(async move {
                if let Err(error) = writer.abort().await {
                    tracing::debug!(%bucket, %error, "could not abort a dropped upload");
                }
            });
        }
    }
}

/// Stream `body` to `key`: one PUT for a small body, a multipart upload for a large one.
pub(crate) async fn upload(store: &S3ArtifactStore, key: Key, mut body: ByteStream) -> Result<u64, ArtifactError> {
    let s3: Arc<dyn ObjectStore> = store.s3.clone();
    let writer = BufWriter::with_capacity(s3, key.clone(), PUT_PART_BYTES).with_max_concurrency(PUT_CONCURRENCY);
    let mut guard = Writer { inner: Some(writer), bucket: store.bucket.clone() };
    let mut written: u64 = 0;
    loop {
        let chunk = match body.next().await {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => {
                abort(&mut guard).await;
                return Err(ArtifactError::Body(error));
            }
        };
        let writer = guard.inner.as_mut().ok_or_else(finished)?;
        if let Err(error) = writer.write_all(&chunk).await {
            abort(&mut guard).await;
            return Err(io_failure(store, &key, error));
        }
        written += chunk.len() as u64;
    }
    let mut writer = guard.inner.take().ok_or_else(finished)?;
    if let Err(error) = writer.shutdown().await {
        guard.inner = Some(writer);
        abort(&mut guard).await;
        return Err(io_failure(store, &key, error));
    }
    Ok(written)
}

fn finished() -> ArtifactError {
    ArtifactError::Io(std::io::Error::other("upload writer used after it finished"))
}

async fn abort(guard: &mut Writer) {
    if let Some(mut writer) = guard.inner.take()
        && let Err(error) = writer.abort().await
    {
        tracing::debug!(bucket = %guard.bucket, %error, "could not abort a failed upload");
    }
}

/// The writer reports `object_store` errors wrapped in `std::io::Error`.
fn io_failure(store: &S3ArtifactStore, key: &Key, error: std::io::Error) -> ArtifactError {
    match error.downcast::<object_store::Error>() {
        Ok(inner) => store.failure(key, inner),
        Err(error) => {
            tracing::warn!(bucket = %store.bucket, %key, %error, "S3 upload failed");
            ArtifactError::Io(std::io::Error::other(format!("S3 bucket {}: upload failed: {error}", store.bucket)))
        }
    }
}

/// The object as a stream of ranged GETs, each pinned to the ETag seen by `head`.
pub(crate) fn download(store: &S3ArtifactStore, key: Key, meta: ObjectMeta) -> ArtifactObject {
    let size = meta.size;
    let etag = meta.e_tag.clone();
    let s3 = Arc::clone(&store.s3);
    let bucket = store.bucket.clone();
    let starts = (0..size.div_ceil(RANGE_BYTES)).map(|i| i * RANGE_BYTES);
    let body = stream::iter(starts)
        .then(move |start| {
            let (s3, key, etag, bucket) = (Arc::clone(&s3), key.clone(), etag.clone(), bucket.clone());
            async move {
                let end = (start + RANGE_BYTES).min(size);
                let options =
                    GetOptions { range: Some(GetRange::Bounded(start..end)), if_match: etag, ..GetOptions::default() };
                match s3.get_opts(&key, options).await {
                    Ok(result) => result.into_stream().map_err(std::io::Error::from).boxed(),
                    Err(error) => {
                        tracing::warn!(%bucket, %key, %error, "S3 download failed");
                        stream::once(async move { Err(std::io::Error::from(error)) }).boxed()
                    }
                }
            }
        })
        .flatten();
    let body: ByteStream = Box::pin(body);
    ArtifactObject { size, body }
}
