//! `ArtifactPath`: the one type for a relative artifact path, impossible to build from a bad one.
//!
//! Every artifact path that reaches storage comes from the network, so the rules are stricter
//! than MLflow's `validate_path_is_safe` (see MLFLOW-API.md §5.4): the input is percent-decoded
//! until stable and the decoded form is judged, because some layer (a proxy, the Python client,
//! an S3 gateway) may decode once more than we did. The *stored* form is the input as received,
//! minus one trailing slash, exactly like MLflow stores the once-decoded request path.

use std::fmt;

use percent_encoding::percent_decode_str;

use crate::error::{ArtifactError, quote};

/// Longest accepted path in bytes (Linux `PATH_MAX`; S3 keys allow 1024, the S3 backend may
/// add its own check).
pub const MAX_PATH_BYTES: usize = 4096;
/// Most segments in one path; deep trees are a DoS vector, not a use case.
pub const MAX_SEGMENTS: usize = 256;
/// Longest segment in bytes (Linux `NAME_MAX`), so a long name is a 400 rather than an
/// `ENAMETOOLONG` surfacing as a 500.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// MLflow's `_decode` gives up after 10 rounds; so do we, by rejecting.
const MAX_DECODE_ROUNDS: usize = 10;

/// A relative artifact path: segments joined by `/`, the root being the empty string.
///
/// Invariant: every value, including the results of [`join`](Self::join) and
/// [`parent`](Self::parent), satisfies `ArtifactPath::parse_dir(p.as_str()) == Ok(p)`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    /// The store root (the empty path). Only directory arguments may name it.
    pub fn root() -> Self {
        ArtifactPath(String::new())
    }

    /// Parse a path that must name something below the root (a file or a directory).
    pub fn parse(raw: &str) -> Result<Self, ArtifactError> {
        if raw.is_empty() {
            return Err(ArtifactError::InvalidPath("the path is empty".to_owned()));
        }
        Self::parse_dir(raw)
    }

    /// Parse a directory argument, where the empty string means the root.
    pub fn parse_dir(raw: &str) -> Result<Self, ArtifactError> {
        if raw.is_empty() {
            return Ok(Self::root());
        }
        let fail = |reason: &str| ArtifactError::InvalidPath(format!("{}: {reason}", quote(raw)));
        // Bound the work before decoding anything.
        if raw.len() > MAX_PATH_BYTES {
            return Err(ArtifactError::InvalidPath(format!("the path is longer than {MAX_PATH_BYTES} bytes")));
        }
        // One round fewer than a URI may take: `to_artifacts_uri` encodes the stored
        // path once more, and its URI must still parse.
        let decoded = decode_within(raw, MAX_DECODE_ROUNDS - 1).map_err(fail)?;
        // The decoded form is what a confused downstream component might act on; the raw
        // form is what we store. Both must pass. (Raw characters survive decoding, so the
        // raw check is belt and braces.)
        check_shape(&decoded).map_err(fail)?;
        let stored = check_shape(raw).map_err(fail)?;
        Ok(ArtifactPath(stored.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The segments, none for the root. Each is non-empty, not `.`/`..`, and has no `/`,
    /// `\`, control character, `#`, `;` or `?`.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        // Only the root has an empty segment, so filtering it is exactly the root case.
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// `self/other`. Fails only when the result exceeds the length or depth limits, which
    /// keeps the invariant that every value would also pass `parse_dir`.
    pub fn join(&self, other: &ArtifactPath) -> Result<ArtifactPath, ArtifactError> {
        if other.is_root() {
            return Ok(self.clone());
        }
        if self.is_root() {
            return Ok(other.clone());
        }
        // Re-parsing is cheap and proves the invariant instead of arguing it.
        Self::parse_dir(&format!("{}/{}", self.0, other.0))
    }

    /// `self/name` for a single segment `name` (e.g. a directory entry read from storage).
    pub fn child(&self, name: &str) -> Result<ArtifactPath, ArtifactError> {
        if name.contains('/') {
            return Err(ArtifactError::InvalidPath(format!("{}: a file name may not contain '/'", quote(name))));
        }
        self.join(&ArtifactPath::parse(name)?)
    }

    /// The containing directory; `None` only for the root.
    pub fn parent(&self) -> Option<ArtifactPath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rsplit_once('/') {
            Some((dir, _)) => ArtifactPath(dir.to_owned()),
            None => Self::root(),
        })
    }

    /// The last segment; `None` only for the root.
    pub fn file_name(&self) -> Option<&str> {
        self.segments().next_back()
    }

    /// Segment-wise prefix test: `a/b` starts with `a` but not with `a/b/c` nor `a/` + `bc`.
    pub fn starts_with(&self, prefix: &ArtifactPath) -> bool {
        let mut mine = self.segments();
        prefix.segments().all(|p| mine.next() == Some(p))
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactPath({:?})", self.0)
    }
}

impl AsRef<str> for ArtifactPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Percent-decode until the text stops changing (at most [`MAX_DECODE_ROUNDS`] rounds).
///
/// Decoding that yields bytes which are not UTF-8 is refused rather than decoded lossily:
/// overlong forms such as `%c0%ae` are a classic way to smuggle a `.` past a validator.
pub(crate) fn fully_decode(raw: &str) -> Result<String, &'static str> {
    decode_within(raw, MAX_DECODE_ROUNDS)
}

/// [`fully_decode`] in at most `rounds` rounds.
fn decode_within(raw: &str, rounds: usize) -> Result<String, &'static str> {
    let mut current = raw.to_owned();
    for _ in 0..rounds {
        let next =
            percent_decode_str(&current).decode_utf8().map_err(|_| "percent-encoding does not decode to UTF-8")?;
        if next == current {
            return Ok(current);
        }
        current = next.into_owned();
    }
    Err("the path is percent-encoded too many times")
}

/// Judge one form of the path; returns it without its (single, tolerated) trailing slash.
fn check_shape(text: &str) -> Result<&str, &'static str> {
    let body = text.strip_suffix('/').unwrap_or(text);
    if body.is_empty() {
        return Err("the path names no file or directory");
    }
    if body.starts_with('/') {
        return Err("absolute paths are not allowed");
    }
    if body.split('/').count() > MAX_SEGMENTS {
        return Err("the path has too many segments");
    }
    for (index, segment) in body.split('/').enumerate() {
        check_segment(segment, index == 0)?;
    }
    Ok(body)
}

fn check_segment(segment: &str, first: bool) -> Result<(), &'static str> {
    match segment {
        "" => return Err("empty path segments ('//') are not allowed"),
        "." => return Err("'.' segments are not allowed"),
        ".." => return Err("'..' segments are not allowed"),
        _ => {}
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Err("a path segment is longer than 255 bytes");
    }
    for c in segment.chars() {
        match c {
            '\\' => return Err("backslashes are not allowed"),
            '#' => return Err("'#' is not allowed"),
            ';' => return Err("';' is not allowed"),
            '?' => return Err("'?' is not allowed"),
            // A colon in the first segment reads as a URI scheme (`file:`, `s3:`) or a
            // Windows drive (`C:`) to anything that re-parses the path; later segments
            // may hold one (timestamps in file names are common).
            ':' if first => return Err("a scheme or drive prefix ('x:') is not allowed"),
            c if c.is_control() => return Err("control characters are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
