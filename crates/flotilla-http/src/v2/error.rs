//! The Open Inference Protocol's error answer, `{"error": "..."}`, and the
//! one table from error kinds to its statuses ([`v2_answer`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_core::ErrorKind;
use flotilla_serving::ServingError;

#[derive(Debug)]
pub struct V2Error {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u32>,
}

impl V2Error {
    /// The answer the table gives `kind`.
    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (status, retry_after) = v2_answer(kind);
        Self { status, message: message.into(), retry_after }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::InvalidParameter, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::NotFound, message)
    }
}

/// The V2 status for each error kind, and the `Retry-After` seconds that go
/// with it. A model too large for the whole budget is 507 (no retry helps); a
/// budget full of models in use is 503 with `Retry-After`.
pub fn v2_answer(kind: ErrorKind) -> (StatusCode, Option<u32>) {
    match kind {
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, None),
        ErrorKind::InvalidParameter
        | ErrorKind::Unservable
        | ErrorKind::AlreadyExists
        | ErrorKind::InvalidState
        | ErrorKind::Conflict => (StatusCode::BAD_REQUEST, None),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, None),
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, None),
        ErrorKind::TooLarge => (StatusCode::INSUFFICIENT_STORAGE, None),
        ErrorKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
        ErrorKind::Interrupted | ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, None),
    }
}

/// An error of the shared vocabulary (a store call's, through
/// `AppState::call`), answered from the table; an internal one says little
/// and goes to the log.
impl From<flotilla_core::Error> for V2Error {
    fn from(e: flotilla_core::Error) -> Self {
        if e.kind == ErrorKind::Internal {
            tracing::error!(error = %e.message, "internal error");
            return Self::of(e.kind, flotilla_app::error::INTERNAL_MESSAGE);
        }
        Self::of(e.kind, e.message)
    }
}

impl From<ServingError> for V2Error {
    fn from(e: ServingError) -> Self {
        let kind = e.kind();
        let (status, retry_after) = v2_answer(kind);
        if kind == ErrorKind::Internal {
            tracing::error!(error = %e, "serving failure");
            return Self { status, message: "internal error; see the server log".into(), retry_after };
        }
        Self { status, message: e.to_string(), retry_after }
    }
}

impl From<flotilla_infer::InferError> for V2Error {
    fn from(e: flotilla_infer::InferError) -> Self {
        ServingError::from(e).into()
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(serde_json::json!({ "error": self.message }))).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_errors_answer_their_v2_status() {
        let cases = [
            (ServingError::NotFound("m".into()), 404, None),
            (ServingError::BadRequest("shape".into()), 400, None),
            (ServingError::Unservable("flavor".into()), 400, None),
            (ServingError::TooLarge { model: "m/1".into(), needed: 9, budget: 8 }, 507, None),
            (ServingError::OverBudget, 503, Some(1)),
            (ServingError::Internal("io".into()), 500, None),
        ];
        for (error, status, retry_after) in cases {
            let what = error.to_string();
            let answer = V2Error::from(error);
            assert_eq!((answer.status.as_u16(), answer.retry_after), (status, retry_after), "{what}");
        }
    }
}
