//! CSRF protection for the UI's forms: a double-submit token.
//!
//! Every page request gets a random token in a `SameSite=Strict`, `HttpOnly`
//! cookie (set once, kept for the session); forms carry the same token in a
//! hidden field. A state-changing request is accepted only when the field
//! equals the cookie and, if the browser sent an `Origin`, it is this host.
//! Another site can make a browser send the cookie (not with Strict, but
//! older browsers) yet cannot read it to fill in the field.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;

const COOKIE: &str = "flotilla_csrf";

/// The request's CSRF token, for forms to embed.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gives every request a token (the cookie's, else a new one that the
/// response sets).
pub async fn token_cookie(mut request: Request, next: Next) -> Response {
    let existing = cookie_token(request.headers());
    let token = existing.clone().unwrap_or_else(new_token);
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if existing.is_none()
        && let Ok(value) = HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Whether a form submission may change state: its token matches the
/// cookie's and its origin, when given, is the host it was sent to.
pub fn verify(headers: &HeaderMap, submitted: &str) -> Result<(), &'static str> {
    let Some(cookie) = cookie_token(headers) else {
        return Err("the form has no session token cookie; reload the page and try again");
    };
    if !constant_time_eq(cookie.as_bytes(), submitted.as_bytes()) {
        return Err("the form's token does not match this session; reload the page and try again");
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin != "null" && origin_host != host {
            return Err("the form was sent from another site");
        }
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn tokens_must_match_the_cookie_and_the_origin() {
        let t = new_token();
        let cookie = format!("a=b; {COOKIE}={t}");
        assert!(verify(&headers(&[("cookie", &cookie), ("host", "h:5000")]), &t).is_ok());
        let same_origin = headers(&[("cookie", &cookie), ("host", "h:5000"), ("origin", "http://h:5000")]);
        assert!(verify(&same_origin, &t).is_ok());
        assert!(verify(&headers(&[("cookie", &cookie)]), &new_token()).is_err());
        assert!(verify(&headers(&[("host", "h:5000")]), &t).is_err());
        let foreign = headers(&[("cookie", &cookie), ("host", "h:5000"), ("origin", "http://evil.example")]);
        assert!(verify(&foreign, &t).is_err());
        let malformed = format!("{COOKIE}=<script>");
        assert!(cookie_token(&headers(&[("cookie", &malformed)])).is_none());
    }
}
