//! Error kinds shared by every layer, and the one error type of the core.
//!
//! Each protocol (MLflow REST, Open Inference Protocol, the native API) maps an
//! [`ErrorKind`] to its own answer in one table in `flotilla-http`.

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
