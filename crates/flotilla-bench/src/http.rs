//! The load generator's HTTP client: one keep-alive connection per client, JSON in and out.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// One request to send: built before the clock starts, so only the round trip is timed.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Self {
        Req { method: Method::GET, path: path.into(), body: None }
    }

    pub fn post(path: impl Into<String>, json: &serde_json::Value) -> Self {
        Req { method: Method::POST, path: path.into(), body: Some(Bytes::from(json.to_string())) }
    }
}

/// A server to drive: its base URL and the `Authorization` value every request carries.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: String,
    pub auth: Option<HeaderValue>,
}

impl Target {
    /// A server without authentication.
    pub fn plain(base: impl Into<String>) -> Target {
        Target { base: base.into(), auth: None }
    }

    /// A server asking for credentials: `authorization` is the whole header value.
    pub fn with_auth(base: impl Into<String>, authorization: &str) -> Target {
        Target { base: base.into(), auth: Some(HeaderValue::from_str(authorization).expect("a valid header value")) }
    }
}

/// A client holding at most one idle connection, so a sequential caller reuses one socket.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    auth: Option<HeaderValue>,
}

impl Http {
    pub fn new(target: &Target) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build(connector);
        Http { client, base: target.base.trim_end_matches('/').to_owned(), auth: target.auth.clone() }
    }

    /// Sends `req` and reads the whole body. Network failures and timeouts are `Err` with a
    /// short description; any HTTP status is `Ok`.
    pub async fn send(&self, req: &Req) -> Result<(StatusCode, Bytes), String> {
        let uri = format!("{}{}", self.base, req.path);
        let mut builder = Request::builder().method(req.method.clone()).uri(&uri);
        if req.body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        if let Some(auth) = &self.auth {
            builder = builder.header(hyper::header::AUTHORIZATION, auth.clone());
        }
        let request = builder
            .body(Full::new(req.body.clone().unwrap_or_default()))
            .map_err(|e| format!("bad request {uri}: {e}"))?;
        let round_trip = async {
            let response = self.client.request(request).await.map_err(|e| format!("{e:?}"))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| format!("{e}"))?;
            Ok::<_, String>((status, body.to_bytes()))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, round_trip).await {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {REQUEST_TIMEOUT:?}")),
        }
    }

    /// Sends `req`, returning its latency when it answered 2xx, a description otherwise.
    pub async fn timed(&self, req: &Req) -> Result<Duration, String> {
        let start = Instant::now();
        let (status, body) = self.send(req).await?;
        let elapsed = start.elapsed();
        if status.is_success() { Ok(elapsed) } else { Err(describe(req, status, &body)) }
    }

    /// Sends `req` and parses a 2xx JSON answer.
    pub async fn json(&self, req: &Req) -> Result<serde_json::Value, String> {
        let (status, body) = self.send(req).await?;
        if !status.is_success() {
            return Err(describe(req, status, &body));
        }
        if body.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{} {}: bad json: {e}", req.method, req.path))
    }
}

fn describe(req: &Req, status: StatusCode, body: &[u8]) -> String {
    let path = req.path.split('?').next().unwrap_or(&req.path);
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(160).collect();
    format!("{} {path} -> {status}: {text}", req.method)
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn prompt_filter_is_query_encoded() {
        assert_eq!(
            super::encode_query(crate::workload::PROMPT_FILTER),
            "tag.%60mlflow.prompt.is_prompt%60%20%21%3D%20%27true%27"
        );
    }
}
