//! Tables of accepted and rejected source URIs and artifact locations.

use proptest::prelude::*;

use super::*;

fn path(raw: &str) -> ArtifactPath {
    ArtifactPath::parse_dir(raw).unwrap()
}

fn registered(name: &str, reference: ModelReference) -> SourceUri {
    SourceUri::RegisteredModel { name: name.to_owned(), reference }
}

#[test]
fn accepted_source_uris() {
    let table: Vec<(&str, SourceUri)> = vec![
        ("mlflow-artifacts:/1/abc/artifacts/model", SourceUri::Artifacts(path("1/abc/artifacts/model"))),
        ("mlflow-artifacts:///1/x", SourceUri::Artifacts(path("1/x"))),
        ("MLFLOW-ARTIFACTS:/1/x", SourceUri::Artifacts(path("1/x"))),
        ("mlflow-artifacts:/1/a%20b", SourceUri::Artifacts(path("1/a b"))),
        ("mlflow-artifacts:/1/50%.txt", SourceUri::Artifacts(path("1/50%.txt"))),
        ("mlflow-artifacts:/1/dir/", SourceUri::Artifacts(path("1/dir"))),
        ("runs:/0123abcd/model", SourceUri::Run { run_id: "0123abcd".to_owned(), path: path("model") }),
        ("runs:/0123abcd/a/b/c", SourceUri::Run { run_id: "0123abcd".to_owned(), path: path("a/b/c") }),
        ("runs:/0123abcd", SourceUri::Run { run_id: "0123abcd".to_owned(), path: ArtifactPath::root() }),
        ("runs:/0123abcd/", SourceUri::Run { run_id: "0123abcd".to_owned(), path: ArtifactPath::root() }),
        ("models:/my-model/3", registered("my-model", ModelReference::Version(3))),
        ("models:/my model/3", registered("my model", ModelReference::Version(3))),
        ("models:/m/latest", registered("m", ModelReference::Latest)),
        ("models:/m/LATEST", registered("m", ModelReference::Latest)),
        ("models:/m/Production", registered("m", ModelReference::Stage("Production".to_owned()))),
        ("models:/m@champion", registered("m", ModelReference::Alias("champion".to_owned()))),
        ("models:/m-0123456789abcdef", SourceUri::LoggedModel { model_id: "m-0123456789abcdef".to_owned() }),
        ("models:/m-0123/1", registered("m-0123", ModelReference::Version(1))),
    ];
    for (uri, expected) in table {
        match parse_source_uri(uri) {
            Ok(parsed) => assert_eq!(parsed, expected, "{uri}"),
            Err(e) => panic!("{uri:?} should be accepted, got {e}"),
        }
    }
}

/// Includes the model-version `source` and `artifact_location` examples of MLFLOW-API.md §5.4.
const REJECTED_SOURCES: &[&str] = &[
    "",
    "/etc",
    "/etc/passwd",
    "relative/path",
    "model",
    "file:///etc",
    "file:/etc/passwd",
    "FILE:///etc",
    "C:\\models\\x",
    "c:/models/x",
    "\\\\server\\share",
    "http://host/api/2.0/mlflow-artifacts/artifacts/../../",
    "https://other-host/model",
    "http://169.254.169.254/latest",
    "s3://bucket/a",
    "s3:/bucket/a/../../b",
    "gs://bucket/a",
    "ftp://host/x",
    "sftp://host/x",
    "hdfs://host/x",
    "viewfs://host/x",
    "dbfs:/x",
    "mlflow-artifacts:/../../../etc",
    "mlflow-artifacts:/1/../../etc",
    "mlflow-artifacts://host:port/..%2f..%2f",
    "mlflow-artifacts://host:5000/1/model",
    "mlflow-artifacts:/1/%2e%2e/x",
    "mlflow-artifacts:/1/%252e%252e%252fx",
    "mlflow-artifacts:/1/artifacts%00",
    "mlflow-artifacts:/1/a\0b",
    "mlflow-artifacts:/1/a#b",
    "mlflow-artifacts:/1/a%23b",
    "mlflow-artifacts:/1/a;b",
    "mlflow-artifacts:/1/x?p=../..",
    "mlflow-artifacts:/1/x?a=b",
    "mlflow-artifacts:/1/a\\b",
    "mlflow-artifacts:/1//b",
    "mlflow-artifacts:/",
    "mlflow-artifacts:",
    "mlflow-artifacts:1/x",
    "mlflow-artifacts:/C:/x",
    "runs:/",
    "runs://netloc/run/model",
    "runs:/../model",
    "runs:/run/../../x",
    "runs:/run/%2e%2e/x",
    "runs:/-bad/model",
    "runs:/r%2fx/model",
    "runs:/run/model#frag",
    "models:/",
    "models://host/m/1",
    "models:/m",
    "models:/m/",
    "models:/m/1/extra",
    "models:/m/1.5",
    "models:/m/99999999999999999999999",
    "models:/m@",
    "models:/@alias",
    "models:/m@bad alias",
    "models:/..%2f..%2fetc/1",
    "models:/../1",
    "models:/a%3Ab/1",
    "models:/m-xyz",
    "models:/m-",
];

#[test]
fn rejected_source_uris() {
    for uri in REJECTED_SOURCES {
        match parse_source_uri(uri) {
            Err(ArtifactError::InvalidUri(message)) => assert!(!message.is_empty()),
            other => panic!("{uri:?} should be an InvalidUri, got {other:?}"),
        }
    }
}

#[test]
fn artifact_locations() {
    let accepted: &[(&str, Option<&str>)] =
        &[("", None), ("mlflow-artifacts:/1", Some("1")), ("mlflow-artifacts:/team/exp-7/", Some("team/exp-7"))];
    for (location, expected) in accepted {
        let got = validate_artifact_location(location).unwrap_or_else(|e| panic!("{location:?}: {e}"));
        assert_eq!(got, expected.map(path), "{location:?}");
    }
    let rejected = [
        "file:///etc",
        "/tmp/artifacts",
        "s3://b/p?x=../../",
        "s3://bucket/prefix",
        "http://169.254.169.254/latest",
        "mlflow-artifacts:/1#frag",
        "mlflow-artifacts:/1;x=y",
        "mlflow-artifacts://evil/1",
        "mlflow-artifacts:/",
        "runs:/0123/artifacts",
        "models:/m/1",
        "models:/m-0123",
    ];
    for location in rejected {
        assert!(validate_artifact_location(location).is_err(), "{location:?} should be rejected");
    }
}

#[test]
fn errors_are_client_errors() {
    let error = parse_source_uri("file:///etc/passwd").unwrap_err();
    assert!(error.is_client_error());
    assert!(error.to_string().contains("file:///etc/passwd"), "{error}");
}

proptest! {
    #[test]
    fn artifacts_uri_roundtrips(raw in "[a-z0-9 %#?;.é_-]{1,12}(/[a-z0-9 %.é_-]{1,12}){0,4}") {
        if let Ok(p) = ArtifactPath::parse(&raw) {
            let uri = to_artifacts_uri(&p);
            prop_assert_eq!(parse_source_uri(&uri).ok(), Some(SourceUri::Artifacts(p)), "{}", uri);
        }
    }
}
