//! DNS-rebinding defence: a server listening on loopback answers only
//! requests addressed to a loopback name, as MLflow 3.x does (403 otherwise).
//! A browser tricked into resolving `evil.example` to 127.0.0.1 still sends
//! `Host: evil.example`, so the check stops it.
//!
//! A request whose host is ambiguous is a 400 before any of that (RFC 9112
//! §3.2): two `Host` lines (a proxy and the server could each read another),
//! or a value that is not visible ASCII. A request target in absolute form
//! (`GET http://host/path`) names the host itself and `Host` is ignored, as
//! the RFC says, so that is the host checked.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::error::ApiError;

/// Which `Host` headers the server accepts.
#[derive(Debug, Clone)]
pub enum AllowedHosts {
    /// Any host (the server listens on a routable address).
    Any,
    /// Only these host names (port ignored, case-insensitive).
    Only(Arc<Vec<String>>),
}

impl AllowedHosts {
    /// The loopback names: `localhost`, `127.0.0.1`, `::1`.
    pub fn loopback() -> Self {
        Self::Only(Arc::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]))
    }

    pub fn allows(&self, host_header: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(names) => {
                let host = strip_port(host_header);
                names.iter().any(|n| n.eq_ignore_ascii_case(host))
            }
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        Some(_) | None => host,
    }
}

/// The host a request is addressed to (empty when it names none), or why it is ambiguous.
fn addressed_host(request: &Request) -> Result<String, &'static str> {
    let mut lines = request.headers().get_all(header::HOST).iter();
    let first = lines.next();
    if lines.next().is_some() {
        return Err("more than one Host header (RFC 9112 section 3.2)");
    }
    let header_value = match first {
        Some(value) => value.to_str().map_err(|_| "the Host header is not visible ASCII")?,
        None => "",
    };
    Ok(match request.uri().authority() {
        Some(authority) => authority.as_str().rsplit('@').next().unwrap_or_default().to_string(),
        None => header_value.to_string(),
    })
}

pub(crate) async fn check_host(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = match addressed_host(&request) {
        Ok(host) => host,
        Err(why) => return ApiError::bad_request(why).into_response(),
    };
    // HTTP/1.0 clients and in-process calls may omit Host; only a wrong one is refused.
    if !host.is_empty() && !allowed.allows(&host) {
        return ApiError::permission_denied("Invalid Host header - possible DNS rebinding attack detected")
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_with_and_without_ports() {
        let a = AllowedHosts::loopback();
        for ok in ["localhost", "localhost:5000", "127.0.0.1:8080", "[::1]:5000", "LOCALHOST"] {
            assert!(a.allows(ok), "{ok}");
        }
        for bad in ["evil.com", "evil.com:5000", "127.0.0.2", "localhost.evil.com"] {
            assert!(!a.allows(bad), "{bad}");
        }
        assert!(AllowedHosts::Any.allows("anything"));
    }

    #[test]
    fn ambiguous_hosts_are_refused() {
        /// Request target, `Host` lines, and the host checked (`None`: a 400).
        type Case = (&'static str, &'static [&'static [u8]], Option<&'static str>);
        let cases: &[Case] = &[
            ("/health", &[b"localhost:5000"], Some("localhost:5000")),
            ("/health", &[], Some("")),
            ("/health", &[b""], Some("")),
            ("/health", &[b"localhost", b"evil.example"], None),
            ("/health", &[b"localhost", b""], None),
            ("/health", &[b"", b""], None),
            ("/health", &[b"localhost", b"localhost"], None),
            ("/health", &[b"caf\xc3\xa9"], None),
            ("http://evil.example/health", &[b"localhost"], Some("evil.example")),
            ("http://user@evil.example:80/health", &[b"localhost"], Some("evil.example:80")),
        ];
        for (target, lines, expected) in cases {
            let mut request = Request::builder().uri(*target);
            for line in *lines {
                request = request.header(header::HOST, axum::http::HeaderValue::from_bytes(line).unwrap());
            }
            let request = request.body(axum::body::Body::empty()).unwrap();
            let got = addressed_host(&request).ok();
            assert_eq!(got.as_deref(), expected.as_deref(), "{target} {lines:?}");
        }
    }
}
