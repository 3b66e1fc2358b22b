//! The audit trail on a real server process with `--auth basic`: each kind
//! of change leaves one row with the authenticated actor, its method and
//! token id, the client address, the request id it was sent (`x-request-id`)
//! and, for small changes, before and after; a refused change leaves no
//! change and no row (refusals are not recorded); artifact writes and
//! deletes are audited; the API filters and pages, and the CLI (both on the
//! data directory and through `--server`) and the UI show the same rows.

use std::process::Command;

use base64::Engine;
use flotilla_testkit::{Reply, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// Sends a request with credentials, an `x-request-id`, and a JSON body when given.
fn send(server: &TestServer, method: &str, path: &str, auth: &str, id: &str, body: Option<&Value>) -> Reply {
    let mut headers = vec![("Authorization", auth), ("x-request-id", id)];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    server.request(method, path, &headers, &bytes)
}

fn ok(reply: Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// The events of one request id, through the API.
fn events_of(server: &TestServer, auth: &str, request_id: &str) -> Vec<Value> {
    let r = send(server, "GET", &format!("/api/fleet/v1/audit/events?request_id={request_id}"), auth, "q", None);
    ok(r)["events"].as_array().unwrap().clone()
}

/// The one event of a request, checked for who, how and from where.
fn one(server: &TestServer, auth: &str, request_id: &str, actor: &str, action: &str) -> Value {
    let events = events_of(server, auth, request_id);
    assert_eq!(events.len(), 1, "{request_id}: {events:?}");
    let e = events[0].clone();
    assert_eq!((e["actor"].as_str(), e["action"].as_str()), (Some(actor), Some(action)), "{e}");
    assert_eq!(e["request_id"], request_id);
    assert_eq!(e["client"], "127.0.0.1", "{e}");
    assert_eq!(e["outcome"], "ok");
    e
}

#[test]
fn every_kind_of_change_is_audited_with_who_where_and_what() {
    let server =
        TestServer::start(options!().env("FLOTILLA_AUTH", "basic").env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD));
    let admin = basic("admin", ADMIN_PASSWORD);
    let user = json!({ "username": "alice", "password": "alice-password-1" });
    ok(send(&server, "POST", "/api/2.0/mlflow/users/create", &admin, "u-1", Some(&user)));
    let e = one(&server, &admin, "u-1", "admin", "user.create");
    assert_eq!(e["method"], "password");
    assert!(!e.to_string().contains("alice-password-1"), "no password in the trail: {e}");
    let alice = basic("alice", "alice-password-1");
    let t = ok(send(
        &server,
        "POST",
        "/api/fleet/v1/tokens",
        &alice,
        "t-1",
        Some(&json!({ "name": "ci", "scope": "write" })),
    ));
    let token = t["token"].as_str().unwrap().to_string();
    let token_id = token[4..12].to_string();
    assert_eq!(one(&server, &admin, "t-1", "alice", "token.create")["resource_id"], token_id.as_str());
    let bearer = format!("Bearer {token}");

    // MLflow writes with the token: its id is recorded.
    let exp = ok(send(
        &server,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &bearer,
        "e-1",
        Some(&json!({"name": "audited"})),
    ));
    let e = one(&server, &admin, "e-1", "alice", "experiment.create");
    assert_eq!((e["method"].as_str(), e["token_id"].as_str()), (Some("token"), Some(token_id.as_str())));
    let exp_id = exp["experiment_id"].as_str().unwrap();
    let path = "/api/2.0/mlflow/registered-models";
    ok(send(&server, "POST", &format!("{path}/create"), &bearer, "m-1", Some(&json!({"name": "m"}))));
    one(&server, &admin, "m-1", "alice", "registered_model.create");
    for (id, value) in [("tag-1", "a"), ("tag-2", "b")] {
        let tag = json!({"name": "m", "key": "team", "value": value});
        ok(send(&server, "POST", &format!("{path}/set-tag"), &bearer, id, Some(&tag)));
    }
    let e = one(&server, &admin, "tag-2", "alice", "registered_model.set_tag");
    assert_eq!((e["before"]["value"].as_str(), e["after"]["value"].as_str()), (Some("a"), Some("b")), "{e}");
    ok(send(
        &server,
        "PATCH",
        &format!("{path}/update"),
        &bearer,
        "d-1",
        Some(&json!({"name": "m", "description": "new"})),
    ));
    let e = one(&server, &admin, "d-1", "alice", "registered_model.update");
    assert_eq!((e["before"]["description"].as_str(), e["after"]["description"].as_str()), (Some(""), Some("new")));
    ok(send(&server, "POST", &format!("{path}/rename"), &bearer, "r-1", Some(&json!({"name": "m", "new_name": "m2"}))));
    let e = one(&server, &admin, "r-1", "alice", "registered_model.rename");
    assert_eq!((e["before"]["name"].as_str(), e["after"]["name"].as_str()), (Some("m"), Some("m2")));

    // A run logging many points is one row with a count.
    let run = ok(send(
        &server,
        "POST",
        "/api/2.0/mlflow/runs/create",
        &bearer,
        "run-1",
        Some(&json!({"experiment_id": exp_id})),
    ));
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let metrics: Vec<Value> = (0..25).map(|i| json!({"key": "loss", "value": i, "timestamp": 1, "step": i})).collect();
    ok(send(
        &server,
        "POST",
        "/api/2.0/mlflow/runs/log-batch",
        &bearer,
        "lb-1",
        Some(&json!({"run_id": run_id, "metrics": metrics})),
    ));
    let e = one(&server, &admin, "lb-1", "alice", "run.log_batch");
    assert_eq!(
        (e["count"].as_i64(), e["after"]["metrics"].as_i64(), e["resource_id"].as_str()),
        (Some(25), Some(25), Some(run_id.as_str()))
    );

    // Versions, aliases and stages.
    let mv = json!({"name": "m2", "source": format!("mlflow-artifacts:/{exp_id}/{run_id}/artifacts/model"), "run_id": run_id});
    ok(send(&server, "POST", "/api/2.0/mlflow/model-versions/create", &bearer, "v-1", Some(&mv)));
    one(&server, &admin, "v-1", "alice", "model_version.create");
    ok(send(
        &server,
        "POST",
        &format!("{path}/alias"),
        &bearer,
        "a-1",
        Some(&json!({"name": "m2", "alias": "champion", "version": "1"})),
    ));
    let e = one(&server, &admin, "a-1", "alice", "registered_model.set_alias");
    assert_eq!((e["before"]["version"].clone(), e["after"]["version"].as_i64()), (Value::Null, Some(1)));
    let stage = json!({"name": "m2", "version": "1", "stage": "Production", "archive_existing_versions": false});
    ok(send(&server, "POST", "/api/2.0/mlflow/model-versions/transition-stage", &bearer, "s-1", Some(&stage)));
    let e = one(&server, &admin, "s-1", "alice", "model_version.transition_stage");
    assert_eq!((e["before"]["stage"].as_str(), e["after"]["stage"].as_str()), (Some("None"), Some("Production")));

    // A refused change: nothing changed, nothing recorded.
    let r = send(&server, "POST", &format!("{path}/create"), &bearer, "m-dup", Some(&json!({"name": "m2"})));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(events_of(&server, &admin, "m-dup").is_empty());

    // Artifacts through the proxy.
    let artifact = format!("/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/notes.txt");
    let put = server.request("PUT", &artifact, &[("Authorization", &bearer), ("x-request-id", "art-1")], b"hello");
    assert_eq!(put.status, 200, "{}", put.text());
    let e = one(&server, &admin, "art-1", "alice", "artifact.write");
    assert_eq!((e["resource_id"].as_str(), e["after"]["bytes"].as_i64()), (Some(&artifact[36..]), Some(5)), "{e}");
    ok(send(&server, "DELETE", &artifact, &bearer, "art-2", None));
    one(&server, &admin, "art-2", "alice", "artifact.delete");

    // Filters and paging.
    let list = |q: &str| ok(send(&server, "GET", &format!("/api/fleet/v1/audit/events?{q}"), &admin, "q", None));
    let mine = list("actor=alice&action=registered_model.*")["events"].as_array().unwrap().len();
    assert_eq!(mine, 6, "create, two tags, update, rename, alias");
    let (mut seen, mut cursor) = (0, String::new());
    loop {
        let page = list(&format!("actor=alice&max_results=4&page_token={cursor}"));
        seen += page["events"].as_array().unwrap().len();
        match page["next_page_token"].as_str() {
            Some(t) => cursor = t.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 14, "every change alice made, over pages of 4");
    assert_eq!(list("resource_kind=run")["events"].as_array().unwrap().len(), 2);
    assert_eq!(list("since=99999999999999")["events"].as_array().unwrap().len(), 0);
    let bad = send(&server, "GET", "/api/fleet/v1/audit/events?who=alice", &admin, "q", None);
    assert_eq!((bad.status, bad.error_code()), (400, "INVALID_PARAMETER_VALUE".to_string()));
    // The alias log keeps its shape.
    let old = ok(send(&server, "GET", "/api/fleet/v1/audit?model=m2", &admin, "q", None));
    assert_eq!(old["events"][0]["alias"], "champion", "{old}");

    // The UI shows the rows, filtered.
    let page = send(&server, "GET", "/audit/events?request_id=tag-2", &admin, "q", None);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("registered_model.set_tag") && html.contains("alice") && !html.contains("experiment.create"),
        "{html}"
    );

    // The CLI through the server, with the mlflow client's credentials.
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["audit", "--json", "--actor", "alice", "--action", "artifact.*", "--server", &server.base_url()])
        .env("MLFLOW_TRACKING_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> =
        answer["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["artifact.delete", "artifact.write"]);

    // A non-admin reads their own actions only, whatever actor they ask for.
    let theirs = ok(send(&server, "GET", "/api/fleet/v1/audit/events?actor=admin&max_results=1000", &alice, "q", None));
    let actors: Vec<&str> = theirs["events"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(!actors.is_empty() && actors.iter().all(|a| *a == "alice"), "{actors:?}");
    let all = ok(send(&server, "GET", "/api/fleet/v1/audit/events?max_results=1000", &admin, "q", None));
    assert!(all["events"].as_array().unwrap().iter().any(|e| e["actor"] == "admin"), "{all}");

    // A CLI change on the data directory is audited under the local user, and read back there.
    let cli = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["user", "set-admin", "alice", "true", "--data-dir"])
        .arg(server.data_dir())
        .env("USER", "operator")
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["audit", "--action", "user.update_admin", "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains("operator") && table.contains("local") && table.contains(r#"{"is_admin":true}"#), "{table}");
}
