//! Per-resource permissions on a real server process (`--auth basic`): each
//! level on experiments, runs, registered models, families and V2
//! inference; MLflow 2's per-resource and MLflow 3's grant routes over one
//! grant table; the creator's MANAGE; the default permission; admins above
//! all; grants that go with a deleted model and follow a rename.

use flotilla_testkit::{Requester as Client, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";

fn server(default: &str) -> TestServer {
    TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_DEFAULT_PERMISSION", default),
    )
}

fn admin(server: &TestServer) -> Client<'_> {
    Client::basic(server, "admin", ADMIN_PASSWORD)
}

fn user<'a>(server: &'a TestServer, name: &str) -> Client<'a> {
    let body = json!({ "username": name, "password": PASSWORD });
    admin(server).ok("POST", "/api/2.0/mlflow/users/create", Some(body));
    Client::basic(server, name, PASSWORD)
}

fn grant(server: &TestServer, username: &str, kind: &str, id: &str, level: &str) {
    let body = json!({ "username": username, "resource_type": kind, "resource_id": id, "permission": level });
    admin(server).ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(body));
}

fn revoke(server: &TestServer, username: &str, kind: &str, id: &str) {
    let body = json!({ "username": username, "resource_type": kind, "resource_id": id });
    admin(server).ok("POST", "/api/3.0/mlflow/users/permissions/revoke", Some(body));
}

#[test]
fn each_level_on_an_experiment_and_its_runs() {
    let server = server("READ");
    let a = admin(&server);
    let bob = user(&server, "bob");
    let exp = a.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": "e1" })))["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run =
        a.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": exp })))["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
    let get_exp = format!("/api/2.0/mlflow/experiments/get?experiment_id={exp}");
    let get_run = format!("/ajax-api/2.0/mlflow/runs/get?run_id={run}");
    let tag = || Some(json!({ "experiment_id": exp, "key": "k", "value": "v" }));
    let log = || Some(json!({ "run_id": run, "key": "m", "value": 1.0, "timestamp": 1, "step": 0 }));
    let delete = || Some(json!({ "experiment_id": exp }));
    // level -> (read, edit, manage) allowed
    for (level, read, edit, manage) in [
        (None, true, false, false), // the default, READ
        (Some("NO_PERMISSIONS"), false, false, false),
        (Some("READ"), true, false, false),
        (Some("USE"), true, false, false),
        (Some("EDIT"), true, true, false),
        (Some("MANAGE"), true, true, true),
    ] {
        if let Some(level) = level {
            grant(&server, "bob", "experiment", &exp, level);
        }
        let code = |allowed: bool| if allowed { 200 } else { 403 };
        assert_eq!(bob.status("GET", &get_exp, None), code(read), "{level:?} get experiment");
        assert_eq!(bob.status("GET", &get_run, None), code(read), "{level:?} get run");
        assert_eq!(
            bob.status("POST", "/api/2.0/mlflow/experiments/set-experiment-tag", tag()),
            code(edit),
            "{level:?}"
        );
        assert_eq!(bob.status("POST", "/api/3.0/mlflow/runs/log-metric", log()), code(edit), "{level:?} log");
        let r = bob.call("GET", "/api/2.0/mlflow/experiments/permissions/get?experiment_id=999&username=bob", None);
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(r.error_code(), "PERMISSION_DENIED");
        if manage {
            bob.ok("POST", "/api/2.0/mlflow/experiments/delete", delete());
            a.ok("POST", "/api/2.0/mlflow/experiments/restore", delete());
        } else {
            assert_eq!(bob.status("POST", "/api/2.0/mlflow/experiments/delete", delete()), 403, "{level:?}");
        }
        if level.is_some() {
            revoke(&server, "bob", "experiment", &exp);
        }
    }
    // A version made from a run needs READ on the run's experiment too.
    grant(&server, "bob", "experiment", &exp, "NO_PERMISSIONS");
    bob.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "bobs" })));
    let version = json!({ "name": "bobs", "source": format!("runs:/{run}/model"), "run_id": run });
    assert_eq!(bob.status("POST", "/api/2.0/mlflow/model-versions/create", Some(version)), 403);
    revoke(&server, "bob", "experiment", &exp);
    // A run or experiment that does not exist is refused, not reported missing.
    assert_eq!(bob.status("GET", "/api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef", None), 403);
    assert_eq!(a.status("GET", "/api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef", None), 404);
    // The artifact proxy: the path's experiment.
    let put = bob.server.request(
        "PUT",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/x.txt"),
        &[("Authorization", bob.auth.as_deref().unwrap())],
        b"hello",
    );
    assert_eq!(put.status, 403, "{}", put.text());
}

