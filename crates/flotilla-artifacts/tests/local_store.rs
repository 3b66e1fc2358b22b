//! The behaviour suite and the local-only guarantees (symlinks, staging) of `LocalArtifactStore`.

use std::path::Path;

use flotilla_artifacts::testsuite::{behaviour_suite, body_of, read_all};
use flotilla_artifacts::{ArtifactError, ArtifactPath, ArtifactStore, LocalArtifactStore};

fn path(raw: &str) -> ArtifactPath {
    ArtifactPath::parse(raw).unwrap()
}

fn store_in(dir: &Path) -> LocalArtifactStore {
    LocalArtifactStore::new(dir.join("root")).unwrap()
}

fn staged_files(store: &LocalArtifactStore) -> usize {
    std::fs::read_dir(store.root().join(".tmp")).unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_store_passes_the_behaviour_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    behaviour_suite(&store).await;
    assert_eq!(staged_files(&store), 0, "no staged upload is left behind");
    // The suite cleans up after itself; only the staging directory remains.
    let left: Vec<_> = std::fs::read_dir(store.root()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [".tmp"]);
}

#[tokio::test]
async fn failed_and_dropped_uploads_leave_no_staged_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let failing =
        futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"some")), Err(std::io::Error::other("boom"))]);
    assert!(store.put(&path("a/b.txt"), Box::pin(failing)).await.is_err());
    assert_eq!(staged_files(&store), 0);
    assert!(!store.root().join("a").exists(), "no parent directory is created for a failed upload");

    let stalled = futures_util::StreamExt::chain(
        futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"some"))]),
        futures_util::stream::pending(),
    );
    let target = path("c.txt");
    let put = store.put(&target, Box::pin(stalled));
    assert!(tokio::time::timeout(std::time::Duration::from_millis(100), put).await.is_err());
    assert_eq!(staged_files(&store), 0);
}

#[tokio::test]
async fn the_staging_directory_is_hidden_and_unaddressable() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    store.put(&path("x.txt"), body_of(["x"])).await.unwrap();
    let names: Vec<_> = store.list(&ArtifactPath::root()).await.unwrap().into_iter().map(|f| f.path).collect();
    assert_eq!(names, [path("x.txt")]);
    for raw in [".tmp", ".tmp/upload-0"] {
        assert!(matches!(store.get(&path(raw)).await, Err(ArtifactError::InvalidPath(_))), "{raw}");
        assert!(matches!(store.put(&path(raw), body_of(["x"])).await, Err(ArtifactError::InvalidPath(_))));
        assert!(matches!(store.delete(&path(raw)).await, Err(ArtifactError::InvalidPath(_))));
    }
    assert!(matches!(store.delete(&ArtifactPath::root()).await, Err(ArtifactError::InvalidPath(_))));
}

#[tokio::test]
async fn staged_files_are_kept_while_an_upload_holds_them_and_removed_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    // An upload in progress in another process holds its staged file locked.
    let held = store.root().join(".tmp/upload-in-flight");
    std::fs::write(&held, b"x").unwrap();
    let holder = std::fs::OpenOptions::new().write(true).open(&held).unwrap();
    holder.try_lock().unwrap();
    // A process killed mid-upload left one nobody holds (the kernel dropped its lock).
    std::fs::write(store.root().join(".tmp/upload-of-a-killed-process"), b"x").unwrap();
    let again = LocalArtifactStore::new(store.root().to_path_buf()).unwrap();
    let left: Vec<_> = std::fs::read_dir(again.root().join(".tmp")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["upload-in-flight"]);
    drop(holder);
    let again = LocalArtifactStore::new(store.root().to_path_buf()).unwrap();
    assert_eq!(staged_files(&again), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_in_progress_survives_another_process_opening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let rest = futures_util::stream::once(async move {
        let _ = wait.await;
        Ok(bytes::Bytes::from_static(b" end"))
    });
    let body =
        futures_util::StreamExt::chain(futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"start"))]), rest);
    let put = tokio::spawn({
        let store = store.clone();
        async move { store.put(&path("slow.txt"), Box::pin(body)).await }
    });
    while staged_files(&store) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Opened again at any moment (even between the staged file's creation and its lock), the
    // store leaves the upload be, or the upload starts over with a new staged file.
    LocalArtifactStore::new(store.root().to_path_buf()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    LocalArtifactStore::new(store.root().to_path_buf()).unwrap();
    assert_eq!(staged_files(&store), 1, "the staged file of an upload in progress was removed");
    go.send(()).unwrap();
    assert_eq!(put.await.unwrap().unwrap(), 9);
    assert_eq!(read_all(store.get(&path("slow.txt")).await.unwrap()).await, b"start end");
}

#[cfg(unix)]
mod symlinks {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A store whose root holds links out (`out-dir`, `out-file`, `dangling`) and one link
    /// that stays inside (`in-dir` → `real`), next to a secret outside the root.
    fn planted() -> (tempfile::TempDir, LocalArtifactStore) {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
        let store = store_in(dir.path());
        let root = store.root().to_path_buf();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/file.txt"), b"inside").unwrap();
        symlink(&outside, root.join("out-dir")).unwrap();
        symlink(outside.join("secret.txt"), root.join("out-file")).unwrap();
        symlink(dir.path().join("nowhere"), root.join("dangling")).unwrap();
        symlink(root.join("real"), root.join("in-dir")).unwrap();
        std::fs::create_dir_all(root.join("exp")).unwrap();
        symlink(&outside, root.join("exp/nested-out")).unwrap();
        (dir, store)
    }

    fn refused<T: std::fmt::Debug>(result: Result<T, ArtifactError>, what: &str) {
        match result {
            Err(ArtifactError::InvalidPath(message)) => {
                assert!(!message.contains("/tmp"), "no filesystem path in {message:?}")
            }
            other => panic!("{what}: expected InvalidPath, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn links_leading_outside_the_root_are_refused() {
        let (dir, store) = planted();
        let escaping = [
            "out-dir",
            "out-dir/secret.txt",
            "out-dir/new.txt",
            "out-dir/new/deeper.txt",
            "out-file",
            "dangling",
            "dangling/x",
            "exp/nested-out/secret.txt",
        ];
        for raw in escaping {
            let p = path(raw);
            refused(store.get(&p).await, &format!("get {raw}"));
            refused(store.put(&p, body_of(["pwned"])).await, &format!("put {raw}"));
            refused(store.list(&p).await, &format!("list {raw}"));
            refused(store.delete(&p).await, &format!("delete {raw}"));
            refused(store.exists(&p).await, &format!("exists {raw}"));
        }
        let outside = dir.path().join("outside");
        assert_eq!(std::fs::read(outside.join("secret.txt")).unwrap(), b"secret");
        assert!(!outside.join("new.txt").exists() && !outside.join("new").exists());
    }

    #[tokio::test]
    async fn listings_leave_out_links_leading_outside() {
        let (_dir, store) = planted();
        let names: Vec<_> = store.list(&ArtifactPath::root()).await.unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(names, [path("exp"), path("in-dir"), path("real")]);
        assert!(store.list(&path("exp")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn links_staying_inside_the_root_work() {
        let (_dir, store) = planted();
        let object = store.get(&path("in-dir/file.txt")).await.unwrap();
        assert_eq!(read_all(object).await, b"inside");
        let listed = store.list(&path("in-dir")).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].path, path("in-dir/file.txt"));
        // Deleting a link removes the link, not the directory it points to.
        store.delete(&path("in-dir")).await.unwrap();
        assert!(store.root().join("real/file.txt").exists());
    }
}
