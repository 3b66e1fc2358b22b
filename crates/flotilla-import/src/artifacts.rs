//! The artifact copy: every file under the imported entities' locations in
//! the source root, streamed into flotilla's artifact directory at the same
//! relative path, in parallel (`--jobs`), with the SHA-256 of the source
//! (taken while copying) checked against the destination's (read back).
//! A file already in the destination is never overwritten: the same bytes
//! count as verified, other bytes as a checksum mismatch.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use flotilla_artifacts::ArtifactPath;
use flotilla_core::model::Experiment;
use flotilla_store::import::ImportedLoggedModel;
use indicatif::{ProgressBar, ProgressDrawTarget};
use sha2::{Digest, Sha256};

use crate::report::{ArtifactCounts, Report};
use crate::run::Options;
use crate::uris::{self, Location};
use crate::{ImportError, ImportResult};

const BUFFER: usize = 1 << 20;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |error| ImportError::Io { path: path.to_path_buf(), error }
}

/// Files and bytes under `root` (0, 0 if it is unreadable).
pub fn tree_size(root: &Path) -> (u64, u64) {
    let mut files = Vec::new();
    walk(root, "", &|_| false, &mut files);
    (files.len() as u64, files.iter().map(|(_, size)| size).sum())
}

/// Files under `dir` as (path relative to the walk's start, size), leaving
/// out directories `skip` names.
fn walk(dir: &Path, relative: &str, skip: &dyn Fn(&str) -> bool, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        let path = if relative.is_empty() { name.clone() } else { format!("{relative}/{name}") };
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if !skip(&path) {
                walk(&entry.path(), &path, skip, out);
            }
        } else if kind.is_file() {
            out.push((path, entry.metadata().map_or(0, |m| m.len())));
        }
    }
}

/// A run's directory name: 32 hex digits.
fn looks_like_run(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Copies the artifacts of what was imported and checks what versions name.
pub fn copy(
    experiments: &[Experiment],
    runs: &HashSet<String>,
    logged_models: &[ImportedLoggedModel],
    expected: &[(String, String)],
    options: &Options,
    report: &mut Report,
) -> ImportResult<()> {
    let counts = &mut report.artifacts;
    let Some(root) = options.artifacts_from.as_deref() else {
        counts.not_copied = Some("no --artifacts-from: give the source's artifact root to copy them".into());
        return Ok(());
    };
    if !root.is_dir() {
        counts.not_copied = Some(format!(
            "the artifact root {} is not a readable directory; the metadata was imported, the artifacts were not",
            root.display()
        ));
        counts.missing = expected.iter().map(|(label, path)| format!("{label}: {path}")).collect();
        return Ok(());
    }
    for (label, path) in expected {
        if !uris::source_path(root, path).exists() {
            counts.missing.push(format!("{label}: {path}"));
        }
    }
    let Some(destination) = options.artifacts_to.as_deref() else {
        counts.not_copied = Some("the destination has no local artifact directory (S3 is not supported yet)".into());
        return Ok(());
    };
    // The trees to copy: each experiment's, and logged models' kept elsewhere.
    let mut tops: Vec<String> = Vec::new();
    let locations = experiments
        .iter()
        .map(|e| &e.artifact_location)
        .chain(logged_models.iter().map(|m| &m.model.info.artifact_uri));
    for location in locations {
        if let Location::Stored(path) = uris::classify(location, Some(root)) {
            tops.push(path);
        }
    }
    tops.sort();
    tops.dedup();
    let tops: Vec<String> = tops
        .iter()
        .filter(|p| !tops.iter().any(|q| q != *p && (q.is_empty() || p.starts_with(&format!("{q}/")))))
        .cloned()
        .collect();
    let mut files = Vec::new();
    for top in &tops {
        let mut found = Vec::new();
        // A run directory of a run not imported (skipped) is left out.
        let skip = |relative: &str| !relative.contains('/') && looks_like_run(relative) && !runs.contains(relative);
        walk(&root.join(top), "", &skip, &mut found);
        files.extend(found.into_iter().map(|(p, size)| (if top.is_empty() { p } else { format!("{top}/{p}") }, size)));
    }
    copy_all(root, destination, &files, options, counts);
    Ok(())
}

/// One file's result.
enum Copied {
    Now(u64),
    Before(u64),
    Mismatch,
}

fn copy_all(root: &Path, destination: &Path, files: &[(String, u64)], options: &Options, counts: &mut ArtifactCounts) {
    counts.source_files = files.len() as u64;
    counts.source_bytes = files.iter().map(|(_, size)| size).sum();
    let bar = if options.progress {
        ProgressBar::with_draw_target(Some(counts.source_bytes), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, Result<Copied, String>)>> = Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, size)) = files.get(i) else { break };
                    let result = copy_one(root, destination, path).map_err(|e| e.to_string());
                    bar.inc(*size);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((path.clone(), result));
                }
            });
        }
    });
    bar.finish_and_clear();
    for (path, result) in results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        match result {
            Ok(Copied::Now(bytes)) => {
                counts.copied_files += 1;
                counts.destination_files += 1;
                counts.destination_bytes += bytes;
            }
            Ok(Copied::Before(bytes)) => {
                counts.destination_files += 1;
                counts.destination_bytes += bytes;
            }
            Ok(Copied::Mismatch) => counts.checksum_mismatches.push(path),
            Err(error) => counts.missing.push(format!("{path}: {error}")),
        }
    }
    counts.checksum_mismatches.sort();
    counts.missing.sort();
}

/// SHA-256 of a file, streamed.
fn sha256(path: &Path) -> ImportResult<([u8; 32], u64)> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; BUFFER];
    let mut total = 0;
    loop {
        let n = file.read(&mut buffer).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize().into(), total))
}

fn copy_one(root: &Path, destination: &Path, relative: &str) -> ImportResult<Copied> {
    let checked = ArtifactPath::parse(relative)
        .map_err(|e| ImportError::Source(format!("artifact path {relative:?} refused: {e}")))?;
    let from = root.join(relative);
    let to: PathBuf = destination.join(checked.as_str());
    if to.exists() {
        let (want, bytes) = sha256(&from)?;
        let (have, _) = sha256(&to)?;
        return Ok(if want == have { Copied::Before(bytes) } else { Copied::Mismatch });
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let staged = to.with_file_name(format!(
        ".{}.import-{}",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("artifact"),
        std::process::id()
    ));
    let mut input = File::open(&from).map_err(io(&from))?;
    let mut output = File::create(&staged).map_err(io(&staged))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; BUFFER];
    loop {
        let n = input.read(&mut buffer).map_err(io(&from))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        output.write_all(&buffer[..n]).map_err(io(&staged))?;
    }
    output.sync_all().map_err(io(&staged))?;
    drop(output);
    let want: [u8; 32] = hasher.finalize().into();
    let (have, bytes) = sha256(&staged)?;
    if want != have {
        let _ = std::fs::remove_file(&staged);
        return Ok(Copied::Mismatch);
    }
    std::fs::rename(&staged, &to).map_err(io(&to))?;
    Ok(Copied::Now(bytes))
}
