//! Artifact locations rewritten to flotilla's: `mlflow-artifacts:/<path>`
//! (the proxied server's own form, kept as it is), `runs:/` and `models:/`
//! (kept: flotilla resolves them), and local paths or `file:` URIs under
//! the source's artifact root (`--artifacts-from`) made relative to it, so
//! the copied files are found at the same relative path in flotilla's store.

use std::path::{Path, PathBuf};

/// How a source location maps into flotilla.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path in flotilla's artifact store (and the source root's): `1/<run>/artifacts`.
    Stored(String),
    /// A `runs:/` or `models:/` URI, resolved through the registry.
    Reference(String),
    /// Anything else (another host, a path outside the root): kept as given.
    Foreign(String),
}

/// The path of `uri` relative to the source artifact root, if it has one.
pub fn classify(uri: &str, root: Option<&Path>) -> Location {
    if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        // `mlflow-artifacts:/p`, or the host form `mlflow-artifacts://host/p`.
        let path = match rest.strip_prefix("//") {
            Some(hosted) => hosted.split_once('/').map_or("", |(_, p)| p),
            None => rest.trim_start_matches('/'),
        };
        return Location::Stored(path.trim_end_matches('/').to_string());
    }
    if uri.starts_with("runs:/") || uri.starts_with("models:/") {
        return Location::Reference(uri.to_string());
    }
    let local = uri.strip_prefix("file://").or_else(|| uri.starts_with('/').then_some(uri));
    if let (Some(local), Some(root)) = (local, root)
        && let Ok(relative) = Path::new(local).strip_prefix(root)
        && let Some(relative) = relative.to_str()
    {
        return Location::Stored(relative.trim_end_matches('/').to_string());
    }
    Location::Foreign(uri.to_string())
}

/// `uri` as flotilla should hold it: stored paths as `mlflow-artifacts:/...`,
/// `fallback` (the location flotilla would give the entity) for a foreign one.
pub fn rewrite(uri: &str, root: Option<&Path>, fallback: impl FnOnce() -> String) -> String {
    match classify(uri, root) {
        Location::Stored(path) => format!("mlflow-artifacts:/{path}"),
        Location::Reference(uri) => uri,
        Location::Foreign(_) => fallback(),
    }
}

/// Where in the source root a stored path lives.
pub fn source_path(root: &Path, stored: &str) -> PathBuf {
    root.join(stored)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Location, classify, rewrite};

    #[test]
    fn locations_map_to_flotillas() {
        let root = Some(Path::new("/srv/mlruns"));
        let cases = [
            ("mlflow-artifacts:/1/abc/artifacts", Location::Stored("1/abc/artifacts".into())),
            ("mlflow-artifacts://host:5000/1/abc/artifacts/", Location::Stored("1/abc/artifacts".into())),
            ("/srv/mlruns/1/abc/artifacts", Location::Stored("1/abc/artifacts".into())),
            ("file:///srv/mlruns/2", Location::Stored("2".into())),
            ("models:/m-123", Location::Reference("models:/m-123".into())),
            ("runs:/abc/model", Location::Reference("runs:/abc/model".into())),
            ("/elsewhere/1", Location::Foreign("/elsewhere/1".into())),
            ("s3://bucket/1", Location::Foreign("s3://bucket/1".into())),
        ];
        for (uri, want) in cases {
            assert_eq!(classify(uri, root), want, "{uri}");
        }
        assert_eq!(rewrite("/elsewhere/1", root, || "mlflow-artifacts:/1".into()), "mlflow-artifacts:/1");
        assert_eq!(rewrite("file:///srv/mlruns/2", root, String::new), "mlflow-artifacts:/2");
    }
}
