//! The one error vocabulary every layer speaks, and the one error type of the core.
//!
//! Each crate keeps its own error type (`StoreError`, `ArtifactError`,
//! `ServingError`, ...) but says what went wrong as an [`ErrorKind`]. Each
//! protocol answers a kind from one table, one exhaustive `match` in one file:
//! MLflow's `error_code` and status (`flotilla-http/src/error.rs`), the Open
//! Inference Protocol's status (`flotilla-http/src/v2/error.rs`), the web UI's
//! page (`flotilla-web/src/error.rs`) and the CLI's exit code
//! (`flotilla/src/exit_code.rs`). A new kind is a compile error in each.

/// What went wrong, in terms a protocol can answer with a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or a value is out of range (a client mistake).
    InvalidParameter,
    /// The named resource does not exist.
    NotFound,
    /// A resource with that identity already exists.
    AlreadyExists,
    /// The request conflicts with the current state (e.g. a deleted run).
    InvalidState,
    /// The request clashes with what is stored: a directory where a file
    /// should go, or a file where a directory should be.
    Conflict,
    /// The request carries no valid credentials (authentication is on).
    Unauthenticated,
    /// The caller may not do this (a wrong `Host`, a missing CSRF token).
    PermissionDenied,
    /// The model exists but cannot be served: an unsupported flavor, missing
    /// or malformed files. Retrying does not help.
    Unservable,
    /// The model alone is larger than the whole model memory budget.
    /// Retrying does not help.
    TooLarge,
    /// The server is busy with other work (the model memory budget is full of
    /// models in use); the same request may succeed shortly.
    Busy,
    /// The work was stopped before its end: it ran past the request's time
    /// budget, or its client went away. Nothing was written.
    Interrupted,
    /// The server failed; details are logged, not returned.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::InvalidParameter,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::InvalidState,
        ErrorKind::Conflict,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::Unservable,
        ErrorKind::TooLarge,
        ErrorKind::Busy,
        ErrorKind::Interrupted,
        ErrorKind::Internal,
    ];

    /// The kind's stable name, as flotilla's own clients read it from an
    /// answer (several kinds share one MLflow `error_code`).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidParameter => "invalid_parameter",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unservable => "unservable",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Busy => "busy",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind a [`Self::name`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A domain error: a kind and a message meant for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidState, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn every_kind_is_found_by_its_own_name_and_names_are_distinct() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(kind.name()), Some(kind));
        }
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert_eq!(ErrorKind::from_name("nonsense"), None);
    }
}
