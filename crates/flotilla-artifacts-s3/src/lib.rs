//! `S3ArtifactStore`: artifacts as objects in an S3-compatible bucket, through `object_store`.
//!
//! A crate of its own so that `flotilla-artifacts` (and the serving and application crates on
//! it) stay free of any HTTP stack; only the server binary links this one.
//!
//! Layout: `<prefix>/<artifact path>` for artifacts and `<prefix>/.tmp/mpu/<upload id>` for the
//! manifests of multipart uploads in flight (`.tmp` is reserved, as in the local store).
//! Directories are prefixes of stored keys. The store keeps the local store's rules: a file is
//! not written where a directory is, nor below a file (checked before writing; two writers
//! racing past the check can still make both, which S3 cannot prevent without locking).
//!
//! Streaming: downloads are a sequence of ranged GETs of [`RANGE_BYTES`] pinned to the
//! object's ETag (an overwrite midway fails the download rather than mixing two files);
//! uploads go through `object_store`'s buffered writer, one PUT when small and a multipart
//! upload of [`PUT_PART_BYTES`] parts above that, aborted if the body fails or the upload is
//! dropped. Every request has a connect and a total timeout (`open.rs`).

mod multipart;
mod open;
mod transfer;

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::aws::AmazonS3;
use object_store::path::{Path as Key, PathPart};

use flotilla_artifacts::{
    ArtifactError, ArtifactObject, ArtifactPath, ArtifactStore, ByteStream, FileInfo, UploadedPart,
};

/// Size of one ranged GET of a download.
const RANGE_BYTES: u64 = 16 * 1024 * 1024;
/// Part size of an upload; smaller bodies go up in one PUT.
const PUT_PART_BYTES: usize = 8 * 1024 * 1024;
/// The reserved first segment (as in the local store).
const TMP_DIR: &str = ".tmp";

/// Artifact storage in an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3ArtifactStore {
    s3: Arc<AmazonS3>,
    bucket: String,
    prefix: Vec<String>,
}

