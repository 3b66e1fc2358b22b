//! The webhook sender alert delivery posts through: hyper's client over
//! plain TCP or TLS (the system's certificate bundle), with a connect
//! timeout and a total timeout on every post; the answer's body is not read.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Bytes;
use flotilla_app::monitor::alerts_delivery::{Sent, WebhookSender};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

pub struct HyperSender {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    total: Duration,
}

fn system_roots() -> rustls::RootCertStore {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let bundle = std::env::var_os("SSL_CERT_FILE").unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    for cert in CertificateDer::pem_file_iter(bundle).into_iter().flatten().flatten() {
        let _ = roots.add(cert);
    }
    roots
}

impl HyperSender {
    pub fn new(connect: Duration, total: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(connect));
        http.enforce_http(false);
        let tls = rustls::ClientConfig::builder().with_root_certificates(system_roots()).with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self { client: Client::builder(TokioExecutor::new()).build(connector), total }
    }
}

impl Default for HyperSender {
    fn default() -> Self {
        Self::new(CONNECT_TIMEOUT, TOTAL_TIMEOUT)
    }
}

impl WebhookSender for HyperSender {
    fn post(
        &self,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Sent> + Send>> {
        let client = self.client.clone();
        let total = self.total;
        Box::pin(async move {
            let mut request = hyper::Request::post(&url).header("user-agent", "flotilla-alerts");
            for (k, v) in headers {
                request = request.header(k, v);
            }
            let request = request.body(Full::new(Bytes::from(body))).map_err(|e| format!("bad request: {e}"))?;
            match tokio::time::timeout(total, client.request(request)).await {
                Ok(Ok(answer)) => Ok(answer.status().as_u16()),
                Ok(Err(e)) => Err(format!("{e}")),
                Err(_) => Err(format!("no answer within {total:?}")),
            }
        })
    }
}
