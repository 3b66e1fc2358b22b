//! Staging an upload in `<root>/.tmp/` and publishing it with fsync + atomic rename.
//!
//! Readers only ever see a complete file: the old one until the rename, the new one after.
//! The staged file is removed when the upload fails *or when its future is dropped* (the
//! client hung up and the server cancelled the handler), by the guard's `Drop`. A process
//! killed mid-upload runs no `Drop`: its staged file is found at the next start, because every
//! upload holds an exclusive lock on its staged file until it is published, and a file nobody
//! holds is nobody's upload (the kernel drops a dead process's locks).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::error::ArtifactError;
use crate::path::ArtifactPath;
use crate::store::ByteStream;

/// Coalesces the small chunks an HTTP body arrives in into fewer blocking writes.
const WRITE_BUFFER: usize = 256 * 1024;
/// Staged files older than this are leftovers, whoever holds them (a lock that cannot be
/// taken on a file system without `flock`, say).
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Tries at creating the parents and publishing, when a delete keeps taking them away.
const PUBLISH_ATTEMPTS: usize = 3;
/// Prefix of trees a delete moved aside in the staging directory.
pub(super) const TRASH_PREFIX: &str = "trash-";

/// A staged file that deletes itself unless published.
struct Staged {
    path: PathBuf,
    published: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            // A blocking unlink in Drop: it is one quick syscall, and Drop is the only hook
            // that runs when the upload future is cancelled.
            if let Err(error) = std::fs::remove_file(&self.path)
                && error.kind() != ErrorKind::NotFound
            {
                tracing::warn!(path = %self.path.display(), %error, "could not remove staged upload");
            }
        }
    }
}

/// Stream `body` into a new file in `tmp_dir`, then move it to `target` (under the root,
/// already checked) creating missing parent directories. Returns the bytes written.
pub(super) async fn stage_and_publish(
    tmp_dir: &Path,
    target: &Path,
    path: &ArtifactPath,
    mut body: ByteStream,
) -> Result<u64, ArtifactError> {
    let (file, mut staged) = create_staged(tmp_dir).await?;
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut written: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(ArtifactError::Body)?;
        writer.write_all(&chunk).await?;
        written += chunk.len() as u64;
    }
    writer.flush().await?;
    let file = writer.into_inner();
    // The data must be on disk before the rename makes it visible, or a crash could
    // publish an empty or torn file under the final name.
    file.sync_all().await?;

    // Parents are created only now, so a failed upload leaves no empty directories behind.
    let parent = target.parent().ok_or_else(|| conflict(path, "the root is a directory"))?;
    publish(&staged.path, parent, target, path).await?;
    staged.published = true;
    // Held (with its lock) until published, so a starting process never takes it for a leftover.
    drop(file);

    // Make the rename itself durable. The file is already visible and complete, so a
    // failure here is logged rather than turned into a failed upload the client would retry.
    // A parent already gone again was deleted by a client since: nothing to make durable.
    if let Err(error) = sync_dir(parent).await
        && error.kind() != ErrorKind::NotFound
    {
        tracing::warn!(%path, %error, "could not fsync artifact directory after rename");
    }
    Ok(written)
}

/// Creates `parent` and renames the staged file to `target`. A concurrent
/// delete may take a parent away between the two steps (it moves the tree
/// aside in one rename); the upload then starts over, and after
/// [`PUBLISH_ATTEMPTS`] tries answers a conflict. Every race here (a file or
/// directory appeared or vanished since `resolve` looked) is the client's
/// conflict, never a server failure.
async fn publish(staged: &Path, parent: &Path, target: &Path, path: &ArtifactPath) -> Result<(), ArtifactError> {
    for attempt in 1..=PUBLISH_ATTEMPTS {
        let last = attempt == PUBLISH_ATTEMPTS;
        match tokio::fs::create_dir_all(parent).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound && !last => continue,
            Err(e) => return Err(publish_error(path, e)),
        }
        match tokio::fs::rename(staged, target).await {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound && !last => continue,
            Err(e) => return Err(publish_error(path, e)),
        }
    }
    Err(conflict(path, "its directory was deleted while it was written"))
}

