//! The behaviour suite every `ArtifactStore` must pass, plus helpers for tests elsewhere.
//!
//! One suite, run against every backend (STYLE rule 10): the local store runs it in this
//! crate's tests, an S3 backend runs the very same function. Everything happens under a
//! random prefix so the suite can share a bucket or directory with other runs. It panics on
//! the first broken expectation, like any test.

use std::time::Duration;

use bytes::Bytes;
use flotilla_core::ErrorKind;
use futures_util::{StreamExt, stream};

use crate::error::ArtifactError;
use crate::path::ArtifactPath;
use crate::store::{ArtifactObject, ArtifactStore, ByteStream, FileInfo};

/// Run every behaviour check against `store`.
pub async fn behaviour_suite(store: &dyn ArtifactStore) {
    let base = ArtifactPath::parse(&format!("suite-{:016x}", rand::random::<u64>())).unwrap();
    let at = |rest: &str| base.join(&ArtifactPath::parse(rest).unwrap()).unwrap();

    round_trips(store, &at).await;
    overwrites(store, &at).await;
    lists(store, &at).await;
    deletes(store, &at).await;
    reports_missing(store, &at).await;
    refuses_conflicts(store, &at).await;
    failed_body_keeps_the_old_file(store, &at).await;
    dropped_upload_keeps_the_old_file(store, &at).await;
    concurrent_puts_leave_one_whole_file(store, &at).await;
    streams_a_large_body(store, &at("large/blob.bin")).await;
    multipart_uploads(store, &at).await;

    store.delete(&base).await.expect("clean up the suite prefix");
    assert!(!store.exists(&base).await.unwrap());
}

/// A body made of the given chunks.
pub fn body_of<I, B>(chunks: I) -> ByteStream
where
    I: IntoIterator<Item = B>,
    I::IntoIter: Send + 'static,
    B: Into<Bytes>,
{
    // Lazy: a generated body is produced chunk by chunk as the store pulls it.
    Box::pin(stream::iter(chunks.into_iter().map(|c| Ok(c.into()))))
}

/// Read a whole object into memory (tests only: bodies are meant to be streamed).
pub async fn read_all(object: ArtifactObject) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::try_from(object.size).unwrap_or(0));
    let mut body = object.body;
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.expect("body chunk"));
    }
    out
}

async fn put(store: &dyn ArtifactStore, path: &ArtifactPath, data: &'static [u8]) {
    let written = store.put(path, body_of([data])).await.unwrap_or_else(|e| panic!("put {path}: {e}"));
    assert_eq!(written, data.len() as u64, "bytes written to {path}");
}

async fn content(store: &dyn ArtifactStore, path: &ArtifactPath) -> Vec<u8> {
    let object = store.get(path).await.unwrap_or_else(|e| panic!("get {path}: {e}"));
    let size = object.size;
    let data = read_all(object).await;
    assert_eq!(size, data.len() as u64, "announced size of {path}");
    data
}

fn assert_kind<T: std::fmt::Debug>(result: Result<T, ArtifactError>, kind: ErrorKind, what: &str) {
    match result {
        Err(e) => assert_eq!(e.kind(), kind, "{what}: {e}"),
        Ok(v) => panic!("{what}: expected {kind:?}, got Ok({v:?})"),
    }
}

async fn round_trips(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    let table: &[(&str, &[u8])] = &[
        ("rt/top.txt", b"hello"),
        ("rt/a/b/c/deep.bin", b"\x00\x01\x02\xff"),
        ("rt/empty", b""),
        ("rt/sp ace/50%.txt", b"percent"),
        ("rt/unicode/\u{65e5}\u{672c}.txt", b"nihon"),
        ("rt/x/2024-01-01T00:00:00.json", b"{}"),
    ];
    for (rest, data) in table {
        let path = at(rest);
        put(store, &path, data).await;
        assert_eq!(content(store, &path).await, *data, "{path}");
        assert!(store.exists(&path).await.unwrap(), "{path} exists");
    }
    // Parents exist implicitly, as in object storage.
    assert!(store.exists(&at("rt/a/b")).await.unwrap());
    // The chunking of the upload does not matter.
    let chunked = at("rt/chunked");
    store.put(&chunked, body_of(["ab", "", "cde", "f"])).await.unwrap();
    assert_eq!(content(store, &chunked).await, b"abcdef");
}

