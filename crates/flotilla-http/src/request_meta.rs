//! Who sent a request and under which id: the [`RequestMeta`] every handler,
//! the audit log and the access log read, set once at the edge.
//!
//! The id is the caller's `x-request-id` when it is a sane token (1 to
//! [`MAX_ID_CHARS`] characters of `[A-Za-z0-9._:-]`), else a fresh random
//! one; either way it is returned in the answer's `x-request-id`. The peer is
//! the socket's remote address, which the accept loop records as a
//! [`PeerAddr`] extension; `client` is who the request is from, which is the
//! peer unless a trusted proxy says otherwise (see `client_of`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;

/// The header a request id travels in, both ways.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest request id taken from a caller.
pub const MAX_ID_CHARS: usize = 128;

/// The remote address of the connection a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

/// A request's id and origin, a request extension on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    pub id: Arc<str>,
    /// The connection's remote address (absent in in-process tests).
    pub peer: Option<IpAddr>,
    /// Who the request is from: the peer, or what a trusted proxy reports.
    pub client: Option<IpAddr>,
}

/// Middleware: gives the request its [`RequestMeta`] and the answer its id.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id: Arc<str> = taken_id(request.headers()).map_or_else(fresh_id, Arc::from);
    let peer = request.extensions().get::<PeerAddr>().map(|p| p.0);
    let client = client_of(peer, request.headers());
    request.extensions_mut().insert(RequestMeta { id: Arc::clone(&id), peer, client });
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// The caller's request id, when it is one we can log and echo safely.
fn taken_id(headers: &HeaderMap) -> Option<&str> {
    let id = headers.get(&REQUEST_ID)?.to_str().ok()?;
    let sane = !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    sane.then_some(id)
}

/// 128 random bits as 32 hex digits.
fn fresh_id() -> Arc<str> {
    let bits: u128 = rand::rng().random();
    Arc::from(format!("{bits:032x}"))
}

/// Who a request is from. Today the peer; trusted proxies come later.
fn client_of(peer: Option<IpAddr>, _headers: &HeaderMap) -> Option<IpAddr> {
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID.clone(), HeaderValue::from_str(id).unwrap());
        h
    }

    #[test]
    fn a_sane_id_is_taken_and_anything_else_replaced() {
        assert_eq!(taken_id(&headers("abc-123_x.y:z")), Some("abc-123_x.y:z"));
        assert_eq!(taken_id(&headers(&"a".repeat(MAX_ID_CHARS))).map(str::len), Some(MAX_ID_CHARS));
        assert_eq!(taken_id(&headers(&"a".repeat(MAX_ID_CHARS + 1))), None);
        assert_eq!(taken_id(&headers("has space")), None);
        assert_eq!(taken_id(&headers("quote\"")), None);
        assert_eq!(taken_id(&HeaderMap::new()), None);
        let fresh = fresh_id();
        assert_eq!(fresh.len(), 32);
        assert_ne!(fresh, fresh_id());
    }
}
