//! `LocalArtifactStore`: artifacts as files under one root directory.
//!
//! Layout: `<root>/<artifact path>` for artifacts and `<root>/.tmp/` for uploads in flight
//! (multipart uploads in `.tmp/mpu-<id>/`) and deleted trees being removed (never listed, never addressable). Every operation goes through `resolve`, which is where
//! the path is turned into a filesystem path and checked against symlink escapes.

mod multipart;
mod resolve;
mod upload;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio_util::io::ReaderStream;

use crate::error::ArtifactError;
use crate::path::ArtifactPath;
use crate::store::{ArtifactObject, ArtifactStore, ByteStream, FileInfo, UploadedPart};
use resolve::{Found, TMP_DIR, resolve};
use upload::TRASH_PREFIX;

/// Read size for downloads: large enough to keep syscalls few, small enough to stream.
const READ_CHUNK: usize = 64 * 1024;
/// Tries at removing a deleted tree that uploads in flight may still write into.
const TRASH_ATTEMPTS: usize = 5;

/// Artifact storage in a local directory.
#[derive(Debug, Clone)]
pub struct LocalArtifactStore {
    /// Canonical, so containment checks compare like with like.
    root: PathBuf,
    tmp: PathBuf,
}

impl LocalArtifactStore {
    /// Open (creating if needed) the store at `root`, and clear uploads a crash left behind.
    pub fn new(root: PathBuf) -> Result<Self, ArtifactError> {
        std::fs::create_dir_all(&root)?;
        let root = std::fs::canonicalize(&root)?;
        let tmp = root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp)?;
        if std::fs::symlink_metadata(&tmp)?.file_type().is_symlink() {
            // Staged uploads would be written wherever the link points.
            return Err(ArtifactError::Io(std::io::Error::other(format!(
                "{} must be a directory, not a symbolic link",
                tmp.display()
            ))));
        }
        upload::remove_stale(&tmp);
        multipart::remove_expired(&tmp);
        Ok(LocalArtifactStore { root, tmp })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    async fn put(&self, path: &ArtifactPath, body: ByteStream) -> Result<u64, ArtifactError> {
        let resolved = resolve(&self.root, path).await?;
        // Refuse before reading the body: a 1 GB upload should not be staged to be thrown away.
        match resolved.found {
            Found::Dir => Err(ArtifactError::Conflict(format!("cannot write {path}: it is a directory"))),
            Found::UnderFile => Err(ArtifactError::Conflict(format!("cannot write {path}: a parent is a file"))),
            Found::File | Found::Missing => upload::stage_and_publish(&self.tmp, &resolved.full, path, body).await,
        }
    }

    async fn get(&self, path: &ArtifactPath) -> Result<ArtifactObject, ArtifactError> {
        let resolved = resolve(&self.root, path).await?;
        match resolved.found {
            Found::File => {}
            Found::Dir => return Err(ArtifactError::NotAFile(path.to_string())),
            Found::Missing | Found::UnderFile => {
                return Err(ArtifactError::NotFound(path.to_string()));
            }
        }
        let file = tokio::fs::File::open(&resolved.full).await.map_err(|e| missing_or_io(path, e))?;
        let metadata = file.metadata().await?;
        if metadata.is_dir() {
            // Replaced by a directory since `resolve` looked.
            return Err(ArtifactError::NotAFile(path.to_string()));
        }
        let body: ByteStream = Box::pin(ReaderStream::with_capacity(file, READ_CHUNK));
        Ok(ArtifactObject { size: metadata.len(), body })
    }