fn publish_error(path: &ArtifactPath, e: std::io::Error) -> ArtifactError {
    let kind = e.kind();
    if matches!(kind, ErrorKind::IsADirectory | ErrorKind::DirectoryNotEmpty) {
        conflict(path, "it is a directory")
    } else if matches!(kind, ErrorKind::AlreadyExists | ErrorKind::NotADirectory) {
        conflict(path, "a parent is a file")
    } else if kind == ErrorKind::NotFound {
        conflict(path, "its directory was deleted while it was written")
    } else {
        ArtifactError::Io(e)
    }
}

/// A new staged file, locked exclusively: the lock says "an upload in progress" to any other
/// process opening the store (see [`remove_stale`]). Between creating the file and locking it,
/// a process starting up may take it for a leftover and remove it; the upload then sees its
/// lock taken or its name gone and starts over with a new file.
async fn create_staged(tmp_dir: &Path) -> Result<(File, Staged), ArtifactError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (file, staged) = create_unlocked(tmp_dir).await?;
        let file = file.into_std().await;
        let locked = match file.try_lock() {
            Ok(()) => true,
            Err(std::fs::TryLockError::WouldBlock) => false,
            Err(std::fs::TryLockError::Error(error)) => {
                // No `flock` here: the file is only collected once stale.
                tracing::debug!(path = %staged.path.display(), %error, "could not lock staged upload");
                return Ok((File::from_std(file), staged));
            }
        };
        if (locked && still_named(&file, &staged.path)) || attempt == PUBLISH_ATTEMPTS {
            return Ok((File::from_std(file), staged));
        }
    }
}

/// Whether `path` still names the file `file` has open.
fn still_named(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.dev(), named.ino()),
        (Ok(_) | Err(_), Ok(_) | Err(_)) => false,
    }
}

async fn create_unlocked(tmp_dir: &Path) -> Result<(File, Staged), ArtifactError> {
    let path = tmp_dir.join(format!("upload-{:016x}", rand::random::<u64>()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    let file = match options.open(&path).await {
        Ok(file) => file,
        // Someone removed the staging directory while we run; put it back once.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            tokio::fs::create_dir_all(tmp_dir).await?;
            options.open(&path).await?
        }
        Err(e) => return Err(e.into()),
    };
    Ok((file, Staged { path, published: false }))
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).await?.sync_all().await
}

/// Whether a live upload (in this process or another) holds the staged file's lock. A file
/// that cannot be opened or locked for another reason counts as held: kept until stale.
fn held_by_an_upload(path: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) else {
        return true;
    };
    match file.try_lock() {
        // Taken, so no one held it; it is released when `file` closes, just before the unlink.
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(error)) => {
            tracing::debug!(path = %path.display(), %error, "could not lock staged upload");
            true
        }
    }
}

fn conflict(path: &ArtifactPath, why: &str) -> ArtifactError {
    ArtifactError::Conflict(format!("cannot write {path}: {why}"))
}

/// Remove staged files left by a crash: those no live upload holds locked, and any older than
/// [`STALE_AFTER`]. Best effort: a failure only costs disk space.
pub(super) fn remove_stale(tmp_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp_dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() > STALE_AFTER);
        let trash = entry.file_name().to_str().is_some_and(|n| n.starts_with(TRASH_PREFIX));
        let upload = entry.file_name().to_str().is_some_and(|n| n.starts_with(super::multipart::MPU_PREFIX));
        let removed = if upload {
            // Multipart uploads outlive a restart; they expire by age (`multipart::remove_expired`).
            Ok(())
        } else if trash {
            // A delete the process did not live to finish: the tree was already gone for clients.
            std::fs::remove_dir_all(entry.path())
        } else if stale || !held_by_an_upload(&entry.path()) {
            std::fs::remove_file(entry.path())
        } else {
            Ok(())
        };
        if let Err(error) = removed {
            tracing::warn!(path = %entry.path().display(), %error, "could not remove stale upload");
        }
    }
}
