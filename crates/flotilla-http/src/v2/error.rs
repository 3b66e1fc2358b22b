//! The Open Inference Protocol's error answer, `{"error": "..."}`, and the
//! one table from serving errors to statuses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_serving::ServingError;

#[derive(Debug)]
pub struct V2Error {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u32>,
}

impl V2Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), retry_after: None }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: message.into(), retry_after: None }
    }
}

impl From<ServingError> for V2Error {
    fn from(e: ServingError) -> Self {
        let (status, retry_after) = match &e {
            ServingError::NotFound(_) => (StatusCode::NOT_FOUND, None),
            ServingError::BadRequest(_) | ServingError::Unservable(_) => (StatusCode::BAD_REQUEST, None),
            ServingError::TooLarge { .. } => (StatusCode::INSUFFICIENT_STORAGE, None),
            ServingError::OverBudget => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
            ServingError::Store(_) | ServingError::Artifacts(_) | ServingError::Internal(_) => {
                tracing::error!(error = %e, "serving failure");
                return Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "internal error; see the server log".into(),
                    retry_after: None,
                };
            }
        };
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