#[test]
fn registered_models_creator_rename_delete_and_both_route_sets() {
    let server = server("NO_PERMISSIONS");
    let a = admin(&server);
    let bob = user(&server, "bob");
    let carol = user(&server, "carol");
    // The creator gets MANAGE, others hold the default (nothing).
    bob.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "m1" })));
    let get =
        |c: &Client, name: &str| c.status("GET", &format!("/api/2.0/mlflow/registered-models/get?name={name}"), None);
    assert_eq!(get(&bob, "m1"), 200);
    assert_eq!(get(&carol, "m1"), 403);
    // MLflow 2's routes: the creator (MANAGE) grants carol READ.
    let body = json!({ "name": "m1", "username": "carol", "permission": "READ" });
    let created = bob.ok("POST", "/api/2.0/mlflow/registered-models/permissions/create", Some(body.clone()));
    assert_eq!(created["registered_model_permission"]["permission"], "READ");
    let again = bob.call("POST", "/api/2.0/mlflow/registered-models/permissions/create", Some(body));
    assert_eq!((again.status, again.error_code()), (400, "RESOURCE_ALREADY_EXISTS".into()));
    assert_eq!(get(&carol, "m1"), 200);
    let tag = json!({ "name": "m1", "key": "k", "value": "v" });
    assert_eq!(carol.status("POST", "/api/2.0/mlflow/registered-models/set-tag", Some(tag.clone())), 403);
    // carol may not manage grants on it.
    let body = json!({ "name": "m1", "username": "carol", "permission": "MANAGE" });
    assert_eq!(carol.status("PATCH", "/api/2.0/mlflow/registered-models/permissions/update", Some(body)), 403);
    let body = json!({ "name": "m1", "username": "carol", "permission": "EDIT" });
    bob.ok("PATCH", "/api/2.0/mlflow/registered-models/permissions/update", Some(body));
    carol.ok("POST", "/api/2.0/mlflow/registered-models/set-tag", Some(tag));
    let got = bob.ok("GET", "/api/2.0/mlflow/registered-models/permissions/get?name=m1&username=carol", None);
    assert_eq!(got["registered_model_permission"]["permission"], "EDIT");
    let bad = json!({ "name": "m1", "username": "carol", "permission": "BOGUS" });
    let r = bob.call("PATCH", "/api/2.0/mlflow/registered-models/permissions/update", Some(bad));
    assert_eq!((r.status, r.error_code()), (400, "INVALID_PARAMETER_VALUE".into()));
    // MLflow 3's effective level: self or admin.
    let eff = carol.ok(
        "GET",
        "/api/3.0/mlflow/users/permissions/get?username=carol&resource_type=registered_model&resource_id=m1",
        None,
    );
    assert_eq!((eff["permission"].as_str(), eff["allowed"].as_bool()), (Some("EDIT"), Some(true)));
    assert_eq!(
        carol.status(
            "GET",
            "/api/3.0/mlflow/users/permissions/get?username=bob&resource_type=registered_model&resource_id=m1",
            None
        ),
        403
    );
    let r = a.call(
        "POST",
        "/ajax-api/3.0/mlflow/users/permissions/grant",
        Some(json!({
        "username": "carol", "resource_type": "workspace", "resource_id": "w", "permission": "READ" })),
    );
    assert_eq!(r.status, 400);
    // A rename carries the grants; a delete drops them.
    bob.ok("POST", "/api/2.0/mlflow/registered-models/rename", Some(json!({ "name": "m1", "new_name": "m2" })));
    assert_eq!(get(&carol, "m2"), 200);
    let user_view = a.ok("GET", "/api/2.0/mlflow/users/get?username=carol", None);
    assert_eq!(user_view["user"]["registered_model_permissions"][0]["name"], "m2");
    bob.ok("DELETE", "/api/2.0/mlflow/registered-models/delete", Some(json!({ "name": "m2" })));
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "m2" })));
    assert_eq!(get(&carol, "m2"), 403, "a new model with the old name starts with no grants");
    assert_eq!(get(&bob, "m2"), 403);
    // Admins are above all.
    assert_eq!(get(&a, "m2"), 200);
    let r = a.call(
        "DELETE",
        "/api/2.0/mlflow/registered-models/permissions/delete",
        Some(json!({ "name": "m2", "username": "carol" })),
    );
    assert_eq!((r.status, r.error_code()), (404, "RESOURCE_DOES_NOT_EXIST".into()));
}

