//! Authentication at the edge (`--auth basic`): reads the `Authorization`
//! header, asks `flotilla_app::auth` who it proves, and hands the [`Caller`]
//! to handlers as a request extension; no handler reads credentials.
//!
//! Every route needs a caller except the probes ([`OPEN`]). A missing or
//! wrong credential is a 401 in the shape of the route's protocol (MLflow's
//! `UNAUTHENTICATED`, V2's `{"error"}`, an HTML page for the UI) with a
//! `WWW-Authenticate` challenge; a read-only token is refused on writes with
//! 403 `PERMISSION_DENIED`. Without an `Authorization` header, the UI's
//! session cookie is the credential (`session.rs`: CSRF, the login page).
//! Per-resource permissions are `permissions/`, a route layer that runs
//! after this one.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use flotilla_app::AppState;
use flotilla_app::auth::{Authenticator, Caller, Credentials, TokenScope};
use flotilla_core::{Error, ErrorKind};

use crate::error::ApiError;
use crate::v2::error::V2Error;

/// Routes answered without credentials: health probes and the server-info
/// document MLflow 3 also leaves open. Matched exactly, never by prefix.
const OPEN: &[&str] = &[
    "/health",
    "/ping",
    "/v2/health/live",
    "/v2/health/ready",
    "/api/3.0/mlflow/server-info",
    "/ajax-api/3.0/mlflow/server-info",
];

/// A multipart upload's part (`PUT .../mlflow-artifacts/mpu/part/{upload_id}/{n}`): sent
/// without credentials to the URL `create` handed out, the upload id being the capability
/// (`artifact_mpu.rs`). Only that exact shape is let through.
fn is_upload_part(method: &Method, path: &str) -> bool {
    let Some(rest) = ["/api/2.0", "/api/3.0", "/ajax-api/2.0"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix)?.strip_prefix("/mlflow-artifacts/mpu/part/"))
    else {
        return false;
    };
    let Some((id, number)) = rest.split_once('/') else {
        return false;
    };
    method == Method::PUT
        && id.len() == flotilla_artifacts::multipart::UPLOAD_ID_CHARS
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && !number.is_empty()
        && number.len() <= 5
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Searches sent as POST that only read: a read-only token may call them.
const READ_ONLY_POSTS: &[&str] = &["/mlflow/experiments/search", "/mlflow/runs/search", "/mlflow/logged-models/search"];

/// The protocol a path speaks, for the shape of a refusal.
#[derive(Clone, Copy)]
pub(crate) enum Surface {
    Mlflow,
    V2,
    Page,
}

impl Surface {
    fn of(path: &str) -> Self {
        if path == "/v2" || path.starts_with("/v2/") {
            Self::V2
        } else if path == "/"
            || [
                "/models",
                "/families",
                "/experiments",
                "/runs/",
                "/audit",
                "/static/",
                "/favicon.ico",
                "/login",
                "/logout",
            ]
            .iter()
            .any(|p| path.starts_with(p))
        {
            Self::Page
        } else {
            Self::Mlflow
        }
    }
}

/// Whether a read-only token may make this request: reads, searches, and
/// inference over V2 or MLflow's scoring protocol (it changes nothing; the
/// permission piece gates it by USE).
pub(crate) fn is_read(method: &Method, path: &str) -> bool {
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return true;
    }
    let infer = (path.starts_with("/v2/models/") && path.ends_with("/infer"))
        || path == "/invocations"
        || path.starts_with("/invocations/models/");
    method == Method::POST && (infer || READ_ONLY_POSTS.iter().any(|p| path.ends_with(p)))
}

/// The credentials in an `Authorization` header's value (or gRPC's
/// `authorization` metadata), as the mlflow client sends them: `Basic
/// base64(user:password)` (split at the first `:`) or `Bearer <token>`; the
/// scheme's case does not matter. Anything else is none.
fn credentials_of(value: &str) -> Option<Credentials> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
        Some(Credentials::Basic { username: username.to_string(), password: password.to_string() })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(Credentials::Bearer(rest.to_string()))
    } else {
        None
    }
}

/// The authenticator a middleware needs (`None`: `--auth none`); a
/// middleware's state is cloned per request, and this is one reference
/// count where the whole `AppState` is several.
pub(crate) type AuthState = Option<std::sync::Arc<Authenticator>>;

/// The middleware: establishes the caller or refuses the request.
pub(crate) async fn authenticate(State(auth): State<AuthState>, mut request: Request, next: Next) -> Response {
    let Some(auth) = auth.as_deref() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if OPEN.contains(&path) || crate::session::is_public(path) || is_upload_part(request.method(), path) {
        return next.run(request).await;
    }
    let surface = Surface::of(path);
    let header = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    let Some((verified, bearer)) = verify_header(auth, header).await else {
        return crate::session::by_cookie(auth, surface, request, next).await;
    };
    match verified {
        Ok(caller) => {
            if caller.scope == TokenScope::Read && !is_read(request.method(), request.uri().path()) {
                tracing::info!(user = %caller.username, token_id = ?caller.token_id, "read-only token refused a write");
                return refuse(surface, Error::permission_denied("Permission denied: this token is read-only"), bearer);
            }
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) => refuse(surface, e, bearer),
    }
}

/// The caller an `Authorization` header (or gRPC metadata) names, and
/// whether it was a bearer token; `None` without usable credentials. A header
/// seen before is recognised by its digest, without decoding it.
pub(crate) async fn verify_header(
    auth: &Authenticator,
    header: Option<&[u8]>,
) -> Option<(Result<Caller, Error>, bool)> {
    let key = auth.header_key(header?);
    match auth.cached_header(&key).await {
        Ok(Some(caller)) => Some((Ok(caller), false)),
        Err(e) => Some((Err(e), false)),
        Ok(None) => {
            let credentials = credentials_of(std::str::from_utf8(header?).ok()?)?;
            let bearer = matches!(credentials, Credentials::Bearer(_));
            Some((auth.authenticate_header(key, credentials).await, bearer))
        }
    }
}

