//! The one table from error kinds to MLflow's wire answer (`error_code` and
//! HTTP status), and the error type every MLflow handler returns.
//!
//! Every error reaches [`ApiError`] as the one vocabulary,
//! [`flotilla_core::Error`] (store and artifact failures through
//! `flotilla_app::error`, which says what of them a client may see), and is
//! answered from its [`ErrorKind`] by [`mlflow_answer`]. A client mistake is never a 5xx:
//! MLflow's client retries 5xx for minutes. A 500 says little and the details
//! go to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flotilla_artifacts::ArtifactError;
use flotilla_core::{Error, ErrorKind};

/// An error answered in MLflow's shape: `{"error_code": ..., "message": ...}`.
///
/// `kind` is what went wrong in the shared vocabulary (other tables, such as
/// the web UI's page, read it); `status` and `code` are MLflow's answer, from
/// [`mlflow_answer`] except for the HTTP layer's own few (see [`ApiError::new`]).
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// MLflow's answer for `kind`, from the table.
    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (status, code) = mlflow_answer(kind);
        Self { kind, status, code, message: message.into() }
    }
    /// An answer outside the table: MLflow's own codes for a malformed body
    /// (`BAD_REQUEST`), a wrong method (405) or an unknown endpoint.
    pub fn new(kind: ErrorKind, status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { kind, status, code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::InvalidParameter, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::NotFound, message)
    }
    pub fn endpoint_not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", message)
    }
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::PermissionDenied, message)
    }
    pub fn internal() -> Self {
        Self::of(ErrorKind::Internal, flotilla_app::error::INTERNAL_MESSAGE)
    }
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!("Missing value for required parameter '{field}'."))
    }
}

/// MLflow's answer for each error kind (`mlflow/exceptions.py`).
pub fn mlflow_answer(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::InvalidParameter => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
        // A quirk kept for compatibility: MLflow answers 400, not 409.
        ErrorKind::AlreadyExists => (StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS"),
        ErrorKind::InvalidState => (StatusCode::BAD_REQUEST, "INVALID_STATE"),
        // An artifact path clash: the client named the wrong path.
        ErrorKind::Conflict => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        // Serving's kinds; no MLflow endpoint answers them today. 4xx, as a
        // retry would not help, except `Busy`, which asks for one.
        ErrorKind::Unservable => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "RESOURCE_EXHAUSTED"),
        ErrorKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE"),
        // A 4xx: the mlflow client retries 5xx (and 504), which would only
        // run the same slow query again.
        ErrorKind::Interrupted => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        if e.kind == ErrorKind::Internal {
            tracing::error!(error = %e.message, "internal error");
            return Self::internal();
        }
        Self::of(e.kind, e.message)
    }
}

impl From<ArtifactError> for ApiError {
    fn from(e: ArtifactError) -> Self {
        // Already told apart (and logged) there: keep its kind and message.
        let e = flotilla_app::error::from_artifact(e);
        Self::of(e.kind, e.message)
    }
}

/// The header naming the answer's [`ErrorKind`] for flotilla's own clients
/// (the CLI's `--server` mode): several kinds share one MLflow `error_code`,
/// and the body keeps MLflow's exact shape.
pub const ERROR_KIND_HEADER: &str = "x-flotilla-error-kind";

/// MLflow 3.x's classification of an `error_code`: `(sqlstate, error_class)`, the two fields
/// its server adds to every error body (`mlflow/error_classification.py`, the client-side
/// tables); `None` for the codes those tables leave out, whose bodies carry neither.
pub fn mlflow_classification(code: &str) -> Option<(&'static str, &'static str)> {
    const INVALID: &str = "KAM00";
    const INTERNAL: &str = "XXM00";
    Some(match code {
        "BAD_REQUEST" | "INVALID_PARAMETER_VALUE" => (INVALID, "INVALID_PARAMETER_VALUE"),
        "CUSTOMER_UNAUTHORIZED" | "PERMISSION_DENIED" => (INVALID, "PERMISSION_DENIED"),
        "ENDPOINT_NOT_FOUND" | "NOT_FOUND" | "RESOURCE_DOES_NOT_EXIST" => (INVALID, "RESOURCE_NOT_FOUND"),
        "FEATURE_DISABLED" => (INVALID, "FEATURE_DISABLED"),
        "RESOURCE_ALREADY_EXISTS" => (INVALID, "RESOURCE_ALREADY_EXISTS"),
        "INTERNAL_ERROR" | "INVALID_STATE" | "TEMPORARILY_UNAVAILABLE" => (INTERNAL, "CLIENT_INTERNAL_ERROR"),
        _ => return None,
    })
}

/// MLflow's error body: `error_code` and `message`, then `sqlstate` and `error_class` where
/// MLflow 3.x has them for the code.
pub fn mlflow_error_body(code: &str, message: &str) -> serde_json::Value {
    let mut body = serde_json::json!({ "error_code": code, "message": message });
    if let Some((sqlstate, error_class)) = mlflow_classification(code) {
        body["sqlstate"] = sqlstate.into();
        body["error_class"] = error_class.into();
    }
    body
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = mlflow_error_body(self.code, &self.message);
        (self.status, [(ERROR_KIND_HEADER, self.kind.name())], axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_and_budget_errors_keep_their_mlflow_answers() {
        let answer = |e: ApiError| (e.status.as_u16(), e.code);
        assert_eq!(answer(ArtifactError::Conflict("a".into()).into()), (400, "INVALID_PARAMETER_VALUE"));
        assert_eq!(answer(ArtifactError::NotFound("a".into()).into()), (404, "RESOURCE_DOES_NOT_EXIST"));
        assert_eq!(answer(ArtifactError::InvalidPath("..".into()).into()), (400, "INVALID_PARAMETER_VALUE"));
        assert_eq!(answer(ArtifactError::Io(std::io::Error::other("disk")).into()), (500, "INTERNAL_ERROR"));
        assert_eq!(answer(Error::interrupted("slow").into()), (400, "BAD_REQUEST"));
        assert_eq!(answer(ApiError::permission_denied("host")), (403, "PERMISSION_DENIED"));
    }

    #[test]
    fn error_bodies_carry_mlflow_3_classification() {
        // (code, sqlstate, error_class) as MLflow 3.17.2's server answers them
        let table = [
            ("INVALID_PARAMETER_VALUE", Some(("KAM00", "INVALID_PARAMETER_VALUE"))),
            ("BAD_REQUEST", Some(("KAM00", "INVALID_PARAMETER_VALUE"))),
            ("RESOURCE_DOES_NOT_EXIST", Some(("KAM00", "RESOURCE_NOT_FOUND"))),
            ("RESOURCE_ALREADY_EXISTS", Some(("KAM00", "RESOURCE_ALREADY_EXISTS"))),
            ("INTERNAL_ERROR", Some(("XXM00", "CLIENT_INTERNAL_ERROR"))),
            ("UNAUTHENTICATED", None),
        ];
        for (code, want) in table {
            let body = mlflow_error_body(code, "m");
            let got = body.get("sqlstate").map(|s| (s.as_str().unwrap(), body["error_class"].as_str().unwrap()));
            assert_eq!(got, want, "{code}");
        }
    }

    #[test]
    fn every_answer_names_its_kind_in_a_header() {
        for kind in ErrorKind::ALL {
            let response = ApiError::of(kind, "m").into_response();
            let header = response.headers().get(ERROR_KIND_HEADER).and_then(|v| v.to_str().ok());
            assert_eq!(header, Some(kind.name()), "{kind:?}");
        }
    }
}
