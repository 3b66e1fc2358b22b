//! The S3 store against a real S3 server (moto, started by `flotilla_testkit::TempS3`): the
//! shared behaviour suite, the key layout under a prefix, and failures that must be clear
//! server-side errors rather than hangs or panics.

use std::time::{Duration, Instant};

use flotilla_artifacts::testsuite::{behaviour_suite, body_of, read_all};
use flotilla_artifacts::{ArtifactPath, ArtifactStore, LocalArtifactStore};
use flotilla_artifacts_s3::S3ArtifactStore;
use flotilla_core::ErrorKind;
use flotilla_testkit::TempS3;

fn path(raw: &str) -> ArtifactPath {
    ArtifactPath::parse(raw).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_passes_the_behaviour_suite() {
    let Some(s3) = TempS3::start("suite") else { return };
    let store = S3ArtifactStore::open(&s3.url("some/prefix"), &s3.env()).unwrap();
    store.check().await.unwrap();
    behaviour_suite(&store).await;
    // And at the bucket's root, without a prefix.
    let bare = S3ArtifactStore::open(&s3.url(""), &s3.env()).unwrap();
    behaviour_suite(&bare).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_live_under_the_prefix_and_tmp_is_reserved() {
    let Some(s3) = TempS3::start("layout") else { return };
    let prefixed = S3ArtifactStore::open(&s3.url("team/a"), &s3.env()).unwrap();
    let whole = S3ArtifactStore::open(&s3.url(""), &s3.env()).unwrap();
    prefixed.put(&path("1/run/artifacts/model.bin"), body_of(["weights"])).await.unwrap();
    let seen = whole.get(&path("team/a/1/run/artifacts/model.bin")).await.unwrap();
    assert_eq!(read_all(seen).await, b"weights");

    // An upload in flight keeps its manifest under `.tmp`, which no listing shows and no path names.
    let id = prefixed.create_multipart(&path("1/run/artifacts/big.bin")).await.unwrap();
    assert!(whole.exists(&path("team/a/.tmp")).await.unwrap(), "the manifest is stored");
    let root = prefixed.list(&ArtifactPath::root()).await.unwrap();
    assert_eq!(root.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["1"]);
    let reserved = prefixed.get(&path(".tmp/mpu")).await.unwrap_err();
    assert_eq!(reserved.kind(), ErrorKind::InvalidParameter, "{reserved}");
    prefixed.abort_multipart(&path("1/run/artifacts/big.bin"), &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_or_a_dead_endpoint_is_a_clear_server_error() {
    let Some(s3) = TempS3::start("present") else { return };
    let missing = S3ArtifactStore::open("s3://no-such-bucket/x", &s3.env()).unwrap();
    let error = missing.check().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Internal);
    assert!(error.to_string().contains("no-such-bucket"), "{error}");

    let env = s3.env();
    drop(s3);
    let dead = S3ArtifactStore::open("s3://present/x", &env).unwrap();
    let started = Instant::now();
    let error = dead.get(&path("a/b.txt")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Internal, "{error}");
    assert!(error.to_string().contains("present"), "names the bucket: {error}");
    assert!(started.elapsed() < Duration::from_secs(30), "gave up in {:?}", started.elapsed());
}

#[test]
fn plain_http_elsewhere_than_loopback_needs_to_be_allowed() {
    let mut env = vec![("AWS_ENDPOINT_URL".to_owned(), "http://192.0.2.1:9000".to_owned())];
    let refused = S3ArtifactStore::open("s3://bucket/x", &env).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidParameter, "{refused}");
    env.push(("AWS_ALLOW_HTTP".to_owned(), "true".to_owned()));
    assert!(S3ArtifactStore::open("s3://bucket/x", &env).is_ok());
    // Unused here, but both stores implement the one trait.
    let _: Option<&dyn ArtifactStore> = None::<&LocalArtifactStore>.map(|s| s as &dyn ArtifactStore);
}
