//! CSRF protection for the UI's forms: a token bound to the session cookie by
//! a server-side key, plus origin checks.
//!
//! Every page request gets a random session nonce in a `SameSite=Strict`,
//! `HttpOnly` cookie (set once, kept for the session). Forms carry
//! `HMAC-SHA256(key, nonce)` in a hidden field, where the key is a random
//! secret that never leaves the process. A plain double-submit token (field
//! equal to cookie) is not enough: an attacker who can plant a cookie (from a
//! sibling subdomain, or over plain HTTP) picks both. Here a planted nonce is
//! useless without the key. A state-changing request must also come from this
//! host: an `Origin` (or, without one, a `Referer`) naming another host, or the
//! opaque `Origin: null` of sandboxed frames and `data:` pages, is refused.
//!
//! The key is per process: after a restart, an open form asks for a reload.
//! With `--auth basic`, a signed-in session's own token (the same on every
//! replica) replaces the nonce's.

use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use flotilla_app::auth::UiSession;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::session::SignedIn;

const COOKIE: &str = "flotilla_csrf";

/// The request's CSRF token, for forms to embed.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

fn key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        key
    })
}

fn mac(nonce: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key()).expect("HMAC takes a key of any length");
    mac.update(b"flotilla-csrf:");
    mac.update(nonce.as_bytes());
    mac
}

/// The form token for a session nonce.
fn token_for(nonce: &str) -> String {
    hex(&mac(nonce).finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn cookie_nonce(headers: &HeaderMap) -> Option<String> {
    let values = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    flotilla_app::auth::cookie_value(values, COOKIE)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Gives every request a form token: a signed-in session's own (which the
/// session middleware checks on every state-changing request), else one
/// bound to the session nonce (the cookie's, else a new one that the
/// response sets).
pub async fn token_cookie(mut request: Request, next: Next) -> Response {
    if let Some(session) = request.extensions().get::<UiSession>() {
        let who = SignedIn::from(session);
        request.extensions_mut().insert(CsrfToken(who.csrf.clone()));
        let mut response = crate::session::scope(who, next.run(request)).await;
        // A signed-in page names its user and holds the session's token: no cache may keep it.
        response.headers_mut().entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-store"));
        return response;
    }
    let existing = cookie_nonce(request.headers());
    let nonce = existing.clone().unwrap_or_else(new_nonce);
    request.extensions_mut().insert(CsrfToken(token_for(&nonce)));
    let mut response = next.run(request).await;
    if existing.is_none()
        && let Ok(value) = HeaderValue::from_str(&format!("{COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict"))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Whether a form submission may change state: its token is the signed-in
/// session's, or else the one this server issued for the nonce cookie, and it
/// comes from this host.
pub fn verify(headers: &HeaderMap, session: Option<&UiSession>, submitted: &str) -> Result<(), &'static str> {
    if let Some(session) = session {
        if !session.csrf_matches(submitted) {
            return Err("the form's token does not match this session; reload the page and try again");
        }
        return same_origin(headers);
    }
    let Some(nonce) = cookie_nonce(headers) else {
        return Err("the form has no session token cookie; reload the page and try again");
    };
    let valid = unhex(submitted).is_some_and(|tag| mac(&nonce).verify_slice(&tag).is_ok());
    if !valid {
        return Err("the form's token does not match this session; reload the page and try again");
    }
    same_origin(headers)
}

/// `Origin` (else `Referer`), when sent, must name the host the request was sent to.
pub(crate) fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let header_text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let (sender, what) = match (header_text(header::ORIGIN), header_text(header::REFERER)) {
        (Some(origin), _) => (origin, "origin"),
        (None, Some(referer)) => (referer, "referer"),
        (None, None) => return Ok(()),
    };
    let sender_host = sender
        .split_once("://")
        .map(|(scheme, rest)| (scheme, rest.split(['/', '?', '#']).next().unwrap_or("")))
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .map(|(_, authority)| authority);
    if sender_host.is_some_and(|h| !host.is_empty() && h.eq_ignore_ascii_case(host)) {
        Ok(())
    } else if what == "origin" {
        Err("the form was sent from another site")
    } else {
        Err("the form was sent from another page than this server's")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_(headers: &HeaderMap, submitted: &str) -> Result<(), &'static str> {
        verify(headers, None, submitted)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn tokens_are_bound_to_the_session_by_the_servers_key() {
        let nonce = new_nonce();
        let cookie = format!("a=b; {COOKIE}={nonce}");
        let token = token_for(&nonce);
        assert!(verify_(&headers(&[("cookie", &cookie), ("host", "h:5000")]), &token).is_ok());
        // The plain double-submit an attacker could forge: field equal to a planted cookie.
        assert!(verify_(&headers(&[("cookie", &cookie), ("host", "h:5000")]), &nonce).is_err());
        assert!(verify_(&headers(&[("cookie", &cookie)]), &token_for(&new_nonce())).is_err());
        assert!(verify_(&headers(&[("cookie", &cookie)]), "zz").is_err());
        assert!(verify_(&headers(&[("host", "h:5000")]), &token).is_err());
        let malformed = format!("{COOKIE}=<script>");
        assert!(cookie_nonce(&headers(&[("cookie", &malformed)])).is_none());
    }

    #[test]
    fn submissions_come_from_this_host() {
        let nonce = new_nonce();
        let cookie = format!("{COOKIE}={nonce}");
        let token = token_for(&nonce);
        let from = |name: &'static str, value: &str| {
            verify_(&headers(&[("cookie", &cookie), ("host", "h:5000"), (name, value)]), &token)
        };
        for ok in ["http://h:5000", "https://h:5000"] {
            assert!(from("origin", ok).is_ok(), "{ok}");
        }
        assert!(from("referer", "http://h:5000/models/x?y=1").is_ok());
        for bad in ["null", "http://evil.example", "http://h:5000.evil.example", "file://h:5000", "h:5000"] {
            assert!(from("origin", bad).is_err(), "origin {bad}");
        }
        for bad in ["http://evil.example/h:5000", "about:blank"] {
            assert!(from("referer", bad).is_err(), "referer {bad}");
        }
    }
}
