//! Requests to a [`TestServer`] as one caller: its `Authorization` (or
//! none), JSON bodies in, status checks and JSON or HTML out. What every
//! permission test does for each of its users.

use serde_json::Value;

use crate::{Reply, TestServer};

pub struct Requester<'a> {
    pub server: &'a TestServer,
    /// The `Authorization` header sent, if any.
    pub auth: Option<String>,
}

impl<'a> Requester<'a> {
    /// A caller proving itself with Basic `user` and `password`.
    pub fn basic(server: &'a TestServer, user: &str, password: &str) -> Self {
        Self { server, auth: Some(crate::basic(user, password)) }
    }

    /// A caller sending no credentials.
    pub fn anonymous(server: &'a TestServer) -> Self {
        Self { server, auth: None }
    }

    /// The request, with a JSON body when `body` is given.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut headers = Vec::new();
        if let Some(a) = &self.auth {
            headers.push(("Authorization", a.as_str()));
        }
        if !bytes.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        self.server.request(method, path, &headers, &bytes)
    }

    /// The answer's JSON, asserting a 200.
    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body);
        assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
        r.json()
    }

    /// `GET path`'s JSON, asserting a 200.
    pub fn get(&self, path: &str) -> Value {
        self.ok("GET", path, None)
    }

    /// `GET path`'s text (a UI page), asserting a 200.
    pub fn page(&self, path: &str) -> String {
        let r = self.call("GET", path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.text()
    }

    /// `POST path` with a raw body of `content_type` (CSV, NDJSON, Parquet, a
    /// file), asserting a 200.
    pub fn post_ok(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let mut headers = vec![("Content-Type", content_type)];
        if let Some(a) = &self.auth {
            headers.push(("Authorization", a.as_str()));
        }
        let r = self.server.request("POST", path, &headers, body);
        assert_eq!(r.status, 200, "POST {path}: {}", r.text());
        r
    }

    pub fn status(&self, method: &str, path: &str, body: Option<Value>) -> u16 {
        self.call(method, path, body).status
    }
}
