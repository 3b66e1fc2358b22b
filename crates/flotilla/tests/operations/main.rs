//! Operations at the edge on a real server process: TLS with a real TLS
//! client and every connection limit under it, trusted proxies (and spoofing
//! from anyone else ignored), the access log in text and JSON with no secret
//! in any line, and per-identity rate limits.

mod limits;
mod logs;
mod tls;

use base64::Engine;
use flotilla_testkit::{Reply, TestServer};
use serde_json::Value;

const ADMIN_PASSWORD: &str = "admin-password-OPS1";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// One request with the given headers and an optional JSON body.
fn call(server: &TestServer, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Reply {
    let mut headers = headers.to_vec();
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    server.request(method, path, &headers, &bytes)
}

/// The access log's lines (JSON format) as their `fields` objects.
fn access_lines(server: &TestServer) -> Vec<Value> {
    server
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "flotilla::access")
        .map(|v| v["fields"].clone())
        .collect()
}
