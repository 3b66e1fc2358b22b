//! `flotilla fleet ... --server URL`: the fleet commands through a running
//! server's native fleet API (`/api/fleet/v1/...`) instead of a data
//! directory's store. Requests and answers are `flotilla_app::fleet_api`'s,
//! the server's own definitions; answers are turned back into the store's
//! types, so tables and `--json` print the same in both modes; an error answer's
//! `error_code` becomes the error kind (and so the exit code) it came from.
//!
//! `https://` servers are verified against `MLFLOW_TRACKING_SERVER_CERT_PATH`
//! (the mlflow client's variable: a PEM bundle, e.g. a self-signed
//! certificate) when set, else the system's bundle (`SSL_CERT_FILE`, or
//! Debian's `/etc/ssl/certs/ca-certificates.crt`).

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use flotilla_app::fleet_api;
use flotilla_core::fleet::{Family, FleetModel};
use flotilla_core::fleet_versions::FleetVersion;
use flotilla_core::model::Page;
use flotilla_core::{Error, ErrorKind};
use flotilla_http::error::ERROR_KIND_HEADER;
use flotilla_store::audit::AuditEventQuery;
use flotilla_store::fleet::{AliasEvent, AliasReport, PromotionRule};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Who the audit log records as having made a change (the server's claim header).
const ACTOR_HEADER: &str = "x-flotilla-actor";
const API: &str = "/api/fleet/v1";

/// A running server's fleet API.
pub struct Remote {
    base: String,
    runtime: tokio::runtime::Runtime,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// The `Authorization` value for a server with `--auth basic` (see [`credentials`]).
    authorization: Option<hyper::header::HeaderValue>,
}

#[derive(Deserialize)]
struct Families {
    families: Vec<Family>,
}

#[derive(Deserialize)]
struct Models {
    models: Vec<FleetModel>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct Versions {
    versions: Vec<FleetVersion>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct Report {
    report: fleet_api::AliasReport,
}

#[derive(Deserialize)]
struct Events {
    events: Vec<fleet_api::AliasEvent>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error_code: String,
    message: String,
}

impl Remote {
    /// A client for the server at `url` (`http://host:port` or `https://...`, no path).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_string();
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "--server takes an http:// or https:// URL, got '{url}'"
        );
        base.parse::<hyper::Uri>().with_context(|| format!("--server '{url}' is not a URL"))?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.enforce_http(false);
        let tls = rustls::ClientConfig::builder().with_root_certificates(trusted_roots()?).with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { base, runtime, client, authorization: credentials()? })
    }

    pub fn families(&self) -> anyhow::Result<Vec<Family>> {
        let answer: Families = self.get("/families", &[("max_results".into(), "1000".into())])?;
        Ok(answer.families)
    }

    /// A model search; `params` are the fleet API's query parameters.
    pub fn search_models(&self, params: &[(String, String)]) -> anyhow::Result<Page<FleetModel>> {
        let answer: Models = self.get("/models", params)?;
        Ok(Page { items: answer.models, next_page_token: answer.next_page_token })
    }

    /// A version search; `params` are the fleet API's query parameters.
    pub fn search_versions(&self, params: &[(String, String)]) -> anyhow::Result<Page<FleetVersion>> {
        let answer: Versions = self.get("/versions", params)?;
        Ok(Page { items: answer.versions, next_page_token: answer.next_page_token })
    }

    pub fn promote(
        &self,
        rule: &PromotionRule,
        dry_run: bool,
        actor: &str,
        reason: &str,
    ) -> anyhow::Result<AliasReport> {
        let body = json!({ "rule": fleet_api::PromotionRule::from(rule), "dry_run": dry_run, "reason": reason });
        let answer: Report = self.post("/promotions", &body, actor)?;
        Ok(answer.report.into())
    }

    pub fn rollback(&self, batch: i64, actor: &str, reason: &str) -> anyhow::Result<AliasReport> {
        let answer: Report = self.post(&format!("/batches/{batch}/rollback"), &json!({ "reason": reason }), actor)?;
        Ok(answer.report.into())
    }

    /// The audit trail of every change (`GET /audit/events`).
    pub fn audit_events(&self, query: &AuditEventQuery) -> anyhow::Result<fleet_api::audit::AuditEvents> {
        let query = fleet_api::audit::to_query(query);
        let params: Vec<(String, String)> =
            form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        self.get("/audit/events", &params)
    }

    pub fn audit(&self, model: Option<&str>, batch: Option<i64>, limit: i64) -> anyhow::Result<Vec<AliasEvent>> {
        let mut params = vec![("max_results".to_string(), limit.to_string())];
        params.extend(model.map(|m| ("model".to_string(), m.to_string())));
        params.extend(batch.map(|b| ("batch".to_string(), b.to_string())));
        let answer: Events = self.get("/audit", &params)?;
        Ok(answer.events.into_iter().map(Into::into).collect())
    }

    /// Any JSON route of the server (`path` from the root, e.g. `/api/2.0/mlflow/users/list`),
    /// with the same credentials and error mapping as the fleet calls.
    pub fn json(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map_or_else(Full::default, |b| Full::new(Bytes::from(b.to_string())));
        self.send(request.body(body)?)
    }

    /// A route that takes raw bytes of `content_type` (`path` from the root).
    pub fn upload(&self, path: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<Value> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))?;
        self.send(request)
    }

    fn get<T: DeserializeOwned>(&self, path: &str, params: &[(String, String)]) -> anyhow::Result<T> {
        let mut uri = format!("{}{API}{path}", self.base);
        if !params.is_empty() {
            uri.push('?');
            uri.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish());
        }
        self.send(Request::builder().method(Method::GET).uri(&uri).body(Full::default())?)
    }

    fn post<T: DeserializeOwned>(&self, path: &str, body: &Value, actor: &str) -> anyhow::Result<T> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{API}{path}", self.base))
            .header("content-type", "application/json")
            .header(ACTOR_HEADER, actor)
            .body(Full::new(Bytes::from(body.to_string())))?;
        self.send(request)
    }

    fn send<T: DeserializeOwned>(&self, mut request: Request<Full<Bytes>>) -> anyhow::Result<T> {
        if let Some(value) = &self.authorization {
            request.headers_mut().insert(hyper::header::AUTHORIZATION, value.clone());
        }
        let uri = request.uri().clone();
        let round_trip = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let kind =
                response.headers().get(ERROR_KIND_HEADER).and_then(|v| v.to_str().ok()).and_then(ErrorKind::from_name);
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((status, kind, body))
        };
        let (status, kind, body) = self
            .runtime
            .block_on(async { tokio::time::timeout(REQUEST_TIMEOUT, round_trip).await })
            .map_err(|_| Error::interrupted(format!("{uri}: no answer within {} s", REQUEST_TIMEOUT.as_secs())))?
            .with_context(|| format!("requesting {uri}"))?;
        if !status.is_success() {
            return Err(answer_error(status, kind, &body).into());
        }
        serde_json::from_slice(&body).with_context(|| format!("reading the answer of {uri}"))
    }
}