impl S3ArtifactStore {
    /// Open the store at `s3://bucket/prefix` with the `AWS_*` variables in `vars`
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` for S3-compatible servers, `AWS_ALLOW_HTTP`). Makes no request.
    pub fn open(url: &str, vars: &[(String, String)]) -> Result<Self, ArtifactError> {
        let location = open::parse_url(url)?;
        let s3 = open::builder(&location, vars)?;
        Ok(S3ArtifactStore { s3: Arc::new(s3), bucket: location.bucket, prefix: location.prefix })
    }

    /// The `AWS_*` variables of this process, for [`open`](Self::open).
    pub fn env_vars() -> Vec<(String, String)> {
        std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).collect()
    }

    /// One request to the bucket, so that a wrong bucket, endpoint or credential fails at
    /// start-up with a clear message rather than at the first upload.
    pub async fn check(&self) -> Result<(), ArtifactError> {
        let prefix = Key::from_iter(self.prefix.iter().map(|s| PathPart::from(s.as_str())));
        match self.s3.list(Some(&prefix)).next().await {
            None | Some(Ok(_)) => Ok(()),
            // Even a "not found" here is the bucket's: a missing bucket, not a missing file.
            Some(Err(error)) => {
                tracing::warn!(bucket = %self.bucket, %error, "S3 bucket check failed");
                Err(ArtifactError::Io(std::io::Error::other(format!("S3 bucket {}: {error}", self.bucket))))
            }
        }
    }

    /// The bucket this store writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn key(&self, path: &ArtifactPath) -> Result<Key, ArtifactError> {
        if path.segments().next() == Some(TMP_DIR) {
            return Err(ArtifactError::InvalidPath(format!("{path}: '{TMP_DIR}' is reserved by the artifact store")));
        }
        let parts: Result<Vec<PathPart<'_>>, _> =
            self.prefix.iter().map(String::as_str).chain(path.segments()).map(PathPart::parse).collect();
        let parts = parts.map_err(|e| ArtifactError::InvalidPath(format!("{path}: {e}")))?;
        Ok(Key::from_iter(parts))
    }

    /// A key under the reserved `.tmp` directory (fixed, safe segments only).
    fn reserved_key(&self, rest: &[&str]) -> Key {
        let segments = self.prefix.iter().map(String::as_str).chain([TMP_DIR]).chain(rest.iter().copied());
        Key::from_iter(segments.map(PathPart::from))
    }

    /// The `ArtifactPath` of a listed key, if it is one we could have written.
    fn artifact_path(&self, dir: &ArtifactPath, key: &Key) -> Option<ArtifactPath> {
        let name = key.parts().last()?;
        if dir.is_root() && name.as_ref() == TMP_DIR {
            return None;
        }
        match dir.child(name.as_ref()) {
            Ok(path) => Some(path),
            Err(error) => {
                tracing::warn!(%dir, %error, "skipping object with an unsafe name");
                None
            }
        }
    }

    /// An `object_store` error as an `ArtifactError`: a missing key is the caller's
    /// `NotFound`; anything else (credentials, network, the service) is a server-side failure
    /// naming the bucket, whose details go to the log.
    fn failure(&self, key: &Key, error: object_store::Error) -> ArtifactError {
        if let object_store::Error::NotFound { .. } = error {
            return ArtifactError::NotFound(key.to_string());
        }
        tracing::warn!(bucket = %self.bucket, key = %key, %error, "S3 request failed");
        let denied =
            matches!(error, object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. });
        let what = if denied { "access denied (check the AWS credentials)" } else { "request failed" };
        ArtifactError::Io(std::io::Error::other(format!("S3 bucket {}: {what}: {error}", self.bucket)))
    }

    /// Whether any object lies below `key` (a directory).
    async fn has_children(&self, key: &Key) -> Result<bool, ArtifactError> {
        let mut listing = self.s3.list(Some(key));
        match listing.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.failure(key, e)),
        }
    }

    /// Whether an object is stored at exactly `key`; its size if so.
    async fn file_size(&self, key: &Key) -> Result<Option<u64>, ArtifactError> {
        match self.s3.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failure(key, e)),
        }
    }

    /// Refuse to write `path` where a directory is, or below a file.
    async fn check_writable(&self, path: &ArtifactPath) -> Result<Key, ArtifactError> {
        let key = self.key(path)?;
        let mut ancestors = Vec::new();
        let mut at = path.parent();
        while let Some(parent) = at {
            if parent.is_root() {
                break;
            }
            ancestors.push(self.key(&parent)?);
            at = parent.parent();
        }
        let parents = futures_util::future::try_join_all(ancestors.iter().map(|k| self.file_size(k)));
        let (is_dir, parents) = tokio::try_join!(self.has_children(&key), parents)?;
        if is_dir {
            return Err(ArtifactError::Conflict(format!("cannot write {path}: it is a directory")));
        }
        if parents.iter().any(Option::is_some) {
            return Err(ArtifactError::Conflict(format!("cannot write {path}: a parent is a file")));
        }
        Ok(key)
    }
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn put(&self, path: &ArtifactPath, body: ByteStream) -> Result<u64, ArtifactError> {
        let key = self.check_writable(path).await?;
        transfer::upload(self, key, body).await
    }

    async fn get(&self, path: &ArtifactPath) -> Result<ArtifactObject, ArtifactError> {
        let key = self.key(path)?;
        match self.s3.head(&key).await {
            Ok(meta) => Ok(transfer::download(self, key, meta)),
            Err(object_store::Error::NotFound { .. }) => {
                if self.has_children(&key).await? {
                    Err(ArtifactError::NotAFile(path.to_string()))
                } else {
                    Err(ArtifactError::NotFound(path.to_string()))
                }
            }
            Err(e) => Err(self.failure(&key, e)),
        }
    }

    async fn list(&self, dir: &ArtifactPath) -> Result<Vec<FileInfo>, ArtifactError> {
        let key = self.key(dir)?;
        let prefix = (!key.as_ref().is_empty()).then_some(&key);
        // `list_with_delimiter` follows continuation tokens page by page (1000 keys each).
        let listing = self.s3.list_with_delimiter(prefix).await.map_err(|e| self.failure(&key, e))?;
        let mut infos: Vec<FileInfo> = Vec::new();
        for common in &listing.common_prefixes {
            if let Some(path) = self.artifact_path(dir, common) {
                infos.push(FileInfo { path, is_dir: true, size: None });
            }
        }
        for object in &listing.objects {
            if let Some(path) = self.artifact_path(dir, &object.location) {
                infos.push(FileInfo { path, is_dir: false, size: Some(object.size) });
            }
        }
        if infos.is_empty()
            && !dir.is_root()
            && let Some(size) = self.file_size(&key).await?
        {
            return Ok(vec![FileInfo { path: dir.clone(), is_dir: false, size: Some(size) }]);
        }
        infos.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(infos)
    }

    async fn delete(&self, path: &ArtifactPath) -> Result<(), ArtifactError> {
        if path.is_root() {
            return Err(ArtifactError::InvalidPath("refusing to delete the artifact root".to_owned()));
        }
        let key = self.key(path)?;
        let mut deleted = false;
        if self.file_size(&key).await?.is_some() {
            match self.s3.delete(&key).await {
                Ok(()) => deleted = true,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.failure(&key, e)),
            }
        }
        // A directory: every key below it, deleted in batches as the listing pages in.
        let below = self.s3.list(Some(&key)).map_ok(|meta| meta.location).boxed();
        let mut results = self.s3.delete_stream(below);
        while let Some(result) = results.next().await {
            match result {
                Ok(_) => deleted = true,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.failure(&key, e)),
            }
        }
        if deleted { Ok(()) } else { Err(ArtifactError::NotFound(path.to_string())) }
    }

    async fn exists(&self, path: &ArtifactPath) -> Result<bool, ArtifactError> {
        let key = self.key(path)?;
        if path.is_root() {
            return self.has_children(&key).await;
        }
        Ok(self.file_size(&key).await?.is_some() || self.has_children(&key).await?)
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
