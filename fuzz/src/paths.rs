//! Artifact paths and stored-artifact URIs (`flotilla_artifacts`).
//!
//! Invariants: an accepted path re-parses to itself, names something strictly
//! below any root it is joined to (every component normal, fully
//! percent-decoded too), and survives `to_artifacts_uri` and back.

use std::path::{Component, Path};

use flotilla_artifacts::{ArtifactPath, SourceUri, parse_source_uri, to_artifacts_uri, validate_artifact_location};

/// The text as a path and as a directory argument, plus `join`, `child`
/// and `parent` on what is accepted.
pub fn artifact_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = ArtifactPath::parse(text);
    let dir = ArtifactPath::parse_dir(text);
    if let Ok(p) = &file {
        assert_eq!(dir.as_ref().ok(), Some(p), "{text:?}: parse and parse_dir disagree");
        assert!(!p.is_root(), "{text:?}: parse gave the root");
    }
    let Ok(p) = dir else { return };
    check(&p);
    // A second path from the halves of the text, to exercise join and child.
    let mid = text.char_indices().map(|(i, _)| i).nth(text.chars().count() / 2).unwrap_or(0);
    let (a, b) = text.split_at(mid);
    if let (Ok(a), Ok(b)) = (ArtifactPath::parse_dir(a), ArtifactPath::parse_dir(b)) {
        if let Ok(joined) = a.join(&b) {
            check(&joined);
            assert!(joined.starts_with(&a), "{a:?} / {b:?} = {joined:?}");
        }
        if let Ok(child) = a.child(b.as_str()) {
            check(&child);
            assert_eq!(child.parent().as_ref(), Some(&a), "{a:?} child {b:?}");
        }
    }
}

/// The text as a model-version `source` and as an experiment's
/// `artifact_location`.
pub fn artifact_uri(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_source_uri(text) {
        Ok(SourceUri::Artifacts(p)) => check(&p),
        Ok(SourceUri::Run { run_id, path }) => {
            check(&path);
            assert!(!run_id.is_empty() && !run_id.contains('/'), "{text:?}: run id {run_id:?}");
        }
        Ok(SourceUri::LoggedModel { .. } | SourceUri::RegisteredModel { .. }) | Err(_) => {}
    }
    if let Ok(Some(p)) = validate_artifact_location(text) {
        check(&p);
    }
}

/// Everything an accepted path must be, whatever made it.
fn check(p: &ArtifactPath) {
    assert_eq!(ArtifactPath::parse_dir(p.as_str()).as_ref().ok(), Some(p), "{p:?} does not re-parse to itself");
    let decoded = percent_decode_all(p.as_str());
    for form in [p.as_str(), decoded.as_str()] {
        let root = Path::new("/srv/artifacts");
        let full = root.join(form);
        assert!(full.starts_with(root), "{p:?} escapes the root as {full:?}");
        let below: Vec<Component<'_>> = full.strip_prefix(root).unwrap_or(&full).components().collect();
        assert!(below.iter().all(|c| matches!(c, Component::Normal(_))), "{p:?}: components {below:?}");
        assert!(!form.contains('\\') && !form.contains('\0'), "{p:?}: backslash or NUL in {form:?}");
    }
    if p.is_root() {
        return;
    }
    match parse_source_uri(&to_artifacts_uri(p)) {
        Ok(SourceUri::Artifacts(back)) if &back == p => {}
        other => panic!("{p:?} -> {:?} -> {other:?}", to_artifacts_uri(p)),
    }
}

/// Percent-decodes until stable (lossily: only for judging the result).
fn percent_decode_all(s: &str) -> String {
    let mut current = s.to_owned();
    for _ in 0..16 {
        let next = decode_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn decode_once(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