async fn overwrites(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    let path = at("ow/file.txt");
    put(store, &path, b"a much longer first version").await;
    put(store, &path, b"short").await;
    assert_eq!(content(store, &path).await, b"short");
}

async fn lists(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    put(store, &at("ls/b.txt"), b"bbb").await;
    put(store, &at("ls/a/inner.txt"), b"i").await;
    put(store, &at("ls/c/d/e.txt"), b"e").await;
    let file = |rest: &str, size: u64| FileInfo { path: at(rest), is_dir: false, size: Some(size) };
    let dir = |rest: &str| FileInfo { path: at(rest), is_dir: true, size: None };
    let table: Vec<(ArtifactPath, Vec<FileInfo>)> = vec![
        (at("ls"), vec![dir("ls/a"), file("ls/b.txt", 3), dir("ls/c")]),
        (at("ls/c"), vec![dir("ls/c/d")]),
        (at("ls/c/d"), vec![file("ls/c/d/e.txt", 1)]),
        // A file lists as itself (MLflow does this; the client relies on it).
        (at("ls/b.txt"), vec![file("ls/b.txt", 3)]),
        // Missing directories, and paths below a file, list as empty.
        (at("ls/missing"), vec![]),
        (at("ls/b.txt/below"), vec![]),
    ];
    for (path, expected) in table {
        assert_eq!(store.list(&path).await.unwrap(), expected, "list {path}");
    }
}

async fn deletes(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    put(store, &at("del/keep.txt"), b"k").await;
    put(store, &at("del/one.txt"), b"1").await;
    put(store, &at("del/tree/x/y.txt"), b"y").await;
    put(store, &at("del/tree/z.txt"), b"z").await;

    store.delete(&at("del/one.txt")).await.unwrap();
    assert!(!store.exists(&at("del/one.txt")).await.unwrap());
    store.delete(&at("del/tree")).await.unwrap();
    assert!(!store.exists(&at("del/tree")).await.unwrap());
    assert!(!store.exists(&at("del/tree/x/y.txt")).await.unwrap());
    assert_eq!(content(store, &at("del/keep.txt")).await, b"k", "siblings survive");

    assert_kind(store.delete(&at("del/one.txt")).await, ErrorKind::NotFound, "delete twice");
    assert_kind(store.delete(&at("del/never")).await, ErrorKind::NotFound, "delete missing");
}

async fn reports_missing(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    assert_kind(store.get(&at("nothing/here")).await, ErrorKind::NotFound, "get missing");
    assert!(!store.exists(&at("nothing/here")).await.unwrap());
}

async fn refuses_conflicts(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    put(store, &at("cf/dir/file.txt"), b"f").await;
    assert_kind(store.put(&at("cf/dir"), body_of(["x"])).await, ErrorKind::Conflict, "put onto a directory");
    assert_kind(store.put(&at("cf/dir/file.txt/below"), body_of(["x"])).await, ErrorKind::Conflict, "put below a file");
    match store.get(&at("cf/dir")).await {
        Err(ArtifactError::NotAFile(_)) => {}
        other => panic!("get of a directory: expected NotAFile, got {other:?}"),
    }
    assert_kind(store.get(&at("cf/dir/file.txt/below")).await, ErrorKind::NotFound, "get below a file");
    assert!(!store.exists(&at("cf/dir/file.txt/below")).await.unwrap());
    assert_eq!(content(store, &at("cf/dir/file.txt")).await, b"f", "conflicts change nothing");
}

