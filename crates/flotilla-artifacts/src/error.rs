//! The one error type of the artifact crate and the kinds a protocol maps to a status.

/// What went wrong, coarse enough for a protocol table (MLflow `error_code`, V2, native API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactErrorKind {
    /// The caller sent a bad path, URI or body (a client mistake: 4xx).
    InvalidArgument,
    /// Nothing is stored at that path (404).
    NotFound,
    /// The path clashes with what is stored: a directory where a file should go,
    /// or a file where a directory should be (409 or 400, the HTTP layer decides).
    Conflict,
    /// The storage itself failed; the details belong in the log, not the response (5xx).
    Internal,
}

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
    pub fn kind(&self) -> ArtifactErrorKind {
        match self {
            ArtifactError::InvalidPath(_)
            | ArtifactError::InvalidUri(_)
            | ArtifactError::NotAFile(_)
            | ArtifactError::Body(_) => ArtifactErrorKind::InvalidArgument,
            ArtifactError::NotFound(_) => ArtifactErrorKind::NotFound,
            ArtifactError::Conflict(_) => ArtifactErrorKind::Conflict,
            ArtifactError::Io(_) => ArtifactErrorKind::Internal,
        }
    }

    /// True when the caller is at fault, i.e. the answer must be a 4xx, never a 5xx.
    pub fn is_client_error(&self) -> bool {
        match self.kind() {
            ArtifactErrorKind::InvalidArgument | ArtifactErrorKind::NotFound | ArtifactErrorKind::Conflict => true,
            ArtifactErrorKind::Internal => false,
        }
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
