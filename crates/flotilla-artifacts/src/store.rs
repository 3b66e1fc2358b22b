//! The storage interface every artifact backend implements, and the types it speaks.
//!
//! Nothing here is local-specific: a backend receives only validated [`ArtifactPath`]s and
//! byte streams, so an S3-compatible store can implement the same trait and pass the same
//! behaviour suite ([`crate::testsuite`]).

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::error::ArtifactError;
use crate::path::ArtifactPath;

/// A body flowing in or out of a store, never held in memory whole.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A stored file being read.
pub struct ArtifactObject {
    pub size: u64,
    pub body: ByteStream,
}

impl std::fmt::Debug for ArtifactObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactObject").field("size", &self.size).finish_non_exhaustive()
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Full path relative to the store root (not just the file name).
    pub path: ArtifactPath,
    pub is_dir: bool,
    /// `None` for directories.
    pub size: Option<u64>,
}

/// Artifact storage. Paths are relative to the store's root; directories exist implicitly
/// as prefixes of stored files (as they do in object storage).
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Store `body` at `path`, replacing any file there, and return the bytes written.
    ///
    /// All or nothing: if the body fails or the future is dropped, the previous file (if
    /// any) is still there and no partial file is visible. A directory at `path`, or a file
    /// where one of its parents should be, is a [`ArtifactError::Conflict`].
    async fn put(&self, path: &ArtifactPath, body: ByteStream) -> Result<u64, ArtifactError>;

    /// Stream the file at `path`. A directory is [`ArtifactError::NotAFile`].
    async fn get(&self, path: &ArtifactPath) -> Result<ArtifactObject, ArtifactError>;

    /// The direct children of `dir`, sorted by name. A missing directory lists as empty;
    /// a file lists as itself alone (MLflow's behaviour, which the client relies on).
    async fn list(&self, dir: &ArtifactPath) -> Result<Vec<FileInfo>, ArtifactError>;

    /// Delete the file, or the directory and everything below it. Missing is `NotFound`.
    async fn delete(&self, path: &ArtifactPath) -> Result<(), ArtifactError>;

    /// Whether a file or directory is stored at `path`.
    async fn exists(&self, path: &ArtifactPath) -> Result<bool, ArtifactError>;
}
