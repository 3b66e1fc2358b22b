//! Opening an S3 store from `s3://bucket/prefix` and the standard AWS variables.
//!
//! The variables are passed in (the server hands over its environment), so tests configure a
//! store without touching the process environment. Plain HTTP is allowed only to an endpoint
//! on loopback, or when `AWS_ALLOW_HTTP=true` says so explicitly.

use std::net::IpAddr;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use flotilla_artifacts::ArtifactError;

/// Time allowed to connect to the endpoint.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for one request, body included. Downloads and uploads are cut into requests
/// of at most [`crate::RANGE_BYTES`] / [`crate::PUT_PART_BYTES`], so this is per chunk.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries of a failed request (transient errors, throttling), all within [`RETRY_WINDOW`].
const MAX_RETRIES: usize = 3;
/// A request is not retried past this long after its first try: an unreachable endpoint
/// fails in seconds, not after `object_store`'s default three minutes.
const RETRY_WINDOW: Duration = Duration::from_secs(15);

/// Bucket and key prefix of an `s3://bucket/prefix` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub bucket: String,
    /// Segments of the prefix (no empty ones).
    pub prefix: Vec<String>,
}

pub(crate) fn parse_url(url: &str) -> Result<Location, ArtifactError> {
    let bad = |why: &str| ArtifactError::InvalidUri(format!("{url}: {why} (expected s3://bucket[/prefix])"));
    let rest = url.strip_prefix("s3://").ok_or_else(|| bad("not an s3:// URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.'))
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !bucket_ok {
        return Err(bad("not a valid bucket name"));
    }
    let prefix: Vec<String> = prefix.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if prefix.iter().any(|s| s == "." || s == ".." || s.chars().any(|c| c.is_control())) {
        return Err(bad("the prefix has an unsafe segment"));
    }
    Ok(Location { bucket: bucket.to_owned(), prefix })
}

/// Whether plain HTTP may be used for `endpoint`: only to a loopback address, unless allowed.
pub(crate) fn http_allowed(endpoint: &str, explicitly: bool) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return explicitly;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    explicitly || host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A builder for `location`, configured from the `AWS_*` variables in `vars`.
pub(crate) fn builder(
    location: &Location,
    vars: &[(String, String)],
) -> Result<object_store::aws::AmazonS3, ArtifactError> {
    let mut builder = AmazonS3Builder::new().with_bucket_name(&location.bucket);
    let mut endpoint = None;
    let mut allow_http = false;
    for (key, value) in vars {
        match key.as_str() {
            "AWS_ENDPOINT_URL" | "AWS_ENDPOINT" | "AWS_ENDPOINT_URL_S3" => endpoint = Some(value.clone()),
            "AWS_ALLOW_HTTP" => allow_http = value.eq_ignore_ascii_case("true"),
            _ if key.starts_with("AWS_") => {
                // The same keys `AmazonS3Builder::from_env` reads; others are not ours.
                if let Ok(config) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                    builder = builder.with_config(config, value);
                }
            }
            _ => {}
        }
    }
    if let Some(endpoint) = &endpoint {
        if endpoint.starts_with("http://") && !http_allowed(endpoint, allow_http) {
            return Err(ArtifactError::InvalidUri(format!(
                "AWS_ENDPOINT_URL {endpoint} is plain http and not on loopback; set AWS_ALLOW_HTTP=true to allow it"
            )));
        }
        builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
    }
    let options = ClientOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        .with_allow_http(endpoint.as_deref().is_some_and(|e| http_allowed(e, allow_http)));
    let retry =
        RetryConfig { max_retries: MAX_RETRIES, retry_timeout: RETRY_WINDOW, backoff: BackoffConfig::default() };
    builder
        .with_client_options(options)
        .with_retry(retry)
        .build()
        .map_err(|e| ArtifactError::InvalidUri(format!("s3://{}: {e}", location.bucket)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_safe_prefix() {
        let ok = parse_url("s3://my-bucket/some/prefix/").unwrap();
        assert_eq!(ok, Location { bucket: "my-bucket".into(), prefix: vec!["some".into(), "prefix".into()] });
        assert_eq!(parse_url("s3://bkt").unwrap().prefix, Vec::<String>::new());
        for bad in ["file:///x", "s3://", "s3://A_B/x", "s3://ok-bucket/../x", "s3://-bad/x", "s3://ab"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let table = [
            ("http://127.0.0.1:9000", false, true),
            ("http://localhost:9000/", false, true),
            ("http://[::1]:9000", false, true),
            ("http://10.0.0.5:9000", false, false),
            ("http://s3.example.com", false, false),
            ("http://s3.example.com", true, true),
            ("https://s3.example.com", false, false),
        ];
        for (endpoint, explicitly, expected) in table {
            assert_eq!(http_allowed(endpoint, explicitly), expected, "{endpoint} {explicitly}");
        }
    }
}
