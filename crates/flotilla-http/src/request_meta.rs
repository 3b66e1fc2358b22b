//! Who sent a request and under which id: the [`RequestMeta`] every handler,
//! the audit log and the access log read, set once at the edge.
//!
//! The id is the caller's `x-request-id` when it is a sane token (1 to
//! [`MAX_ID_CHARS`] characters of `[A-Za-z0-9._:-]`), else a fresh random
//! one; either way it is returned in the answer's `x-request-id`. The peer is
//! the socket's remote address, which the accept loop records as a
//! [`PeerAddr`] extension; `client` is who the request is from, which is the
//! peer unless a trusted proxy says otherwise (see `client_of`).
//!
//! `X-Forwarded-For`, `-Proto` and `-Host` are read only when the peer is one
//! of the `--trusted-proxies`: from anyone else they are a client's claim and
//! ignored. The scheme and host the client addressed go in an [`Origin`]
//! extension (for `Secure` cookies and absolute URLs), and a trusted
//! `X-Forwarded-Host` replaces `Host`, so the Host check (DNS rebinding)
//! and the UI's same-origin check judge the name the client used.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
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

/// Marks a request that came over TLS on our own listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsConnection;

/// The scheme and host the client addressed: ours, or what a trusted proxy
/// in front of us reports (`X-Forwarded-Proto`, `X-Forwarded-Host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    /// The forwarded host, when a trusted proxy sent one; else the request's `Host`.
    pub forwarded_host: Option<Arc<str>>,
}

/// The peers whose `X-Forwarded-*` headers are believed (`--trusted-proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.1,10.1.0.0/16,::1` (addresses or CIDR blocks).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| format!("'{item}' is not an IP address or CIDR block"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => {
                    b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| format!("bad prefix in '{item}'"))?
                }
                None => max,
            };
            nets.push((addr, bits));
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|&(net, bits)| in_block(ip, canonical(net), bits))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => return false,
    };
    let bits = u32::from(bits);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    ip >> shift == net >> shift
}

/// Middleware: gives the request its [`RequestMeta`] and [`Origin`], and the answer its id.
pub async fn assign(State(trusted): State<Arc<TrustedProxies>>, mut request: Request, next: Next) -> Response {
    let id: Arc<str> = taken_id(request.headers()).map_or_else(fresh_id, Arc::from);
    let peer = request.extensions().get::<PeerAddr>().map(|p| p.0);
    let via_proxy = peer.is_some_and(|p| trusted.contains(p));
    let client = if via_proxy { client_of(peer, request.headers(), &trusted) } else { peer };
    let tls = request.extensions().get::<TlsConnection>().is_some();
    let origin = if via_proxy {
        let https = last_value(request.headers(), "x-forwarded-proto").map_or(tls, |p| p.eq_ignore_ascii_case("https"));
        let host = last_value(request.headers(), "x-forwarded-host").map(Arc::<str>::from);
        // The host the client addressed becomes the request's `Host`, so the
        // Host check and the UI's same-origin check see the public name.
        if let Some(value) = host.as_deref().and_then(|h| HeaderValue::from_str(h).ok()) {
            request.headers_mut().insert(axum::http::header::HOST, value);
        }
        Origin { https, forwarded_host: host }
    } else {
        Origin { https: tls, forwarded_host: None }
    };
    request.extensions_mut().insert(origin);
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
    // A token pasted where an id goes would otherwise be logged and echoed.
    let sane = !id.is_empty()
        && !id.starts_with("flt_")
        && id.len() <= MAX_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    sane.then_some(id)
}

/// 128 random bits as 32 hex digits.
fn fresh_id() -> Arc<str> {
    let bits: u128 = rand::rng().random();
    Arc::from(format!("{bits:032x}"))
}

