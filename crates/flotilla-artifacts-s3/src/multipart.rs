//! MLflow's proxied multipart upload on S3: a native S3 multipart upload, with a manifest
//! object under `.tmp/mpu/<upload id>` mapping our unguessable id to S3's id and the path, so
//! that any replica on the bucket can take a part.

use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload};

use crate::S3ArtifactStore;
use flotilla_artifacts::ArtifactError;
use flotilla_artifacts::ArtifactPath;
use flotilla_artifacts::multipart::{self, Manifest};
use flotilla_artifacts::{ByteStream, UploadedPart};

fn manifest_key(store: &S3ArtifactStore, upload_id: &str) -> Key {
    store.reserved_key(&["mpu", upload_id])
}

async fn read_manifest(
    store: &S3ArtifactStore,
    upload_id: &str,
    path: Option<&ArtifactPath>,
) -> Result<(Key, Manifest), ArtifactError> {
    multipart::check_upload_id(upload_id)?;
    let key = manifest_key(store, upload_id);
    let gone = || ArtifactError::NotFound(format!("multipart upload {upload_id}"));
    let bytes = match store.s3.get(&key).await {
        Ok(result) => result.bytes().await.map_err(|e| store.failure(&key, e))?,
        Err(object_store::Error::NotFound { .. }) => return Err(gone()),
        Err(e) => return Err(store.failure(&key, e)),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| gone())?;
    Ok((key, Manifest::decode(text)?.check(upload_id, path)?))
}

pub(crate) async fn create(store: &S3ArtifactStore, path: &ArtifactPath) -> Result<String, ArtifactError> {
    let key = store.check_writable(path).await?;
    let backend_id = store.s3.create_multipart(&key).await.map_err(|e| store.failure(&key, e))?;
    let upload_id = multipart::new_upload_id();
    let manifest = Manifest::new(path.clone(), backend_id.clone());
    let manifest_key = manifest_key(store, &upload_id);
    if let Err(error) = store.s3.put(&manifest_key, PutPayload::from(manifest.encode())).await {
        if let Err(abort) = store.s3.abort_multipart(&key, &backend_id).await {
            tracing::debug!(bucket = %store.bucket, error = %abort, "could not abort an upload without manifest");
        }
        return Err(store.failure(&manifest_key, error));
    }
    Ok(upload_id)
}

pub(crate) async fn upload_part(
    store: &S3ArtifactStore,
    upload_id: &str,
    part_number: u32,
    body: ByteStream,
) -> Result<String, ArtifactError> {
    multipart::check_part_number(part_number)?;
    let (_, manifest) = read_manifest(store, upload_id, None).await?;
    let key = store.key(&manifest.path)?;
    let payload: PutPayload = multipart::collect_part(body).await?.into_iter().collect();
    let part_index = (part_number - 1) as usize;
    let part =
        store.s3.put_part(&key, &manifest.backend_id, part_index, payload).await.map_err(|e| store.failure(&key, e))?;
    Ok(part.content_id)
}

pub(crate) async fn complete(
    store: &S3ArtifactStore,
    path: &ArtifactPath,
    upload_id: &str,
    parts: &[UploadedPart],
) -> Result<u64, ArtifactError> {
    multipart::check_parts(parts)?;
    let (manifest_key, manifest) = read_manifest(store, upload_id, Some(path)).await?;
    let key = store.key(path)?;
    let ids: Vec<PartId> = parts.iter().map(|p| PartId { content_id: p.etag.clone() }).collect();
    if let Err(error) = store.s3.complete_multipart(&key, &manifest.backend_id, ids).await {
        // S3 refuses a wrong ETag, a missing or a too small part: the client's part list.
        tracing::info!(bucket = %store.bucket, %key, %error, "S3 refused to complete a multipart upload");
        return Err(ArtifactError::Body(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the parts listed do not complete the upload (a missing part, a wrong ETag, or a part under 5 MiB but the last)",
        )));
    }
    forget(store, &manifest_key).await;
    store.file_size(&key).await?.ok_or_else(|| ArtifactError::NotFound(path.to_string()))
}

pub(crate) async fn abort(store: &S3ArtifactStore, path: &ArtifactPath, upload_id: &str) -> Result<(), ArtifactError> {
    let (manifest_key, manifest) = read_manifest(store, upload_id, Some(path)).await?;
    let key = store.key(path)?;
    match store.s3.abort_multipart(&key, &manifest.backend_id).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(store.failure(&key, e)),
    }
    forget(store, &manifest_key).await;
    Ok(())
}

/// Remove a finished upload's manifest; a leftover only costs a few bytes and expires.
async fn forget(store: &S3ArtifactStore, manifest_key: &Key) {
    if let Err(error) = store.s3.delete(manifest_key).await {
        tracing::warn!(bucket = %store.bucket, key = %manifest_key, %error, "could not remove a multipart manifest");
    }
}
