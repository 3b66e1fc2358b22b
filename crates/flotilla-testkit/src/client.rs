//! An HTTP/1.1 client that is exactly one keep-alive connection: requests go one after the
//! other on it, a closed connection is replaced (and counted), and every failure is reported
//! as it happened, never retried, so a load or crash run sees each reset the server caused.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).chars().take(300).collect()
    }
}

/// One keep-alive connection to a server, with the credentials it sends on every request.
pub struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    auth: Option<HeaderValue>,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened so far (1 for a client whose connection lived throughout).
    pub connects: usize,
}

impl Client {
    /// A client of the server at `addr` sending `authorization` (a whole header value such as
    /// `Bearer flt_...`) if given. Connects on the first request.
    pub fn new(addr: SocketAddr, authorization: Option<&str>) -> Client {
        let host = HeaderValue::from_str(&addr.to_string()).expect("an address is a valid Host");
        let auth = authorization.map(|a| HeaderValue::from_str(a).expect("a valid Authorization value"));
        Client { addr, host, auth, sender: None, connects: 0 }
    }

    /// The connection, opened anew when there is none or the server has closed it. A server
    /// closes a keep-alive connection politely (`Connection: close` after its request cap) and
    /// the close may be seen only when the next request waits for it: nothing was sent on it
    /// yet, so a new connection takes the request.
    async fn connection(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let usable = match self.sender.as_mut() {
            Some(sender) if !sender.is_closed() => sender.ready().await.is_ok(),
            Some(_) | None => false,
        };
        if !usable {
            let stream = TcpStream::connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(conn);
            self.connects += 1;
            sender.ready().await.map_err(|e| format!("new connection not ready: {e}"))?;
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("connected above"))
    }

    /// Sends one request and reads the whole answer. `Err` is a failure of the connection
    /// (refused, reset, closed mid-answer) or a timeout; the connection is then dropped.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> Result<Answer, String> {
        let mut builder = Request::builder().method(method).uri(path).header(HOST, self.host.clone());
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        let body = match body {
            Some((content_type, bytes)) => {
                builder = builder.header(CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let request = builder.body(Full::new(body)).map_err(|e| format!("request {path}: {e}"))?;
        let round_trip = async {
            let sender = self.connection().await?;
            let response = sender.send_request(request).await.map_err(|e| format!("{e}"))?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| format!("reading the body: {e}"))?;
            Ok::<_, String>(Answer { status, body: body.to_bytes() })
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, round_trip).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer after {REQUEST_TIMEOUT:?}")),
        };
        if result.is_err() {
            self.sender = None;
        }
        result.map_err(|e| format!("{path}: {e}"))
    }

    pub async fn get(&mut self, path: &str) -> Result<Answer, String> {
        self.send(Method::GET, path, None).await
    }

    /// POSTs `json` as `application/json`.
    pub async fn post(&mut self, path: &str, json: &serde_json::Value) -> Result<Answer, String> {
        self.send(Method::POST, path, Some(("application/json", Bytes::from(json.to_string())))).await
    }

    /// Sends a JSON body and wants a 2xx JSON answer.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        json: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let body = (method != Method::GET).then(|| ("application/json", Bytes::from(json.to_string())));
        let answer = self.send(method.clone(), path, body).await?;
        if !answer.ok() {
            return Err(format!("{method} {path} -> {}: {}", answer.status, answer.text()));
        }
        Ok(answer.json())
    }
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
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