    async fn list(&self, dir: &ArtifactPath) -> Result<Vec<FileInfo>, ArtifactError> {
        let resolved = resolve(&self.root, dir).await?;
        match resolved.found {
            Found::Missing | Found::UnderFile => Ok(Vec::new()),
            Found::File => {
                let metadata = tokio::fs::metadata(&resolved.full).await.map_err(|e| missing_or_io(dir, e))?;
                Ok(vec![FileInfo { path: dir.clone(), is_dir: false, size: Some(metadata.len()) }])
            }
            Found::Dir => {
                let root = self.root.clone();
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || list_dir(&root, &resolved.full, &dir))
                    .await
                    .map_err(|join| ArtifactError::Io(std::io::Error::other(join)))?
            }
        }
    }

    async fn delete(&self, path: &ArtifactPath) -> Result<(), ArtifactError> {
        if path.is_root() {
            return Err(ArtifactError::InvalidPath("refusing to delete the artifact root".to_owned()));
        }
        let resolved = resolve(&self.root, path).await?;
        match resolved.found {
            Found::Missing | Found::UnderFile => {
                return Err(ArtifactError::NotFound(path.to_string()));
            }
            Found::File | Found::Dir => {}
        }
        // Decide on the entry itself, not its target: deleting a symlink removes the link,
        // never what it points to.
        let entry = tokio::fs::symlink_metadata(&resolved.full).await.map_err(|e| missing_or_io(path, e))?;
        if !entry.is_dir() {
            return tokio::fs::remove_file(&resolved.full).await.map_err(|e| missing_or_io(path, e));
        }
        // A tree is first moved aside in one rename, so that uploads racing into it
        // either land before (and go with it) or after (into a new directory), and no
        // client ever sees it half removed; then the moved tree is removed at leisure.
        let trash = self.tmp.join(format!("{TRASH_PREFIX}{:016x}", rand::random::<u64>()));
        tokio::fs::rename(&resolved.full, &trash).await.map_err(|e| missing_or_io(path, e))?;
        // An upload that had already looked up its directory when the tree moved may
        // still land in it (it then counts as written before the delete): try again.
        let mut removed = tokio::fs::remove_dir_all(&trash).await;
        for _ in 1..TRASH_ATTEMPTS {
            if removed.is_ok() {
                break;
            }
            removed = tokio::fs::remove_dir_all(&trash).await;
        }
        if let Err(error) = removed {
            tracing::warn!(%path, trash = %trash.display(), %error, "could not remove a deleted artifact tree");
        }
        Ok(())
    }

    async fn exists(&self, path: &ArtifactPath) -> Result<bool, ArtifactError> {
        Ok(match resolve(&self.root, path).await?.found {
            Found::File | Found::Dir => true,
            Found::Missing | Found::UnderFile => false,
        })
    }

    async fn create_multipart(&self, path: &ArtifactPath) -> Result<String, ArtifactError> {
        multipart::create(self, path).await
    }

    async fn upload_part(&self, upload_id: &str, part_number: u32, body: ByteStream) -> Result<String, ArtifactError> {
        multipart::upload_part(self, upload_id, part_number, body).await
    }

    async fn complete_multipart(
        &self,
        path: &ArtifactPath,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<u64, ArtifactError> {
        multipart::complete(self, path, upload_id, parts).await
    }

    async fn abort_multipart(&self, path: &ArtifactPath, upload_id: &str) -> Result<(), ArtifactError> {
        multipart::abort(self, path, upload_id).await
    }
}

/// A vanished entry is the client's `NotFound`, anything else is ours.
fn missing_or_io(path: &ArtifactPath, error: std::io::Error) -> ArtifactError {
    if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) {
        ArtifactError::NotFound(path.to_string())
    } else {
        ArtifactError::Io(error)
    }
}

/// The children of a directory already checked to lie under `root`, sorted by name.
///
/// Entries that cannot be served are left out rather than failing the listing: names no
/// `ArtifactPath` accepts (written by another tool), the staging directory, and symlinks
/// leading outside the root (listing them would reveal what exists out there).
fn list_dir(root: &Path, full: &Path, dir: &ArtifactPath) -> Result<Vec<FileInfo>, ArtifactError> {
    let mut infos = Vec::new();
    for entry in std::fs::read_dir(full)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            tracing::warn!(%dir, name = ?name, "skipping artifact whose name is not UTF-8");
            continue;
        };
        if dir.is_root() && name == TMP_DIR {
            continue;
        }
        let child = match dir.child(name) {
            Ok(child) => child,
            Err(error) => {
                tracing::warn!(%dir, %error, "skipping artifact with an unsafe name");
                continue;
            }
        };
        let metadata = if entry.file_type()?.is_symlink() {
            match std::fs::canonicalize(entry.path()) {
                Ok(target) if target.starts_with(root) => std::fs::metadata(&target),
                Ok(_) | Err(_) => {
                    tracing::warn!(path = %child, "skipping symbolic link that leads outside the artifact root");
                    continue;
                }
            }
        } else {
            entry.metadata()
        };
        let metadata = match metadata {
            Ok(metadata) => metadata,
            // Deleted while we listed: it is simply not there any more.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let is_dir = metadata.is_dir();
        infos.push(FileInfo { path: child, is_dir, size: (!is_dir).then_some(metadata.len()) });
    }
    infos.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(infos)
}