/// MLflow's scoring protocol per model needs USE, as V2 inference does, and
/// refuses in MLflow's shape.
#[test]
fn scoring_protocol_needs_use() {
    let server = server("READ");
    let a = admin(&server);
    let dan = user(&server, "dan");
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "churn" })));
    let body = json!({ "dataframe_split": { "columns": ["a"], "data": [[1.0]] } });
    for path in ["/invocations/models/churn", "/invocations/models/churn/versions/1"] {
        let r = dan.call("POST", path, Some(body.clone()));
        assert_eq!((r.status, r.error_code()), (403, "PERMISSION_DENIED".into()), "{path}: {}", r.text());
    }
    grant(&server, "dan", "registered_model", "churn", "USE");
    // Past the check: the model has no version, which the protocol answers in its own shape.
    let r = dan.call("POST", "/invocations/models/churn", Some(body));
    assert_eq!((r.status, r.error_code()), (404, "RESOURCE_DOES_NOT_EXIST".into()), "{}", r.text());
}

#[test]
fn families_fleet_changes_and_inference() {
    let server = server("READ");
    let a = admin(&server);
    let dan = user(&server, "dan");
    a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": "fam", "levels": ["store"] })));
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "other" })));
    // Any user may create a family, not adopt a model they may not manage.
    assert_eq!(dan.status("POST", "/api/fleet/v1/families", Some(json!({ "name": "f2", "levels": ["x"] }))), 200);
    assert_eq!(dan.status("POST", "/api/fleet/v1/families", Some(json!({ "name": "other", "levels": ["x"] }))), 403);
    // READ by default: reads pass, inference (USE) and alias moves (EDIT) do not.
    assert_eq!(dan.status("GET", "/api/fleet/v1/families/fam", None), 200);
    let infer = json!({ "inputs": [{ "name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0] }] });
    let r = dan.call("POST", "/v2/models/fam/infer", Some(infer.clone()));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"].is_string(), "V2's shape: {}", r.text());
    let bulk = json!({ "changes": [{ "model": "fam", "alias": "champion", "version": null },
                                   { "model": "other", "alias": "champion", "version": null }] });
    let r = dan.call("POST", "/api/fleet/v1/aliases/bulk", Some(bulk.clone()));
    assert_eq!(r.status, 403, "{}", r.text());
    // USE on the family permits inference on its members (the model is not
    // servable here: the answer is anything but a refusal).
    grant(&server, "dan", "family", "fam", "USE");
    let r = dan.call("POST", "/v2/models/fam/infer", Some(infer.clone()));
    assert_ne!(r.status, 403, "{}", r.text());
    assert_eq!(dan.status("POST", "/v2/models/other/infer", Some(infer)), 403);
    // EDIT on the family is not EDIT on `other`: the whole change is refused, naming it.
    revoke(&server, "dan", "family", "fam");
    grant(&server, "dan", "family", "fam", "EDIT");
    let r = dan.call("POST", "/api/fleet/v1/aliases/bulk", Some(bulk));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("other") && !r.text().contains("fam,"), "{}", r.text());
    // A veto on the family hides it.
    revoke(&server, "dan", "family", "fam");
    grant(&server, "dan", "family", "fam", "DENY");
    assert_eq!(dan.status("GET", "/api/fleet/v1/families/fam", None), 403);
    assert_eq!(dan.status("GET", "/api/2.0/mlflow/registered-models/get?name=fam", None), 403);
    assert_eq!(a.status("GET", "/api/fleet/v1/families/fam", None), 200);
    // Admin-only routes.
    assert_eq!(dan.status("GET", "/api/fleet/v1/audit", None), 403);
    assert_eq!(dan.status("GET", "/metrics", None), 403);
}

#[test]
fn without_auth_nothing_is_checked() {
    let server = TestServer::start(options!());
    let r = server.request(
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        &[("Content-Type", "application/json")],
        br#"{"name":"open"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.request("GET", "/api/2.0/mlflow/registered-models/get?name=open", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn searches_return_only_what_the_caller_may_read() {
    let server = server("NO_PERMISSIONS");
    let a = admin(&server);
    let eve = user(&server, "eve");
    for i in 0..5 {
        a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": format!("r{i}") })));
        a.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": format!("x{i}") })));
    }
    a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": "fam", "levels": ["store"] })));
    grant(&server, "eve", "registered_model", "r1", "READ");
    grant(&server, "eve", "registered_model", "r3", "EDIT");
    grant(&server, "eve", "family", "fam", "READ");
    let names = |v: &Value, list: &str, key: &str| -> Vec<String> {
        v[list].as_array().map_or(vec![], |l| l.iter().map(|m| m[key].as_str().unwrap().to_string()).collect())
    };
    // Pages of one stay full and their tokens lead through exactly the readable set.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page =
            eve.ok("GET", &format!("/api/2.0/mlflow/registered-models/search?max_results=1&page_token={token}"), None);
        let got = names(&page, "registered_models", "name");
        assert!(got.len() == 1 || page["next_page_token"].is_null(), "{page}");
        seen.extend(got);
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => break,
        }
    }
    assert_eq!(seen, ["fam", "r1", "r3"]);
    let all = a.ok("GET", "/api/2.0/mlflow/registered-models/search", None);
    assert_eq!(names(&all, "registered_models", "name").len(), 6);
    // The fleet search and facets, over what she reads (`visibility.rs` has the rest).
    let fleet = eve.ok("GET", "/api/fleet/v1/models?family=fam", None);
    assert_eq!(names(&fleet, "models", "name"), ["fam"], "{fleet}");
    let fleet = eve.ok("GET", "/api/fleet/v1/models", None);
    assert_eq!(names(&fleet, "models", "name"), ["fam", "r1", "r3"], "{fleet}");
    assert_eq!(eve.ok("GET", "/api/fleet/v1/facets", None)["total"], 3);
    // Experiments: the creator's own, nothing else (the default is nothing).
    let own = eve.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": "eves" })))["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let found = eve.ok("POST", "/api/2.0/mlflow/experiments/search", Some(json!({ "max_results": 100 })));
    assert_eq!(names(&found, "experiments", "name"), ["eves"]);
    // Runs: unreadable experiment ids are dropped from the search.
    eve.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": own })));
    let runs = eve.ok("POST", "/api/2.0/mlflow/runs/search", Some(json!({ "experiment_ids": [own, "1", "2"] })));
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1));
    let runs = eve.ok("POST", "/api/2.0/mlflow/runs/search", Some(json!({ "experiment_ids": ["1", "2"] })));
    assert!(runs["runs"].is_null(), "{runs}");
    // A veto hides one model even under a readable default.
    let server2 = server_with_default_read();
    let a2 = admin(&server2);
    let fay = user(&server2, "fay");
    for name in ["p", "q"] {
        a2.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name })));
    }
    grant(&server2, "fay", "registered_model", "q", "NO_PERMISSIONS");
    let found = fay.ok("GET", "/api/2.0/mlflow/registered-models/search", None);
    assert_eq!(names(&found, "registered_models", "name"), ["p"]);
    let fleet = fay.ok("GET", "/api/fleet/v1/models", None);
    assert_eq!(names(&fleet, "models", "name"), ["p"], "{fleet}");
    // The lists (the UI's, the family list) show each what they may read.
    for path in ["/", "/models", "/families", "/experiments", "/api/fleet/v1/families"] {
        assert_eq!(fay.status("GET", path, None), 200, "{path}");
        assert_eq!(eve.status("GET", path, None), 200, "{path}");
        assert_eq!(a2.status("GET", path, None), 200, "{path}");
    }
}

