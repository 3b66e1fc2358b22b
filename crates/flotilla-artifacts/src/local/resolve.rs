//! Turning an `ArtifactPath` into a filesystem path that provably stays under the root.
//!
//! `fs_path` is the only place in the crate where a `PathBuf` is built from an artifact
//! path. `ArtifactPath` already rules out `..`, absolute paths and separators, so the
//! lexical join cannot escape; what remains is a symlink planted inside the root that leads
//! out of it (MLflow PR #18964). `resolve` catches that by canonicalizing the deepest part
//! of the path that exists and checking it is still under the canonical root.
//!
//! The check and the later file operation are two steps (a time-of-check/time-of-use gap).
//! That is acceptable because nothing reachable through the API can create a symlink: the
//! threat is links left by an operator or another tool, not ones raced in by a client.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::ArtifactError;
use crate::path::ArtifactPath;

/// The directory under the root where uploads are staged; not part of the artifact tree.
pub(super) const TMP_DIR: &str = ".tmp";

/// What is on disk at a resolved path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A file (or a symlink, inside the root, to one).
    File,
    /// A directory (or a symlink, inside the root, to one).
    Dir,
    /// Nothing, and the deepest existing ancestor is a directory.
    Missing,
    /// Nothing can be there: an ancestor is a file.
    UnderFile,
}

/// A path checked to lie under the root, and what was found there.
#[derive(Debug)]
pub(super) struct Resolved {
    pub(super) full: PathBuf,
    pub(super) found: Found,
}

/// The lexical join of `root` and the segments of `path`. The only `ArtifactPath` → `PathBuf`.
fn fs_path(root: &Path, path: &ArtifactPath) -> PathBuf {
    let mut full = root.to_path_buf();
    full.extend(path.segments());
    full
}

/// Resolve `path` under the canonical `root`, refusing paths that a symlink leads outside.
pub(super) async fn resolve(root: &Path, path: &ArtifactPath) -> Result<Resolved, ArtifactError> {
    if path.segments().next() == Some(TMP_DIR) {
        return Err(ArtifactError::InvalidPath(format!("{path}: '{TMP_DIR}' is reserved by the artifact store")));
    }
    let full = fs_path(root, path);
    let root = root.to_path_buf();
    let path = path.clone();
    // Several metadata calls in a row: one blocking task instead of one per call.
    tokio::task::spawn_blocking(move || {
        let found = inspect(&root, &full, &path)?;
        Ok(Resolved { full, found })
    })
    .await
    .map_err(|join| ArtifactError::Io(std::io::Error::other(join)))?
}

/// Looks taken at a path whose entries keep vanishing under a concurrent delete.
const INSPECT_ATTEMPTS: usize = 3;

/// Walk up from `full` to the deepest entry that exists, check where it really leads, and
/// classify what is at `full`. An entry deleted between two looks makes the walk start
/// over: a concurrent delete is a race for the client to lose cleanly, not a failure.
fn inspect(root: &Path, full: &Path, path: &ArtifactPath) -> Result<Found, ArtifactError> {
    for _ in 0..INSPECT_ATTEMPTS {
        if let Some(found) = inspect_once(root, full, path)? {
            return Ok(found);
        }
    }
    Err(ArtifactError::Conflict(format!("{path} was changed by another request while it was looked up")))
}

/// One walk; `None` when an entry vanished while it was being looked at.
fn inspect_once(root: &Path, full: &Path, path: &ArtifactPath) -> Result<Option<Found>, ArtifactError> {
    let mut probe = full;
    loop {
        match std::fs::symlink_metadata(probe) {
            Ok(_) => {
                let canonical = match std::fs::canonicalize(probe) {
                    Ok(canonical) => canonical,
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        // Gone since lstat saw it: deleted meanwhile. Still there: a dangling symlink.
                        return match std::fs::symlink_metadata(probe) {
                            Err(gone) if gone.kind() == ErrorKind::NotFound => Ok(None),
                            Ok(_) | Err(_) => Err(escapes(path)),
                        };
                    }
                    Err(e) => return Err(e.into()),
                };
                if !canonical.starts_with(root) {
                    return Err(escapes(path));
                }
                let is_dir = match std::fs::metadata(&canonical) {
                    Ok(metadata) => metadata.is_dir(),
                    Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                return Ok(Some(match (probe == full, is_dir) {
                    (true, true) => Found::Dir,
                    (true, false) => Found::File,
                    (false, true) => Found::Missing,
                    (false, false) => Found::UnderFile,
                }));
            }
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                // The root itself always exists, so this stops at the latest there.
                probe = probe.parent().ok_or(e)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn escapes(path: &ArtifactPath) -> ArtifactError {
    ArtifactError::InvalidPath(format!("{path}: a symbolic link in the path does not resolve inside the artifact root"))
}

#[cfg(test)]
mod tests {
    use std::path::Component;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Whatever string a client sends, either it is refused or its lexical resolution
        /// is a strict descendant of the root with one normal component per segment.
        #[test]
        fn lexical_resolution_stays_under_the_root(raw in any::<String>(), tricky in "[a-z./\\\\%2eEfF5c:C]{0,24}") {
            let root = Path::new("/srv/artifacts");
            for input in [raw, tricky] {
                if let Ok(path) = ArtifactPath::parse(&input) {
                    let full = fs_path(root, &path);
                    prop_assert!(full.starts_with(root));
                    let below: Vec<_> = full.strip_prefix(root).unwrap().components().collect();
                    prop_assert_eq!(below.len(), path.segments().count());
                    prop_assert!(below.iter().all(|c| matches!(c, Component::Normal(_))), "{:?}", full);
                }
            }
        }
    }

    #[tokio::test]
    async fn the_staging_directory_is_reserved() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for raw in [".tmp", ".tmp/x", ".tmp/"] {
            let path = ArtifactPath::parse(raw).unwrap();
            let result = resolve(&root, &path).await;
            assert!(matches!(result, Err(ArtifactError::InvalidPath(_))), "{raw}: {result:?}");
        }
        let nested = ArtifactPath::parse("a/.tmp").unwrap();
        assert!(resolve(&root, &nested).await.is_ok());
    }
}