/// A body that yields some data and then fails, like a client that drops mid-upload.
fn failing_body() -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"partial ")),
        Ok(Bytes::from(vec![b'x'; 300_000])),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away")),
        Ok(Bytes::from_static(b"never read")),
    ];
    Box::pin(stream::iter(chunks))
}

async fn failed_body_keeps_the_old_file(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    let old = at("fail/old.txt");
    put(store, &old, b"the old content").await;
    match store.put(&old, failing_body()).await {
        Err(ArtifactError::Body(_)) => {}
        other => panic!("failing body: expected Body error, got {other:?}"),
    }
    assert_eq!(content(store, &old).await, b"the old content");

    let fresh = at("fail/new/dir/file.txt");
    assert!(store.put(&fresh, failing_body()).await.is_err());
    assert!(!store.exists(&fresh).await.unwrap(), "no half-written file");
    assert_eq!(store.list(&at("fail")).await.unwrap().len(), 1, "nothing but old.txt in {:?}", at("fail"));
}

async fn dropped_upload_keeps_the_old_file(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    let path = at("drop/file.txt");
    put(store, &path, b"before").await;
    // Data arrives, then the client stalls forever; the server gives up (drops the future).
    let stalled: ByteStream = Box::pin(stream::iter([Ok(Bytes::from(vec![b'y'; 100_000]))]).chain(stream::pending()));
    let outcome = tokio::time::timeout(Duration::from_millis(300), store.put(&path, stalled)).await;
    assert!(outcome.is_err(), "a stalled upload cannot finish");
    assert_eq!(content(store, &path).await, b"before");
}

async fn concurrent_puts_leave_one_whole_file(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    let path = at("race/file.bin");
    let a = vec![b'a'; 200_000];
    let b = vec![b'b'; 200_000];
    let (ra, rb) = tokio::join!(
        store.put(&path, body_of(a.chunks(10_000).map(Bytes::copy_from_slice).collect::<Vec<_>>())),
        store.put(&path, body_of(b.chunks(10_000).map(Bytes::copy_from_slice).collect::<Vec<_>>())),
    );
    ra.unwrap();
    rb.unwrap();
    let data = content(store, &path).await;
    assert!(data == a || data == b, "the file is one upload, not a mix");
}

/// 50 MiB, generated and hashed on the fly on both sides, so neither side holds it whole.
async fn streams_a_large_body(store: &dyn ArtifactStore, path: &ArtifactPath) {
    const TOTAL: u64 = 50 * 1024 * 1024;
    let mut sent_hash = Fnv::new();
    for chunk in Generated::new(TOTAL) {
        sent_hash.update(&chunk);
    }
    let written = store.put(path, body_of(Generated::new(TOTAL))).await.unwrap();
    assert_eq!(written, TOTAL);

    let object = store.get(path).await.unwrap();
    assert_eq!(object.size, TOTAL);
    let mut received_hash = Fnv::new();
    let mut received = 0u64;
    let mut body = object.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        received += chunk.len() as u64;
        received_hash.update(&chunk);
    }
    assert_eq!(received, TOTAL);
    assert_eq!(received_hash.0, sent_hash.0, "checksum of the large body");
}

