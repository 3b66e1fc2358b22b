//! What every store's multipart upload shares: the limits, the upload id, the small manifest
//! a store keeps per upload (which path it is for, the backend's own id, when it started), and
//! the checks on the part list a client sends at completion.
//!
//! An upload id is 128 random bits in hex. It is a capability: MLflow's client sends parts to
//! the URLs `create` returned without credentials (as to a presigned S3 URL), so the id must
//! be unguessable, and it expires after [`UPLOAD_LIFETIME`].
//!
//! Public for store backends in other crates (`flotilla-artifacts-s3`); callers of a store
//! need only the limits.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;

use crate::error::{ArtifactError, quote};
use crate::path::ArtifactPath;
use crate::store::{ByteStream, UploadedPart};

/// Most parts in one upload (S3's limit).
pub const MAX_PARTS: u32 = 10_000;
/// Largest part accepted. MLflow's client sends 10 MiB parts by default; the S3 store holds
/// one part in memory while it sends it on, so this bounds that memory per part in flight.
pub const MAX_PART_BYTES: u64 = 128 * 1024 * 1024;
/// Length of an upload id (hex characters).
pub const UPLOAD_ID_CHARS: usize = 32;
/// An upload not completed within this long is gone (its parts may be collected).
pub const UPLOAD_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

const MANIFEST_MAGIC: &str = "flotilla-mpu v1";

/// A new random upload id.
pub fn new_upload_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Refuse anything but the shape of an id we issued (it becomes a file or key name).
pub fn check_upload_id(id: &str) -> Result<(), ArtifactError> {
    if id.len() == UPLOAD_ID_CHARS && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ArtifactError::NotFound(format!("multipart upload {}", quote(id))))
    }
}

/// Refuse a part number outside 1..=[`MAX_PARTS`].
pub fn check_part_number(part_number: u32) -> Result<(), ArtifactError> {
    if (1..=MAX_PARTS).contains(&part_number) {
        Ok(())
    } else {
        Err(ArtifactError::InvalidPath(format!("part number {part_number} is not between 1 and {MAX_PARTS}")))
    }
}

/// What a store records about an upload in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub path: ArtifactPath,
    /// The backend's own upload id (S3's), empty when the backend has none.
    pub backend_id: String,
    pub created_ms: u64,
}

impl Manifest {
    pub fn new(path: ArtifactPath, backend_id: String) -> Self {
        Manifest { path, backend_id, created_ms: now_ms() }
    }

    pub fn encode(&self) -> String {
        format!("{MANIFEST_MAGIC}\n{}\n{}\n{}", self.created_ms, self.backend_id, self.path)
    }

    /// Decode a stored manifest; a damaged one is an I/O failure (we wrote it).
    pub fn decode(text: &str) -> Result<Self, ArtifactError> {
        let damaged = || ArtifactError::Io(std::io::Error::other("damaged multipart upload manifest"));
        let mut lines = text.splitn(4, '\n');
        if lines.next() != Some(MANIFEST_MAGIC) {
            return Err(damaged());
        }
        let created_ms = lines.next().and_then(|l| l.parse().ok()).ok_or_else(damaged)?;
        let backend_id = lines.next().ok_or_else(damaged)?.to_owned();
        let path = ArtifactPath::parse(lines.next().ok_or_else(damaged)?).map_err(|_| damaged())?;
        Ok(Manifest { path, backend_id, created_ms })
    }

    /// The manifest, if it is still alive and (when given) for `path`; otherwise `NotFound`.
    pub fn check(self, id: &str, path: Option<&ArtifactPath>) -> Result<Self, ArtifactError> {
        let expired = now_ms().saturating_sub(self.created_ms) > UPLOAD_LIFETIME.as_millis() as u64;
        if expired || path.is_some_and(|p| *p != self.path) {
            return Err(ArtifactError::NotFound(format!("multipart upload {}", quote(id))));
        }
        Ok(self)
    }
}

/// Check a completion's part list: numbered 1..=n in order, n at least 1.
pub fn check_parts(parts: &[UploadedPart]) -> Result<(), ArtifactError> {
    if parts.is_empty() || parts.len() > MAX_PARTS as usize {
        return Err(ArtifactError::InvalidPath(format!(
            "a multipart upload completes with 1 to {MAX_PARTS} parts, not {}",
            parts.len()
        )));
    }
    for (index, part) in parts.iter().enumerate() {
        if part.part_number as usize != index + 1 {
            return Err(ArtifactError::InvalidPath(format!(
                "parts must be numbered 1 to {} in order; found part {} at position {}",
                parts.len(),
                part.part_number,
                index + 1
            )));
        }
    }
    Ok(())
}

/// Read a part body into memory, refusing it once it passes [`MAX_PART_BYTES`].
pub async fn collect_part(mut body: ByteStream) -> Result<Vec<Bytes>, ArtifactError> {
    let mut chunks = Vec::new();
    let mut total: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(ArtifactError::Body)?;
        total += chunk.len() as u64;
        if total > MAX_PART_BYTES {
            return Err(part_too_large());
        }
        chunks.push(chunk);
    }
    Ok(chunks)
}

pub fn part_too_large() -> ArtifactError {
    ArtifactError::Body(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("a part may hold at most {MAX_PART_BYTES} bytes"),
    ))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_refuse_damage() {
        let manifest = Manifest::new(ArtifactPath::parse("1/run/artifacts/big file.bin").unwrap(), "abc/def".into());
        assert_eq!(Manifest::decode(&manifest.encode()).unwrap(), manifest);
        for bad in
            ["", "flotilla-mpu v0\n1\nx\na", "flotilla-mpu v1\nnot-a-number\nx\na", "flotilla-mpu v1\n1\nx\n../etc"]
        {
            assert!(Manifest::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_parts_and_numbers_are_checked() {
        assert!(check_upload_id(&new_upload_id()).is_ok());
        for bad in ["", "../../x", "ABCDEF0123456789abcdef0123456789", &"a".repeat(33)] {
            assert!(check_upload_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_part_number(0).is_err() && check_part_number(MAX_PARTS + 1).is_err());
        let part = |n| UploadedPart { part_number: n, etag: String::new() };
        assert!(check_parts(&[part(1), part(2)]).is_ok());
        assert!(check_parts(&[]).is_err());
        assert!(check_parts(&[part(2), part(1)]).is_err());
        assert!(check_parts(&[part(1), part(3)]).is_err());
    }
}
