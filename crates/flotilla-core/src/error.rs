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
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