/// Who a request from a trusted proxy is from: walking `X-Forwarded-For`
/// from the right (the hop nearest us), the first address that is not itself
/// a trusted proxy. Whatever a client wrote further left is not believed.
/// An unreadable entry stops the walk at the last hop read.
fn client_of(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> Option<IpAddr> {
    let mut client = peer?;
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        if !trusted.contains(client) {
            break;
        }
        match parse_hop(hop) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, maybe with a port or brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

/// The rightmost value of a comma-separated forwarding header (the one the
/// proxy nearest us wrote), when it is plain visible ASCII.
fn last_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    (!last.is_empty() && last.len() <= 255).then_some(last)
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
        assert_eq!(taken_id(&headers("flt_ABCDEFGH_secret")), None, "a token is never an id");
        assert_eq!(taken_id(&HeaderMap::new()), None);
        let fresh = fresh_id();
        assert_eq!(fresh.len(), 32);
        assert_ne!(fresh, fresh_id());
    }

    fn forwarded(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1,::1").unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // (peer, X-Forwarded-For lines) -> client
        for (peer, xff, client) in [
            ("10.0.0.5", vec!["203.0.113.9"], "203.0.113.9"),
            ("10.0.0.5", vec!["6.6.6.6, 203.0.113.9"], "203.0.113.9"), // spoofed left part ignored
            ("10.0.0.5", vec!["6.6.6.6, 203.0.113.9, 10.1.2.3"], "203.0.113.9"), // two proxies
            ("10.0.0.5", vec!["6.6.6.6", "203.0.113.9"], "203.0.113.9"), // two header lines
            ("10.0.0.5", vec!["203.0.113.9:4711"], "203.0.113.9"),
            ("10.0.0.5", vec!["[2001:db8::1]:80"], "2001:db8::1"),
            ("10.0.0.5", vec!["garbage"], "10.0.0.5"),
            ("10.0.0.5", vec!["6.6.6.6, garbage"], "10.0.0.5"),
            ("10.0.0.5", vec![], "10.0.0.5"),
            ("::ffff:10.0.0.5", vec!["203.0.113.9"], "203.0.113.9"),
            ("::1", vec!["203.0.113.9"], "203.0.113.9"),
        ] {
            assert_eq!(client_of(ip(peer), &forwarded(&xff), &trusted), ip(client), "{peer} {xff:?}");
        }
    }

    /// What a handler sees of a request from `peer` with `headers`.
    fn seen(trusted: &str, peer: &str, headers: &[(&str, &str)], tls: bool) -> (Option<IpAddr>, Origin, String) {
        use axum::Router;
        use axum::body::Body;
        use axum::extract::Extension;
        use axum::routing::get;
        use tower::ServiceExt;
        let app =
            Router::new()
                .route(
                    "/",
                    get(
                        |Extension(meta): Extension<RequestMeta>,
                         Extension(origin): Extension<Origin>,
                         h: HeaderMap| async move {
                            let host = h.get("host").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                            axum::Json(serde_json::json!([
                                meta.client,
                                origin.https,
                                origin.forwarded_host.as_deref(),
                                host
                            ]))
                        },
                    ),
                )
                .layer(axum::middleware::from_fn_with_state(Arc::new(TrustedProxies::parse(trusted).unwrap()), assign));
        let mut request = axum::http::Request::builder().uri("/").header("host", "internal:5000");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut request = request.body(Body::empty()).unwrap();
        request.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        if tls {
            request.extensions_mut().insert(TlsConnection);
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let body = runtime.block_on(async {
            let response = app.oneshot(request).await.unwrap();
            axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap()
        });
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let origin = Origin { https: v[1].as_bool().unwrap(), forwarded_host: v[2].as_str().map(Arc::from) };
        (v[0].as_str().map(|c| c.parse().unwrap()), origin, v[3].as_str().unwrap().to_string())
    }

    #[test]
    fn forwarded_scheme_and_host_only_from_a_trusted_peer() {
        let proxy = [
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "models.example"),
        ];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let public = Origin { https: true, forwarded_host: Some(Arc::from("models.example")) };
        assert_eq!(seen("10.0.0.1", "10.0.0.1", &proxy, false), (ip("203.0.113.9"), public, "models.example".into()));
        let direct = Origin { https: false, forwarded_host: None };
        assert_eq!(seen("10.0.0.1", "6.6.6.6", &proxy, false), (ip("6.6.6.6"), direct.clone(), "internal:5000".into()));
        assert_eq!(seen("", "10.0.0.1", &proxy, false), (ip("10.0.0.1"), direct, "internal:5000".into()));
        // Our own TLS is https whatever anyone says; a proxy's "http" is believed for its hop.
        let tls = Origin { https: true, forwarded_host: None };
        assert_eq!(seen("", "6.6.6.6", &[("x-forwarded-proto", "http")], true).1, tls);
        let spoofed_left = [("x-forwarded-proto", "https, http")];
        assert!(!seen("10.0.0.1", "10.0.0.1", &spoofed_left, false).1.https, "the nearest hop's value counts");
    }

    #[test]
    fn trusted_blocks() {
        let t = TrustedProxies::parse("10.0.0.0/8,2001:db8::/32").unwrap();
        for (ip, inside) in [
            ("10.255.0.1", true),
            ("11.0.0.1", false),
            ("2001:db8:1::5", true),
            ("2001:db9::5", false),
            ("::ffff:10.1.1.1", true),
        ] {
            assert_eq!(t.contains(ip.parse().unwrap()), inside, "{ip}");
        }
        assert!(TrustedProxies::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.1/x"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
