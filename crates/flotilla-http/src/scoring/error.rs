//! MLflow's scoring-server error answer, `{"error_code": ..., "message": ...}`
//! (`MlflowException.serialize_as_json`), and the one table from error kinds
//! to its statuses and codes ([`scoring_answer`]). Content-type refusals are
//! 415 with a plain-text body, as the scoring server answers them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_core::ErrorKind;
use flotilla_serving::ServingError;

#[derive(Debug)]
pub struct ScoringError {
    pub status: StatusCode,
    pub error_code: &'static str,
    pub message: String,
    pub retry_after: Option<u32>,
    /// Answered as `text/plain` (the scoring server's content-type refusals).
    pub plain: bool,
}

/// The status and `error_code` for each kind. Input the model cannot take
/// is `BAD_REQUEST`, as the scoring server raises it
/// (`MlflowInvalidInputException`); the rest follows the V2 table's statuses.
pub fn scoring_answer(kind: ErrorKind) -> (StatusCode, &'static str, Option<u32>) {
    match kind {
        ErrorKind::InvalidParameter | ErrorKind::Unservable | ErrorKind::InvalidState | ErrorKind::Conflict => {
            (StatusCode::BAD_REQUEST, "BAD_REQUEST", None)
        }
        ErrorKind::AlreadyExists => (StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", None),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", None),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", None),
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED", None),
        ErrorKind::TooLarge => (StatusCode::INSUFFICIENT_STORAGE, "RESOURCE_EXHAUSTED", None),
        ErrorKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE", Some(1)),
        ErrorKind::Interrupted | ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", None),
    }
}

impl ScoringError {
    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (status, error_code, retry_after) = scoring_answer(kind);
        Self { status, error_code, message: message.into(), retry_after, plain: false }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::InvalidParameter, message)
    }

    /// A content type the scoring server does not read (415, plain text).
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error_code: "BAD_REQUEST",
            message: message.into(),
            retry_after: None,
            plain: true,
        }
    }
}

impl From<ServingError> for ScoringError {
    fn from(e: ServingError) -> Self {
        let kind = e.kind();
        if kind == ErrorKind::Internal {
            tracing::error!(error = %e, "serving failure");
            return Self::of(kind, "internal error; see the server log");
        }
        Self::of(kind, e.to_string())
    }
}

impl From<flotilla_core::Error> for ScoringError {
    fn from(e: flotilla_core::Error) -> Self {
        if e.kind == ErrorKind::Internal {
            tracing::error!(error = %e.message, "internal error");
            return Self::of(e.kind, flotilla_app::error::INTERNAL_MESSAGE);
        }
        Self::of(e.kind, e.message)
    }
}

impl IntoResponse for ScoringError {
    fn into_response(self) -> Response {
        let mut response = if self.plain {
            (self.status, [(header::CONTENT_TYPE, "text/plain")], self.message).into_response()
        } else {
            let body = serde_json::json!({ "error_code": self.error_code, "message": self.message });
            (self.status, axum::Json(body)).into_response()
        };
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
