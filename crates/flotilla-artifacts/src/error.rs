//! The one error type of the artifact crate, and its kind in the shared vocabulary
//! ([`ErrorKind`]) that each protocol's table answers.

use flotilla_core::ErrorKind;

/// Everything an artifact path, URI or store operation can fail with.
///
/// Messages of client-side variants only ever name the *relative* artifact path, never a
/// filesystem path, so they are safe to return to the caller. `Io` is not: its text may
/// describe the server's storage and should only be logged.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("invalid artifact path: {0}")]
    InvalidPath(String),
    #[error("invalid artifact URI: {0}")]
    InvalidUri(String),
    #[error("artifact not found: {0}")]
    NotFound(String),
    #[error("not a file: {0}")]
    NotAFile(String),
    #[error("artifact conflict: {0}")]
    Conflict(String),
    /// The upload body stream failed (client went away, a size limit tripped upstream…).
    /// Kept apart from `Io` because it is the caller's stream, not our disk, that broke.
    #[error("upload body failed: {0}")]
    Body(#[source] std::io::Error),
    #[error("artifact storage failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ArtifactError {
    /// What went wrong: a bad path, URI or body is the caller's mistake
    /// (`InvalidParameter`), a path clash is a `Conflict`, and only the storage
    /// itself failing is `Internal` (its details belong in the log).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArtifactError::InvalidPath(_)
            | ArtifactError::InvalidUri(_)
            | ArtifactError::NotAFile(_)
            | ArtifactError::Body(_) => ErrorKind::InvalidParameter,
            ArtifactError::NotFound(_) => ErrorKind::NotFound,
            ArtifactError::Conflict(_) => ErrorKind::Conflict,
            ArtifactError::Io(_) => ErrorKind::Internal,
        }
    }

    /// True when the caller is at fault, i.e. the answer must be a 4xx, never a 5xx.
    pub fn is_client_error(&self) -> bool {
        self.kind() != ErrorKind::Internal
    }
}

/// Quote untrusted input for an error message: escaped (no raw control characters reach a
/// log line or response) and bounded (a 4 KiB path is not echoed back whole).
pub(crate) fn quote(raw: &str) -> String {
    const MAX_CHARS: usize = 120;
    let mut out = String::with_capacity(raw.len().min(MAX_CHARS) + 8);
    out.push('"');
    for (n, c) in raw.chars().enumerate() {
        if n == MAX_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}
