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

    /// Start a multipart upload to `path` (MLflow's proxied multipart upload) and return its
    /// id: [`crate::multipart::UPLOAD_ID_CHARS`] random hex characters, unguessable, since a
    /// part upload is authorised by knowing the id alone (like a presigned URL). The upload's
    /// state lives in the store, so any process on the same store can take its parts.
    /// The same conflicts as [`put`](Self::put) are refused here, before any part is sent.
    async fn create_multipart(&self, path: &ArtifactPath) -> Result<String, ArtifactError>;

    /// Store part `part_number` (1-based, at most [`crate::multipart::MAX_PARTS`]) of an
    /// upload, replacing an earlier try of the same part; returns its tag (the ETag the
    /// client hands back at completion). A part over [`crate::multipart::MAX_PART_BYTES`] is
    /// a `Body` error. An unknown or expired upload is `NotFound`.
    async fn upload_part(&self, upload_id: &str, part_number: u32, body: ByteStream) -> Result<String, ArtifactError>;

    /// Join the parts, numbered 1 to n in order, into the file at `path` (all or nothing,
    /// like `put`) and forget the upload; returns the file's size. `path` must be the one the
    /// upload was created for, or the upload is `NotFound`.
    async fn complete_multipart(
        &self,
        path: &ArtifactPath,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<u64, ArtifactError>;

    /// Drop an upload and its parts. `path` must be the one it was created for.
    async fn abort_multipart(&self, path: &ArtifactPath, upload_id: &str) -> Result<(), ArtifactError>;
}

/// A part the client says it uploaded, as it lists them at completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u32,
    /// The tag [`ArtifactStore::upload_part`] returned.
    pub etag: String,
}
