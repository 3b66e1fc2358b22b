//! MLflow's proxied multipart upload on the local store: each upload is a directory
//! `<root>/.tmp/mpu-<upload id>/` holding its manifest and one file per part; completing
//! streams the parts in order through the ordinary staged upload, so the file appears whole
//! or not at all. A part's tag is `<part number>-<size>`, checked again at completion.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures_util::{StreamExt, stream};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::resolve::{Found, resolve};
use super::{LocalArtifactStore, READ_CHUNK, upload};
use crate::error::ArtifactError;
use crate::multipart::{self, Manifest, UPLOAD_LIFETIME};
use crate::path::ArtifactPath;
use crate::store::{ByteStream, UploadedPart};

/// Prefix of the directories of multipart uploads in the staging directory.
pub(super) const MPU_PREFIX: &str = "mpu-";
const MANIFEST: &str = "manifest";

fn upload_dir(store: &LocalArtifactStore, upload_id: &str) -> PathBuf {
    store.tmp.join(format!("{MPU_PREFIX}{upload_id}"))
}

fn part_file(dir: &Path, part_number: u32) -> PathBuf {
    dir.join(format!("part-{part_number:05}"))
}

fn tag(part_number: u32, size: u64) -> String {
    format!("{part_number}-{size}")
}

async fn read_manifest(
    store: &LocalArtifactStore,
    upload_id: &str,
    path: Option<&ArtifactPath>,
) -> Result<(PathBuf, Manifest), ArtifactError> {
    multipart::check_upload_id(upload_id)?;
    let dir = upload_dir(store, upload_id);
    let text = match tokio::fs::read_to_string(dir.join(MANIFEST)).await {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(ArtifactError::NotFound(format!("multipart upload {upload_id}")));
        }
        Err(e) => return Err(e.into()),
    };
    Ok((dir, Manifest::decode(&text)?.check(upload_id, path)?))
}

async fn check_writable(store: &LocalArtifactStore, path: &ArtifactPath) -> Result<PathBuf, ArtifactError> {
    let resolved = resolve(&store.root, path).await?;
    match resolved.found {
        Found::Dir => Err(ArtifactError::Conflict(format!("cannot write {path}: it is a directory"))),
        Found::UnderFile => Err(ArtifactError::Conflict(format!("cannot write {path}: a parent is a file"))),
        Found::File | Found::Missing => Ok(resolved.full),
    }
}

pub(super) async fn create(store: &LocalArtifactStore, path: &ArtifactPath) -> Result<String, ArtifactError> {
    check_writable(store, path).await?;
    let upload_id = multipart::new_upload_id();
    let dir = upload_dir(store, &upload_id);
    tokio::fs::create_dir_all(&dir).await?;
    tokio::fs::write(dir.join(MANIFEST), Manifest::new(path.clone(), String::new()).encode()).await?;
    Ok(upload_id)
}

pub(super) async fn upload_part(
    store: &LocalArtifactStore,
    upload_id: &str,
    part_number: u32,
    mut body: ByteStream,
) -> Result<String, ArtifactError> {
    multipart::check_part_number(part_number)?;
    let (dir, _) = read_manifest(store, upload_id, None).await?;
    // Written aside and renamed, so a retried part replaces the old one whole.
    let partial = dir.join(format!("partial-{:016x}", rand::random::<u64>()));
    let written = async {
        let mut file = tokio::fs::File::create(&partial).await?;
        let mut written: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(ArtifactError::Body)?;
            written += chunk.len() as u64;
            if written > multipart::MAX_PART_BYTES {
                return Err(multipart::part_too_large());
            }
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        tokio::fs::rename(&partial, part_file(&dir, part_number)).await?;
        Ok(written)
    }
    .await;
    match written {
        Ok(written) => Ok(tag(part_number, written)),
        Err(error) => {
            if let Err(e) = tokio::fs::remove_file(&partial).await
                && e.kind() != ErrorKind::NotFound
            {
                tracing::warn!(path = %partial.display(), error = %e, "could not remove a failed part");
            }
            Err(error)
        }
    }
}

pub(super) async fn complete(
    store: &LocalArtifactStore,
    path: &ArtifactPath,
    upload_id: &str,
    parts: &[UploadedPart],
) -> Result<u64, ArtifactError> {
    multipart::check_parts(parts)?;
    let (dir, _) = read_manifest(store, upload_id, Some(path)).await?;
    let mut files = Vec::with_capacity(parts.len());
    for part in parts {
        let file = part_file(&dir, part.part_number);
        let size = match tokio::fs::metadata(&file).await {
            Ok(meta) => Some(meta.len()),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        if size.map(|s| tag(part.part_number, s)).as_deref() != Some(part.etag.as_str()) {
            return Err(ArtifactError::Body(std::io::Error::new(
                ErrorKind::InvalidData,
                format!("part {} was not uploaded, or not with ETag {:?}", part.part_number, part.etag),
            )));
        }
        files.push(file);
    }
    let target = check_writable(store, path).await?;
    let body = stream::iter(files)
        .then(|file| async move {
            match tokio::fs::File::open(&file).await {
                Ok(open) => ReaderStream::with_capacity(open, READ_CHUNK).boxed(),
                Err(error) => stream::once(async move { Err(error) }).boxed(),
            }
        })
        .flatten();
    let written = upload::stage_and_publish(&store.tmp, &target, path, Box::pin(body)).await.map_err(|e| match e {
        // Our own part files failing to read is our failure, not the client's body.
        ArtifactError::Body(io) => ArtifactError::Io(io),
        other @ (ArtifactError::InvalidPath(_)
        | ArtifactError::InvalidUri(_)
        | ArtifactError::NotFound(_)
        | ArtifactError::NotAFile(_)
        | ArtifactError::Conflict(_)
        | ArtifactError::Io(_)) => other,
    })?;
    remove_upload(&dir).await;
    Ok(written)
}

pub(super) async fn abort(
    store: &LocalArtifactStore,
    path: &ArtifactPath,
    upload_id: &str,
) -> Result<(), ArtifactError> {
    let (dir, _) = read_manifest(store, upload_id, Some(path)).await?;
    remove_upload(&dir).await;
    Ok(())
}

async fn remove_upload(dir: &Path) {
    if let Err(error) = tokio::fs::remove_dir_all(dir).await
        && error.kind() != ErrorKind::NotFound
    {
        tracing::warn!(path = %dir.display(), %error, "could not remove a finished multipart upload");
    }
}

/// Remove uploads older than [`UPLOAD_LIFETIME`] (at start-up, with the other leftovers).
pub(super) fn remove_expired(tmp_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp_dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        if !entry.file_name().to_str().is_some_and(|n| n.starts_with(MPU_PREFIX)) {
            continue;
        }
        let expired = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() > UPLOAD_LIFETIME);
        if expired && let Err(error) = std::fs::remove_dir_all(entry.path()) {
            tracing::warn!(path = %entry.path().display(), %error, "could not remove an expired multipart upload");
        }
    }
}