/// [`verify_header`] for a gRPC call: its `authorization` metadata.
pub(crate) async fn verify_metadata(
    auth: &Authenticator,
    metadata: &tonic::metadata::MetadataMap,
) -> Option<(Result<Caller, Error>, bool)> {
    verify_header(auth, metadata.get("authorization").map(|v| v.as_bytes())).await
}

/// The refusal in the route's protocol; a 401 carries the challenges.
pub(crate) fn refuse(surface: Surface, error: Error, bearer: bool) -> Response {
    let unauthenticated = error.kind == ErrorKind::Unauthenticated;
    let mut response = match surface {
        Surface::Mlflow => ApiError::from(error).into_response(),
        Surface::V2 => V2Error::from(error).into_response(),
        Surface::Page => page(&error),
    };
    // The UI has a login page: no challenge, which would open the browser's
    // own password dialog.
    if unauthenticated && !matches!(surface, Surface::Page) {
        let challenge = if bearer {
            r#"Basic realm="flotilla", Bearer realm="flotilla", error="invalid_token""#
        } else {
            r#"Basic realm="flotilla", Bearer realm="flotilla""#
        };
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

fn page(error: &Error) -> Response {
    let (status, title) = match error.kind {
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "Sign in required"),
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "Forbidden"),
        ErrorKind::InvalidParameter
        | ErrorKind::NotFound
        | ErrorKind::AlreadyExists
        | ErrorKind::InvalidState
        | ErrorKind::Conflict
        | ErrorKind::Unservable
        | ErrorKind::TooLarge
        | ErrorKind::Busy
        | ErrorKind::Interrupted
        | ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Server error"),
    };
    let text = if error.kind == ErrorKind::Unauthenticated {
        "This flotilla server requires a user name and password: <a href=\"/login\">sign in</a>.".to_string()
    } else {
        error.message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · flotilla</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// The caller and the authenticator, for the user and token routes; with
/// `--auth none` those routes do not exist (404, as on MLflow without its
/// basic-auth app).
pub(crate) struct Authed(pub std::sync::Arc<Authenticator>, pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = state.auth.clone().ok_or_else(|| {
            ApiError::endpoint_not_found("Authentication is off on this server (--auth none): no users or tokens")
        })?;
        let caller =
            parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::from(Caller::unauthenticated()))?;
        Ok(Self(auth, caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_as_the_mlflow_client_sends_them() {
        let basic = |u: &str, p: &str| Some((u.to_string(), p.to_string()));
        let read = |v: &str| match credentials_of(v) {
            Some(Credentials::Basic { username, password }) => Some((username, password)),
            Some(Credentials::Bearer(t)) => Some(("<bearer>".to_string(), t)),
            None => None,
        };
        // header -> (username, password) or bearer token
        for (value, expected) in [
            ("Basic Ym9iOnNlY3JldDpwYXJ0", basic("bob", "secret:part")), // split at the first ':'
            ("basic Ym9iOnNlY3JldA==", basic("bob", "secret")),
            ("Basic Ym9i", basic("bob", "")),
            ("Bearer flt_abc", basic("<bearer>", "flt_abc")),
            ("BEARER flt_abc", basic("<bearer>", "flt_abc")),
            ("Basic !!!", None),
            ("Bearer ", None),
            ("Digest x", None),
            ("Basic", None),
        ] {
            assert_eq!(read(value), expected, "{value}");
        }
    }

    #[test]
    fn only_upload_parts_go_without_credentials() {
        let id = "0123456789abcdef0123456789abcdef";
        let table = [
            (Method::PUT, format!("/api/2.0/mlflow-artifacts/mpu/part/{id}/1"), true),
            (Method::PUT, format!("/ajax-api/2.0/mlflow-artifacts/mpu/part/{id}/10000"), true),
            (Method::GET, format!("/api/2.0/mlflow-artifacts/mpu/part/{id}/1"), false),
            (Method::PUT, format!("/api/2.0/mlflow-artifacts/mpu/part/{id}/1/x"), false),
            (Method::PUT, format!("/api/2.0/mlflow-artifacts/mpu/part/{id}/"), false),
            (Method::PUT, "/api/2.0/mlflow-artifacts/mpu/part/short/1".to_owned(), false),
            (Method::PUT, format!("/api/2.0/mlflow-artifacts/artifacts/{id}/1"), false),
            (Method::POST, "/api/2.0/mlflow-artifacts/mpu/create/1/x".to_owned(), false),
        ];
        for (method, path, open) in table {
            assert_eq!(is_upload_part(&method, &path), open, "{method} {path}");
        }
    }

    #[test]
    fn read_only_requests() {
        for (method, path, read) in [
            (Method::GET, "/api/2.0/mlflow/experiments/get", true),
            (Method::POST, "/api/2.0/mlflow/experiments/search", true),
            (Method::POST, "/ajax-api/3.0/mlflow/runs/search", true),
            (Method::POST, "/v2/models/m/infer", true),
            (Method::POST, "/invocations", true),
            (Method::POST, "/invocations/models/m/versions/2", true),
            (Method::POST, "/api/2.0/mlflow/experiments/create", false),
            (Method::DELETE, "/api/2.0/mlflow/users/delete", false),
            (Method::PUT, "/api/2.0/mlflow-artifacts/artifacts/1/x", false),
            (Method::POST, "/v2/repository/models/m/load", false),
        ] {
            assert_eq!(is_read(&method, path), read, "{method} {path}");
        }
    }
}
