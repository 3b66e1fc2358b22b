//! The one table from error kinds to MLflow's wire answer (`error_code` and
//! HTTP status), and the error type every MLflow handler returns.
//!
//! A client mistake is never a 5xx: MLflow's client retries 5xx for minutes.
//! A 500 says little and the details go to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flotilla_artifacts::{ArtifactError, ArtifactErrorKind};
use flotilla_core::{Error, ErrorKind};
use flotilla_store::StoreError;

/// An error answered in MLflow's shape: `{"error_code": ..., "message": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }
    pub fn endpoint_not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error; see the server log")
    }
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!("Missing value for required parameter '{field}'."))
    }
}

/// MLflow's answer for each error kind (`mlflow/exceptions.py`).
fn mlflow_answer(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::InvalidParameter => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
        ErrorKind::AlreadyExists => (StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS"),
        ErrorKind::InvalidState => (StatusCode::BAD_REQUEST, "INVALID_STATE"),
        // A 4xx: the mlflow client retries 5xx (and 504), which would only
        // run the same slow query again.
        ErrorKind::Interrupted => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = mlflow_answer(e.kind);
        if e.kind == ErrorKind::Internal {
            tracing::error!(error = %e.message, "internal error");
            return Self::internal();
        }
        Self::new(status, code, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(e) => e.into(),
            StoreError::Database(_) if e.kind() == ErrorKind::Interrupted => {
                Error::interrupted("the query was stopped: it ran past the request's time budget").into()
            }
            StoreError::Database(_) | StoreError::Migration { .. } => {
                tracing::error!(error = %e, "store failure");
                Self::internal()
            }
        }
    }
}

impl From<ArtifactError> for ApiError {
    fn from(e: ArtifactError) -> Self {
        let (status, code) = match e.kind() {
            ArtifactErrorKind::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            ArtifactErrorKind::NotFound => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
            ArtifactErrorKind::Conflict => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            ArtifactErrorKind::Internal => {
                tracing::error!(error = %e, "artifact storage failure");
                return Self::internal();
            }
        };
        Self::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error_code": self.code, "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