/// MLflow's proxied multipart upload: parts in any order, a retried part, completion into a
/// whole file, the part list checked, aborts, and ids bound to their path. The first part is
/// 5 MiB, S3's smallest part but the last.
async fn multipart_uploads(store: &dyn ArtifactStore, at: &dyn Fn(&str) -> ArtifactPath) {
    use crate::store::UploadedPart;
    const FIRST: usize = 5 * 1024 * 1024;
    let path = at("mpu/big.bin");
    let first: Vec<u8> = (0..FIRST).map(|i| (i % 251) as u8).collect();
    let second = b"the tail".to_vec();
    let id = store.create_multipart(&path).await.unwrap();
    assert_eq!(id.len(), crate::multipart::UPLOAD_ID_CHARS);
    assert!(!store.exists(&path).await.unwrap(), "nothing visible before completion");
    let tag2 = store.upload_part(&id, 2, body_of([second.clone()])).await.unwrap();
    let _superseded = store.upload_part(&id, 1, body_of([b"a first try".to_vec()])).await.unwrap();
    let tag1 = store
        .upload_part(&id, 1, body_of(first.chunks(100_000).map(Bytes::copy_from_slice).collect::<Vec<_>>()))
        .await
        .unwrap();
    let part = |n: u32, etag: &str| UploadedPart { part_number: n, etag: etag.to_owned() };

    assert_kind(
        store.complete_multipart(&path, &id, &[part(2, &tag2), part(1, &tag1)]).await,
        ErrorKind::InvalidParameter,
        "parts out of order",
    );
    assert_kind(store.complete_multipart(&path, &id, &[]).await, ErrorKind::InvalidParameter, "no parts");
    assert_kind(
        store.complete_multipart(&at("mpu/other.bin"), &id, &[part(1, &tag1), part(2, &tag2)]).await,
        ErrorKind::NotFound,
        "another path",
    );
    assert_kind(store.upload_part(&id, 0, body_of(["x"])).await, ErrorKind::InvalidParameter, "part 0");
    assert_kind(
        store.upload_part("0123456789abcdef0123456789abcdef", 1, body_of(["x"])).await,
        ErrorKind::NotFound,
        "unknown upload",
    );
    assert_kind(store.upload_part("../../etc/passwd", 1, body_of(["x"])).await, ErrorKind::NotFound, "a path as id");

    let size = store.complete_multipart(&path, &id, &[part(1, &tag1), part(2, &tag2)]).await.unwrap();
    assert_eq!(size, (FIRST + second.len()) as u64);
    let mut expected = first;
    expected.extend_from_slice(&second);
    assert!(content(store, &path).await == expected, "the parts joined in order");
    assert_kind(
        store.upload_part(&id, 3, body_of(["x"])).await,
        ErrorKind::NotFound,
        "a completed upload takes no part",
    );

    let aborted = at("mpu/aborted.bin");
    let id = store.create_multipart(&aborted).await.unwrap();
    store.upload_part(&id, 1, body_of(["data"])).await.unwrap();
    assert_kind(store.abort_multipart(&at("mpu/big.bin"), &id).await, ErrorKind::NotFound, "abort for another path");
    store.abort_multipart(&aborted, &id).await.unwrap();
    assert!(!store.exists(&aborted).await.unwrap());
    assert_kind(
        store.upload_part(&id, 2, body_of(["x"])).await,
        ErrorKind::NotFound,
        "an aborted upload takes no part",
    );

    assert_kind(store.create_multipart(&at("mpu")).await, ErrorKind::Conflict, "multipart onto a directory");
    assert_kind(store.create_multipart(&at("mpu/big.bin/below")).await, ErrorKind::Conflict, "multipart below a file");
    assert_eq!(store.list(&at("mpu")).await.unwrap().len(), 1, "only big.bin in {:?}", at("mpu"));
}

/// Deterministic pseudo-random chunks of irregular size (up to 128 KiB), like a network
/// delivers them; the same seed always yields the same bytes.
struct Generated {
    rng: u64,
    remaining: u64,
}

impl Generated {
    fn new(total: u64) -> Self {
        Generated { rng: 0x9e37_79b9_7f4a_7c15, remaining: total }
    }
    fn next_u64(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

impl Iterator for Generated {
    type Item = Bytes;
    fn next(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let size = (1 + self.next_u64() % (128 * 1024)).min(self.remaining) as usize;
        let mut chunk = Vec::with_capacity(size + 8);
        while chunk.len() < size {
            let word = self.next_u64();
            chunk.extend_from_slice(&word.to_le_bytes());
        }
        chunk.truncate(size);
        self.remaining -= size as u64;
        Some(Bytes::from(chunk))
    }
}

/// FNV-1a, 64 bit: enough to tell two 50 MiB bodies apart without a hashing dependency.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, data: &[u8]) {
        for byte in data {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