fn server_with_default_read() -> TestServer {
    server("READ")
}

/// One of `/metrics`' counters, read by the admin.
fn counter(server: &TestServer, name: &str) -> u64 {
    let text = admin(server).call("GET", "/metrics", None).text();
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}: {text}"));
    line[name.len() + 1..].parse().unwrap()
}

/// Grant changes (creator grants, renames, deletes, grant routes) are
/// applied to the permission snapshot at once but leave every verified
/// credential cached: a burst of creates never re-runs Argon2id.
#[test]
fn grant_changes_keep_credentials_cached_and_apply_at_once() {
    let server = server("READ");
    let bob = user(&server, "bob");
    let carol = user(&server, "carol");
    bob.ok("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", None);
    carol.ok("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", None);
    let before = |name| counter(&server, name);
    let (verified, resets) =
        (before("flotilla_auth_password_verifications_total"), before("flotilla_auth_cache_resets_total"));
    for i in 0..20 {
        let name = format!("m{i}");
        bob.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name })));
        // The creator's MANAGE holds on the very next request (default READ would refuse an update).
        let update = json!({ "name": name, "description": "mine" });
        bob.ok("PATCH", "/api/2.0/mlflow/registered-models/update", Some(update.clone()));
        assert_eq!(carol.status("PATCH", "/api/2.0/mlflow/registered-models/update", Some(update)), 403);
    }
    bob.ok("POST", "/api/2.0/mlflow/registered-models/rename", Some(json!({ "name": "m0", "new_name": "r0" })));
    bob.ok("PATCH", "/api/2.0/mlflow/registered-models/update", Some(json!({ "name": "r0", "description": "x" })));
    grant(&server, "carol", "registered_model", "m1", "EDIT");
    let update = json!({ "name": "m1", "description": "carol's" });
    carol.ok("PATCH", "/api/2.0/mlflow/registered-models/update", Some(update.clone()));
    revoke(&server, "carol", "registered_model", "m1");
    assert_eq!(carol.status("PATCH", "/api/2.0/mlflow/registered-models/update", Some(update)), 403);
    bob.ok("DELETE", "/api/2.0/mlflow/registered-models/delete", Some(json!({ "name": "m2" })));
    bob.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": "bob's" })));
    assert_eq!(before("flotilla_auth_password_verifications_total"), verified, "no password verified again");
    assert_eq!(before("flotilla_auth_cache_resets_total"), resets, "no credential dropped");
    // A credentials change does drop them.
    let body = json!({ "username": "carol", "password": "a-new-password-1" });
    admin(&server).ok("PATCH", "/api/2.0/mlflow/users/update-password", Some(body));
    assert_eq!(carol.status("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", None), 401);
    assert!(before("flotilla_auth_cache_resets_total") > resets);
}

