//! TLS for the accept loop (`--tls-cert`, `--tls-key`): rustls with the
//! `ring` provider, HTTP/1.1 only (ALPN `http/1.1`), TLS 1.2 and 1.3.
//!
//! The certificate and key are read once at start; a file that cannot be
//! read or holds no usable PEM is an error naming the file, so the server
//! does not start half-configured.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A loaded certificate chain and key, ready to accept connections.
#[derive(Clone)]
pub struct Tls(pub(super) TlsAcceptor);

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert: &Path, key: &Path) -> io::Result<Tls> {
        let bad = |path: &Path, what: &str, e: &dyn fmt::Display| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{what} {}: {e}", path.display()))
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, "reading the TLS certificate", &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(cert, "reading the TLS certificate", &e))?;
        if chain.is_empty() {
            return Err(bad(cert, "reading the TLS certificate", &"no CERTIFICATE block in the file"));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, "reading the TLS private key", &e))?;
        // The provider the crate's features pick: `ring`, the only one built.
        let mut config = ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("the TLS certificate and key do not fit: {e}"))
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls(TlsAcceptor::from(Arc::new(config))))
    }
}
