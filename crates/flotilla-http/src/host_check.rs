//! DNS-rebinding defence: a server listening on loopback answers only
//! requests addressed to a loopback name, as MLflow 3.x does (403 otherwise).
//! A browser tricked into resolving `evil.example` to 127.0.0.1 still sends
//! `Host: evil.example`, so the check stops it.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
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

pub(crate) async fn check_host(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    // HTTP/1.0 clients and in-process calls may omit Host; only a wrong one is refused.
    if !host.is_empty() && !allowed.allows(host) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Invalid Host header - possible DNS rebinding attack detected",
        )
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
}
