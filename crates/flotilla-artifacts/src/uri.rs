//! Parsing of the URIs that name stored artifacts (`mlflow-artifacts:`, `runs:`, `models:`).
//!
//! Only URIs that point back into this server's own storage are accepted. Everything that
//! would make the server read a local path (`file:`, bare paths: CVE-2023-1177, CVE-2024-3573)
//! or connect to another host (`http(s)`, `s3`, `ftp`, `hdfs`, host-addressed
//! `mlflow-artifacts://host/`: GHSA-mr9f-g8qf-4w4j) is refused here, before anything stores it.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::error::{ArtifactError, quote};
use crate::path::{ArtifactPath, MAX_PATH_BYTES, fully_decode};

/// Room for the longest stored path once percent-encoded (each byte at most
/// three: a path of non-ASCII characters triples) and a scheme and authority.
const MAX_URI_BYTES: usize = 3 * MAX_PATH_BYTES + 512;
/// MLflow's run-id and alias limit (`_validate_run_id`).
const MAX_ID_BYTES: usize = 256;

/// What a stored-artifact URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceUri {
    /// `mlflow-artifacts:/<path>`: a path in this server's artifact store.
    Artifacts(ArtifactPath),
    /// `runs:/<run_id>/<path>`: a path relative to a run's artifact root (root if empty).
    Run { run_id: String, path: ArtifactPath },
    /// `models:/m-<hex>`: a logged model by id.
    LoggedModel { model_id: String },
    /// `models:/<name>/<version|stage|latest>` or `models:/<name>@<alias>`.
    RegisteredModel { name: String, reference: ModelReference },
}

/// Which version of a registered model a `models:/` URI means.
///
/// Kept structured (rather than the raw suffix) so no caller has to re-parse `@` or digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelReference {
    /// `models:/name/3`
    Version(u64),
    /// `models:/name@champion`
    Alias(String),
    /// `models:/name/latest` (any case)
    Latest,
    /// `models:/name/Production`: legacy stages, matched case-insensitively by the caller.
    Stage(String),
}

/// Parse a URI naming stored artifacts (a model-version `source`, a `load_model` target).
pub fn parse_source_uri(uri: &str) -> Result<SourceUri, ArtifactError> {
    let fail = |reason: &str| ArtifactError::InvalidUri(format!("{}: {reason}", quote(uri)));
    if uri.len() > MAX_URI_BYTES {
        return Err(ArtifactError::InvalidUri(format!("the URI is longer than {MAX_URI_BYTES} bytes")));
    }
    // Fragments (`#`), path parameters (`;`) and queries (`?`) have each been used to slip
    // `..` past MLflow's checks (PR #11376, CVE-2024-1593, PR #10653); none has a use here,
    // so refuse them in any encoding, along with control characters and backslashes.
    let decoded = fully_decode(uri).map_err(fail)?;
    for c in decoded.chars() {
        match c {
            '#' => return Err(fail("fragments ('#') are not allowed")),
            ';' => return Err(fail("path parameters (';') are not allowed")),
            '?' => return Err(fail("query strings ('?') are not allowed")),
            '\\' => return Err(fail("backslashes are not allowed")),
            c if c.is_control() => return Err(fail("control characters are not allowed")),
            _ => {}
        }
    }
    let Some((scheme, rest)) = split_scheme(uri) else {
        return Err(fail("local paths are not accepted; use an mlflow-artifacts:/, runs:/ or models:/ URI"));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "mlflow-artifacts" => parse_artifacts(rest).map(SourceUri::Artifacts).map_err(|e| wrap(uri, e)),
        "runs" => parse_runs(rest).map_err(|e| wrap(uri, e)),
        "models" => parse_models(rest).map_err(|e| wrap(uri, e)),
        "file" => Err(fail("local file URIs are not accepted")),
        _ => Err(fail(
            "only mlflow-artifacts:/, runs:/ and models:/ URIs are accepted; \
             this server does not fetch from other locations or hosts",
        )),
    }
}

/// Validate a client-chosen experiment `artifact_location`.
///
/// Empty means "the server chooses" (`Ok(None)`). Otherwise only a directory in this
/// server's own store is allowed: MLflow still accepts `file:///etc` here, we do not.
pub fn validate_artifact_location(location: &str) -> Result<Option<ArtifactPath>, ArtifactError> {
    if location.is_empty() {
        return Ok(None);
    }
    match parse_source_uri(location)? {
        SourceUri::Artifacts(path) => Ok(Some(path)),
        SourceUri::Run { .. } | SourceUri::LoggedModel { .. } | SourceUri::RegisteredModel { .. } => {
            Err(ArtifactError::InvalidUri(format!(
                "{}: an artifact location must be an mlflow-artifacts:/<path> URI",
                quote(location)
            )))
        }
    }
}

/// The `mlflow-artifacts:/` URI of a stored path, encoded so that [`parse_source_uri`]
/// gives the same path back.
pub fn to_artifacts_uri(path: &ArtifactPath) -> String {
    format!("mlflow-artifacts:/{}", utf8_percent_encode(path.as_str(), URI_PATH))
}

/// What must be escaped in a URI path: `%` so decoding is exact, and whatever a URI parser
/// or an HTTP client would otherwise read as a delimiter.
const URI_PATH: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'"').add(b'<').add(b'>').add(b'`').add(b'{').add(b'}');

