//! The web UI's error page, and the one table from error kinds to the page
//! answered ([`page_answer`]): its status and title.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flotilla_core::{Error, ErrorKind};
use maud::{Markup, html};

use crate::layout::{Section, shell};

/// The status and title of the page for each error kind. The statuses are
/// the MLflow API's, so a page and the API call behind it answer alike.
pub fn page_answer(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "Not found"),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "Sign in required"),
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "Forbidden"),
        ErrorKind::InvalidParameter
        | ErrorKind::AlreadyExists
        | ErrorKind::InvalidState
        | ErrorKind::Conflict
        | ErrorKind::Unservable
        | ErrorKind::Interrupted => (StatusCode::BAD_REQUEST, "Bad request"),
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Bad request"),
        ErrorKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, "Server busy"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Server error"),
    }
}

/// A page that could not be shown: what went wrong and a message for the reader.
pub struct PageError {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        Self { kind: e.kind, message: e.message }
    }
}

impl PageError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::InvalidParameter, message: message.into() }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::PermissionDenied, message: message.into() }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title) = page_answer(self.kind);
        let body = shell(
            title,
            Section::Fleet,
            &[],
            html! {
                h1 { (title) }
                p.error { (self.message) }
                p { a href="/" { "Back to the fleet" } }
            },
        );
        (status, body).into_response()
    }
}

pub type PageResult<T = Markup> = Result<T, PageError>;
