//! UI session cookies at the edge (`--auth basic`): a request without an
//! `Authorization` header may prove its caller with the session cookie the
//! login page set (`flotilla_web`'s `/login`), on UI pages and on the JSON
//! routes alike.
//!
//! - A request the cookie authenticates that may change state (any method
//!   but GET, HEAD and OPTIONS) must carry the session's CSRF token, in an
//!   `x-csrf-token` header or, for a form, its `csrf` field; else a 403 in
//!   the route's protocol. A request with `Authorization` needs none: a
//!   browser does not attach it on its own.
//! - A page request without a valid session is sent to `/login?next=<path>`;
//!   the other routes keep their 401.
//! - The login page and the static files it needs are served to anyone.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flotilla_app::auth::{Authenticator, Caller, SESSION_COOKIE, UiSession};
use flotilla_core::{Error, ErrorKind};

use crate::auth::{Surface, refuse};

/// The header that carries the CSRF token of a script's request.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// A form is read for its `csrf` field up to this size; past it the token
/// must come in the header.
const FORM_LIMIT: usize = 64 * 1024;

/// The UI's own pages that need no caller: the login form and the static
/// files it is drawn with. Matched exactly, or as the static directory.
pub(crate) fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/favicon.ico") || path.starts_with("/static/")
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    flotilla_app::auth::cookie_value(headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()), name)
        .map(str::to_string)
}

fn is_safe(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD || method == Method::OPTIONS
}

/// Authenticates a request that has no `Authorization` header by its
/// session cookie, or refuses it.
pub(crate) async fn by_cookie(auth: &Authenticator, surface: Surface, request: Request, next: Next) -> Response {
    let Some(secret) = cookie(request.headers(), SESSION_COOKIE) else {
        return unauthenticated(surface, &request);
    };
    let session = match auth.session(&secret).await {
        Ok(session) => session,
        Err(e) if e.kind == ErrorKind::Unauthenticated => {
            // An ended session: forget its cookie too.
            let mut response = unauthenticated(surface, &request);
            if let Ok(clear) = HeaderValue::from_str(&flotilla_app::auth::clear_cookie(auth.secure_cookies())) {
                response.headers_mut().append(header::SET_COOKIE, clear);
            }
            return response;
        }
        Err(e) => return refuse(surface, e, false),
    };
    let mut request = if is_safe(request.method()) {
        request
    } else {
        match with_csrf_checked(request, &session).await {
            Ok(request) => request,
            Err(message) => {
                tracing::info!(user = %session.caller.username, "a session's request without its CSRF token refused");
                return refuse(surface, Error::permission_denied(message), false);
            }
        }
    };
    request.extensions_mut().insert::<Caller>(session.caller.clone());
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// The request, if it carries the session's CSRF token (a form's body is
/// read for its field and put back).
async fn with_csrf_checked(request: Request, session: &UiSession) -> Result<Request, &'static str> {
    const MISSING: &str = "Permission denied: this request lacks the session's CSRF token (send the x-csrf-token \
                           header, or the form's csrf field); reload the page and try again";
    if let Some(sent) = request.headers().get(CSRF_HEADER) {
        let sent = sent.to_str().unwrap_or("");
        return if session.csrf_matches(sent) { Ok(request) } else { Err(MISSING) };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(MISSING);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| MISSING)?;
    let sent = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
    if !sent.is_some_and(|s| session.csrf_matches(&s)) {
        return Err(MISSING);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// No valid credential: a page request goes to the login page (back here
/// afterwards when it was a GET), anything else gets the protocol's 401.
fn unauthenticated(surface: Surface, request: &Request) -> Response {
    match surface {
        Surface::Page => {
            let location = if request.method() == Method::GET || request.method() == Method::HEAD {
                let here = request.uri().path_and_query().map_or("/", |p| p.as_str());
                let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
                format!("/login?next={next}")
            } else {
                "/login".to_string()
            };
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Surface::Mlflow | Surface::V2 => refuse(surface, Caller::unauthenticated(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; flotilla_session_x=2"));
        h.append(header::COOKIE, HeaderValue::from_static("flotilla_session=abc ; b=3"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn only_the_login_page_and_its_files_are_public() {
        for (path, public) in [
            ("/login", true),
            ("/static/app.css", true),
            ("/favicon.ico", true),
            ("/login/x", false),
            ("/logout", false),
            ("/models", false),
            ("/", false),
        ] {
            assert_eq!(is_public(path), public, "{path}");
        }
    }
}