/// `scheme:rest`, if the text starts with an RFC 3986 scheme. A drive letter (`C:`) also
/// matches; it then fails as an unknown scheme, which is the answer we want.
fn split_scheme(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// Put the whole URI in front of a component's error, so the client sees what it sent.
fn wrap(uri: &str, error: ArtifactError) -> ArtifactError {
    ArtifactError::InvalidUri(format!("{}: {error}", quote(uri)))
}

fn parse_artifacts(rest: &str) -> Result<ArtifactPath, ArtifactError> {
    let path = if let Some(after) = rest.strip_prefix("//") {
        let (host, path) = after.split_once('/').unwrap_or((after, ""));
        if !host.is_empty() {
            // Following a client-named host is the SSRF of GHSA-mr9f-g8qf-4w4j.
            return Err(ArtifactError::InvalidUri(
                "host-addressed mlflow-artifacts URIs are not accepted; use mlflow-artifacts:/<path>".to_owned(),
            ));
        }
        path
    } else if let Some(path) = rest.strip_prefix('/') {
        path
    } else {
        return Err(ArtifactError::InvalidUri("expected mlflow-artifacts:/<path>".to_owned()));
    };
    ArtifactPath::parse(&decode_once(path)?)
}

fn parse_runs(rest: &str) -> Result<SourceUri, ArtifactError> {
    let Some(body) = rest.strip_prefix('/').filter(|b| !b.starts_with('/')) else {
        return Err(ArtifactError::InvalidUri("expected runs:/<run_id>/<path>".to_owned()));
    };
    let (run_id, path) = body.split_once('/').unwrap_or((body, ""));
    if !is_identifier(run_id) {
        return Err(ArtifactError::InvalidUri(format!("{} is not a valid run id", quote(run_id))));
    }
    let path = ArtifactPath::parse_dir(&decode_once(path)?)?;
    Ok(SourceUri::Run { run_id: run_id.to_owned(), path })
}

fn parse_models(rest: &str) -> Result<SourceUri, ArtifactError> {
    const SHAPES: &str = "expected models:/<name>/<version>, models:/<name>@<alias> or models:/m-<id>";
    let Some(body) = rest.strip_prefix('/').filter(|b| !b.starts_with('/')) else {
        return Err(ArtifactError::InvalidUri(SHAPES.to_owned()));
    };
    let parts: Vec<&str> = body.split('/').collect();
    match parts.as_slice() {
        [name, suffix] => {
            check_model_name(name)?;
            let reference = if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
                let version = suffix
                    .parse()
                    .map_err(|_| ArtifactError::InvalidUri(format!("{} is not a valid version", quote(suffix))))?;
                ModelReference::Version(version)
            } else if suffix.eq_ignore_ascii_case("latest") {
                ModelReference::Latest
            } else if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_alphabetic()) {
                ModelReference::Stage((*suffix).to_owned())
            } else {
                return Err(ArtifactError::InvalidUri(format!(
                    "{} is not a version, 'latest' or a stage",
                    quote(suffix)
                )));
            };
            Ok(SourceUri::RegisteredModel { name: (*name).to_owned(), reference })
        }
        [single] => {
            if let Some((name, alias)) = single.rsplit_once('@') {
                check_model_name(name)?;
                if !is_identifier(alias) {
                    return Err(ArtifactError::InvalidUri(format!("{} is not a valid alias", quote(alias))));
                }
                let reference = ModelReference::Alias(alias.to_owned());
                Ok(SourceUri::RegisteredModel { name: name.to_owned(), reference })
            } else if single
                .strip_prefix("m-")
                .is_some_and(|hex| !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                Ok(SourceUri::LoggedModel { model_id: (*single).to_owned() })
            } else {
                Err(ArtifactError::InvalidUri(SHAPES.to_owned()))
            }
        }
        _ => Err(ArtifactError::InvalidUri(SHAPES.to_owned())),
    }
}

/// MLflow's run-id / alias shape: `^[A-Za-z0-9][\w-]{0,255}$`.
fn is_identifier(text: &str) -> bool {
    text.len() <= MAX_ID_BYTES
        && text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Model names are looked up, never joined to a path, but a name that decodes to a path
/// separator or a traversal is still a lie about what it names.
fn check_model_name(name: &str) -> Result<(), ArtifactError> {
    let decoded = fully_decode(name).map_err(|e| ArtifactError::InvalidUri(e.to_owned()))?;
    let bad = decoded.trim().is_empty()
        || decoded == "."
        || decoded == ".."
        || decoded.len() > MAX_PATH_BYTES
        || decoded.contains(['/', ':', '@']);
    if bad {
        return Err(ArtifactError::InvalidUri(format!("{} is not a valid model name", quote(name))));
    }
    Ok(())
}

/// URI paths are percent-encoded; decode them once, as the HTTP router does for the
/// artifact endpoints, so both routes reach `ArtifactPath::parse` in the same form.
fn decode_once(path: &str) -> Result<String, ArtifactError> {
    percent_decode_str(path)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ArtifactError::InvalidUri("percent-encoding does not decode to UTF-8".to_owned()))
}

#[cfg(test)]
mod tests;