/// The certificates an `https://` server is checked against (see the module doc).
fn trusted_roots() -> anyhow::Result<rustls::RootCertStore> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let given = std::env::var_os("MLFLOW_TRACKING_SERVER_CERT_PATH").filter(|p| !p.is_empty());
    let Some(path) = given.or_else(|| std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty())) else {
        let bundle = "/etc/ssl/certs/ca-certificates.crt";
        for cert in CertificateDer::pem_file_iter(bundle).into_iter().flatten().flatten() {
            let _ = roots.add(cert);
        }
        return Ok(roots);
    };
    let shown = std::path::Path::new(&path).display().to_string();
    for cert in CertificateDer::pem_file_iter(&path).with_context(|| format!("reading certificates from {shown}"))? {
        let cert = cert.with_context(|| format!("reading certificates from {shown}"))?;
        roots.add(cert).with_context(|| format!("a certificate in {shown}"))?;
    }
    anyhow::ensure!(!roots.is_empty(), "no certificate in {shown}");
    Ok(roots)
}

/// Credentials for a server with authentication, as the mlflow client takes
/// them: `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD` (Basic)
/// when both are set, else `MLFLOW_TRACKING_TOKEN` (Bearer, a flotilla token).
fn credentials() -> anyhow::Result<Option<hyper::header::HeaderValue>> {
    use base64::Engine;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let value = match (var("MLFLOW_TRACKING_USERNAME"), var("MLFLOW_TRACKING_PASSWORD"), var("MLFLOW_TRACKING_TOKEN")) {
        (Some(user), Some(password), _) => {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
        }
        (_, _, Some(token)) => format!("Bearer {token}"),
        _ => return Ok(None),
    };
    let mut value = hyper::header::HeaderValue::from_str(&value)
        .map_err(|_| Error::invalid("the credentials in MLFLOW_TRACKING_* are not valid in an HTTP header"))?;
    value.set_sensitive(true);
    Ok(Some(value))
}

/// The error a non-success answer carries, with the kind the server named in
/// its kind header, else the one its `error_code` names.
fn answer_error(status: StatusCode, kind: Option<ErrorKind>, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(e) => Error::new(kind.unwrap_or_else(|| crate::exit_code::kind_of_answer(&e.error_code)), e.message),
        Err(_) => {
            let kind = if status == StatusCode::NOT_FOUND { ErrorKind::NotFound } else { ErrorKind::Internal };
            Error::new(kind, format!("the server answered {status}: {}", String::from_utf8_lossy(body)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_header_wins_over_a_shared_error_code() {
        let body = br#"{"error_code": "BAD_REQUEST", "message": "ran past the budget"}"#;
        let named = answer_error(StatusCode::BAD_REQUEST, Some(ErrorKind::Interrupted), body);
        assert_eq!((named.kind, named.message.as_str()), (ErrorKind::Interrupted, "ran past the budget"));
        // An older server without the header: the code's kind.
        assert_eq!(answer_error(StatusCode::BAD_REQUEST, None, body).kind, ErrorKind::InvalidParameter);
    }
}