/// A version serves what its source names, so registering one needs READ
/// on the source: a run, a logged model, a registered model or an
/// experiment's stored artifacts.
#[test]
fn a_version_source_must_be_readable() {
    let server = server("READ");
    let a = admin(&server);
    let bob = user(&server, "bob");
    let experiment = |name: &str| {
        a.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": name })))["experiment_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let run_in = |exp: &str| {
        a.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": exp })))["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (secret, open) = (experiment("secret"), experiment("open"));
    let (hidden_run, open_run) = (run_in(&secret), run_in(&open));
    grant(&server, "bob", "experiment", &secret, "NO_PERMISSIONS");
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "theirs" })));
    a.ok(
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        Some(json!({ "name": "theirs", "source": format!("runs:/{open_run}/model") })),
    );
    grant(&server, "bob", "registered_model", "theirs", "NO_PERMISSIONS");
    bob.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "mine" })));
    let create = |source: String, run_id: Option<&str>| {
        let mut body = json!({ "name": "mine", "source": source });
        if let Some(run) = run_id {
            body["run_id"] = json!(run);
        }
        bob.status("POST", "/api/2.0/mlflow/model-versions/create", Some(body))
    };
    // (source, run_id) -> status
    for (source, run_id, expected) in [
        (format!("runs:/{hidden_run}/model"), None, 403),
        (format!("mlflow-artifacts:/{secret}/{hidden_run}/artifacts/model"), None, 403),
        ("models:/theirs/1".to_string(), None, 403),
        ("models:/theirs@champion".to_string(), None, 403),
        (format!("runs:/{open_run}/model"), Some(hidden_run.as_str()), 403),
        ("runs:/no-such-run/model".to_string(), None, 403),
        (format!("runs:/{open_run}/model"), None, 200),
        (format!("mlflow-artifacts:/{open}/{open_run}/artifacts/model"), Some(open_run.as_str()), 200),
    ] {
        assert_eq!(create(source.clone(), run_id), expected, "{source} run_id {run_id:?}");
    }
    let versions = bob.ok("GET", "/api/2.0/mlflow/model-versions/search?filter=name%3D%27mine%27", None);
    assert_eq!(versions["model_versions"].as_array().map(Vec::len), Some(2), "only the readable sources: {versions}");
}

