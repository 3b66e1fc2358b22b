//! MLflow's proxied multipart upload and `--artifacts s3://` on a real server process: the
//! permission a multipart upload needs (`--auth basic`), parts sent without credentials to the
//! URLs handed out, the audit entry of the completed file; the same flow on moto's S3; and a
//! server refusing to start on a bucket it cannot reach.

use flotilla_testkit::{Requester as Client, TempS3, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";

/// The experiment's run's artifact directory, as the mpu routes take it.
fn run_dir(client: &Client<'_>) -> String {
    let exp = client.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": "mpu" })))["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = client.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": exp })));
    let uri = run["run"]["info"]["artifact_uri"].as_str().unwrap();
    uri.strip_prefix("mlflow-artifacts:/").unwrap().trim_matches('/').to_string()
}

/// Upload `parts` through create, anonymous part PUTs and complete; the file's path.
fn upload(server: &TestServer, client: &Client<'_>, dir: &str, parts: &[Vec<u8>]) -> String {
    let create = json!({ "path": "/home/me/big.bin", "num_parts": parts.len() });
    let created = client.ok("POST", &format!("/api/2.0/mlflow-artifacts/mpu/create/{dir}"), Some(create));
    let upload_id = created["upload_id"].as_str().unwrap().to_string();
    let mut done = Vec::new();
    for (credential, data) in created["credentials"].as_array().unwrap().iter().zip(parts) {
        let url = credential["url"].as_str().unwrap();
        let path = url.strip_prefix(&server.base_url()).unwrap_or_else(|| panic!("{url} is on this server"));
        let reply = server.request("PUT", path, &[], data);
        assert_eq!(reply.status, 200, "part {}: {}", credential["part_number"], reply.text());
        let etag = reply.header("etag").expect("an ETag").to_string();
        done.push(json!({ "part_number": credential["part_number"], "etag": etag, "url": url }));
    }
    let complete = json!({ "path": "/home/me/big.bin", "upload_id": upload_id, "parts": done });
    client.ok("POST", &format!("/api/2.0/mlflow-artifacts/mpu/complete/{dir}"), Some(complete));
    format!("{dir}/big.bin")
}

fn parts() -> Vec<Vec<u8>> {
    vec![vec![7u8; 5 * 1024 * 1024], b"tail".to_vec()]
}

#[test]
fn a_multipart_upload_needs_edit_and_its_parts_need_only_the_upload_id() {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_DEFAULT_PERMISSION", "READ"),
    );
    let admin = Client::basic(&server, "admin", ADMIN_PASSWORD);
    admin.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "bob", "password": PASSWORD })));
    let bob = Client::basic(&server, "bob", PASSWORD);
    let anonymous = Client::anonymous(&server);
    let dir = run_dir(&admin);
    let exp = dir.split('/').next().unwrap().to_string();
    let create = || Some(json!({ "path": "/tmp/f.bin", "num_parts": 1 }));
    let route = |action: &str| format!("/api/2.0/mlflow-artifacts/mpu/{action}/{dir}");

    assert_eq!(anonymous.status("POST", &route("create"), create()), 401);
    assert_eq!(bob.status("POST", &route("create"), create()), 403, "READ may not start an upload");
    let abort = json!({ "path": "f.bin", "upload_id": "0".repeat(32) });
    assert_eq!(bob.status("POST", &route("abort"), Some(abort.clone())), 403);
    let grant = json!({ "username": "bob", "resource_type": "experiment", "resource_id": exp, "permission": "EDIT" });
    admin.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    assert_eq!(bob.status("POST", &route("abort"), Some(abort)), 404, "EDIT may, but no such upload");

    let path = upload(&server, &bob, &dir, &parts());
    let got = bob.call("GET", &format!("/api/2.0/mlflow-artifacts/artifacts/{path}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.body, parts().concat());

    // A part to a made-up upload id is refused without revealing anything.
    let forged = server.request("PUT", &format!("/api/2.0/mlflow-artifacts/mpu/part/{}/1", "a".repeat(32)), &[], b"x");
    assert_eq!(forged.status, 404, "{}", forged.text());
    let not_an_id = server.request("PUT", "/api/2.0/mlflow-artifacts/mpu/part/abc/1", &[], b"x");
    assert_eq!(not_an_id.status, 401, "only the exact part shape goes without credentials");

    let audit: Value = admin.get("/api/fleet/v1/audit/events?actor=bob&action=artifact.write");
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "the completion is audited once: {audit}");
    assert_eq!(events[0]["resource_id"].as_str(), Some(path.as_str()), "{audit}");
}

#[test]
fn the_server_keeps_artifacts_in_s3() {
    let Some(s3) = TempS3::start("served") else { return };
    let mut options = options!().env("FLOTILLA_ARTIFACTS", s3.url("team"));
    for (key, value) in s3.env() {
        options = options.env(key, value);
    }
    let server = TestServer::start(options);
    let client = Client::anonymous(&server);
    let dir = run_dir(&client);
    let put = server.request("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{dir}/small.txt"), &[], b"hello");
    assert_eq!(put.status, 200, "{}", put.text());
    let path = upload(&server, &client, &dir, &parts());
    let listing = client.get(&format!("/api/2.0/mlflow-artifacts/artifacts?path={dir}"));
    assert_eq!(listing["files"].as_array().unwrap().len(), 2, "{listing}");
    assert!(!server.data_dir().join("artifacts").join(&dir).exists(), "nothing on the local disk");

    // The objects are where an S3 client looks for them.
    let direct = flotilla_artifacts_s3::S3ArtifactStore::open(&s3.url(""), &s3.env()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = flotilla_artifacts::ArtifactPath::parse(&format!("team/{path}")).unwrap();
    let object = runtime.block_on(flotilla_artifacts::ArtifactStore::get(&direct, &key)).unwrap();
    assert_eq!(object.size, parts().concat().len() as u64);
}

#[test]
fn a_server_on_an_unreachable_bucket_does_not_start() {
    let Some(s3) = TempS3::start("exists") else { return };
    let data = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["server", "--port", "0", "--data-dir"])
        .arg(data.path())
        .env("FLOTILLA_ARTIFACTS", "s3://no-such-bucket/x")
        .envs(s3.env())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-bucket"), "names the bucket: {stderr}");
}