/// A partitioned V2 request is judged by the member that answers too: USE
/// on the family serves its partitions, and a veto on one partition's model
/// holds even when asked through the family.
#[test]
fn partition_inference_is_judged_by_the_member_that_answers() {
    use flotilla_testkit::fixtures::{LIGHTGBM_MODEL, MLMODEL, infer_body};
    let server = server("READ");
    let a = admin(&server);
    let erin = user(&server, "erin");
    for (file, body) in [("MLmodel", MLMODEL), ("model.lgb", LIGHTGBM_MODEL)] {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/lgb/{file}");
        let r = server.request("PUT", &path, &[("Authorization", a.auth.as_deref().unwrap())], body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": "shop", "levels": ["store"] })));
    let version = |partition: &str| json!({ "family": "shop", "partition": partition, "source": "mlflow-artifacts:/lgb", "aliases": ["champion"] });
    let versions = json!({ "versions": [version(""), version("store=1"), version("store=2")] });
    a.ok("POST", "/api/fleet/v1/versions/bulk", Some(versions));
    let ask = |store: &str| {
        let mut body = infer_body();
        body["parameters"] = json!({ "partition": format!("store={store}") });
        erin.call("POST", "/v2/models/shop/infer", Some(body))
    };
    grant(&server, "erin", "family", "shop", "USE");
    let r = ask("1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model_name"], "shop.store=1", "{}", r.text());
    assert_eq!(ask("9").status, 200, "an unknown store falls back to the family's default member");
    grant(&server, "erin", "registered_model", "shop.store=2", "DENY");
    let r = ask("2");
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"].is_string(), "V2's shape: {}", r.text());
    assert_eq!(ask("1").status, 200);
    assert_eq!(erin.status("POST", "/v2/models/shop.store=2/infer", Some(infer_body())), 403);
}

/// Concurrent first requests with one credential (a client's connection
/// pool starting up) verify the password once: the others wait for that
/// verification and find it cached. A wrong password is still refused to each.
#[test]
fn a_burst_of_first_requests_verifies_a_password_once() {
    let server = server("READ");
    let _dora = user(&server, "dora");
    let verified = counter(&server, "flotilla_auth_password_verifications_total");
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let dora = Client::basic(&server, "dora", PASSWORD);
                barrier.wait();
                dora.ok("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", None);
            });
        }
    });
    assert_eq!(counter(&server, "flotilla_auth_password_verifications_total"), verified + 1);
    let wrong = Client::basic(&server, "dora", "not-her-password");
    assert_eq!(wrong.status("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", None), 401);
}
