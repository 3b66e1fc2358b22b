//! Datasets and lineage on a real server process: datasets from MLflow's
//! `log-inputs` and from the fleet bulk API, MLflow's `search-datasets`,
//! `/api/data/v1` downstream and upstream (by version, alias and served
//! partition), stale data, bad input answered 4xx, and with `--auth basic`
//! a user who cannot read an experiment does not see its runs.

use flotilla_testkit::{Requester as Client, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";

fn experiment(c: &Client<'_>, name: &str) -> String {
    let r = c.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": name })));
    r["experiment_id"].as_str().unwrap().to_string()
}

fn run(c: &Client<'_>, experiment_id: &str) -> String {
    let r = c.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": experiment_id })));
    r["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

fn log_input(c: &Client<'_>, run_id: &str, name: &str, digest: &str, context: &str) {
    let body = json!({ "run_id": run_id, "datasets": [{
        "tags": [{ "key": "mlflow.data.context", "value": context }],
        "dataset": { "name": name, "digest": digest, "source_type": "local",
                     "source": format!("{{\"uri\": \"{name}.csv\"}}"), "schema": "{\"mlflow_colspec\": []}" },
    }]});
    c.ok("POST", "/api/2.0/mlflow/runs/log-inputs", Some(body));
}

fn version(c: &Client<'_>, model: &str, run_id: &str) -> String {
    let body = json!({ "name": model, "source": format!("runs:/{run_id}/model"), "run_id": run_id });
    let r = c.ok("POST", "/api/2.0/mlflow/model-versions/create", Some(body));
    r["model_version"]["version"].as_str().unwrap().to_string()
}

fn versions_of(answer: &Value) -> Vec<(String, i64)> {
    answer["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("no versions: {answer}"))
        .iter()
        .map(|v| (v["model"].as_str().unwrap().to_string(), v["version"].as_i64().unwrap()))
        .collect()
}

#[test]
fn lineage_from_mlflow_and_the_fleet_api() {
    let server = TestServer::start(options!());
    let c = Client::anonymous(&server);
    let exp = experiment(&c, "lineage");
    let (r1, r2) = (run(&c, &exp), run(&c, &exp));
    log_input(&c, &r1, "sales", "aaa111", "training");
    log_input(&c, &r1, "holdout", "hhh111", "evaluation");
    c.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "demand-global" })));
    let v1 = version(&c, "demand-global", &r1);
    // The run logs its inputs after its version exists: the edge follows.
    let v2 = version(&c, "demand-global", &r2);
    log_input(&c, &r2, "sales", "bbb222", "training");
    let alias = json!({ "name": "demand-global", "alias": "champion", "version": v1 });
    c.ok("POST", "/api/2.0/mlflow/registered-models/alias", Some(alias));

    // MLflow's search-datasets, as the UI calls it.
    let s = c.ok("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", Some(json!({ "experiment_ids": [exp] })));
    let mut summaries: Vec<_> = s["dataset_summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["digest"].as_str().unwrap(), d["context"].as_str().unwrap()))
        .collect();
    summaries.sort();
    assert_eq!(
        summaries,
        [("holdout", "hhh111", "evaluation"), ("sales", "aaa111", "training"), ("sales", "bbb222", "training")]
    );
    assert_eq!(
        c.ok("POST", "/api/2.0/mlflow/experiments/search-datasets", Some(json!({ "experiment_ids": ["0"] }))),
        json!({})
    );

    // The list, one dataset, downstream and upstream.
    let list = c.get("/api/data/v1/datasets?prefix=sal");
    assert_eq!(list["datasets"].as_array().unwrap().len(), 2, "{list}");
    let d = c.get("/api/data/v1/datasets/sales/aaa111");
    assert_eq!((d["dataset"]["run_count"].as_i64(), d["dataset"]["superseded"].as_bool()), (Some(1), Some(true)));
    let down = c.get("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111");
    assert_eq!(versions_of(&down), [("demand-global".to_string(), v1.parse().unwrap())]);
    assert_eq!(down["versions"][0]["aliases"], json!(["champion"]));
    assert_eq!(down["total_versions"], 1);
    let runs = c.get("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111&of=runs");
    assert_eq!(runs["runs"][0]["run_id"], json!(r1));
    assert_eq!(runs["runs"][0]["context"], "training");
    let up = c.get(&format!("/api/data/v1/lineage/upstream?model=demand-global&version={v2}"));
    assert_eq!(up["run"]["run_id"], json!(r2));
    assert_eq!(up["datasets"][0]["digest"], "bbb222");
    let up = c.get("/api/data/v1/lineage/upstream?model=demand-global&alias=champion");
    let digests: Vec<_> = up["datasets"].as_array().unwrap().iter().map(|d| d["digest"].as_str().unwrap()).collect();
    assert_eq!(digests, ["hhh111", "aaa111"]);

    // A family registered natively, with its inputs per version.
    let r = c.call("POST", "/api/fleet/v1/families", Some(json!({ "name": "demand", "levels": ["region", "store"] })));
    assert_eq!(r.status, 200, "{}", r.text());
    let item = |partition: &str, digest: &str, aliases: &[&str]| {
        json!({ "family": "demand", "partition": partition, "source": "mlflow-artifacts:/m", "aliases": aliases,
                "datasets": [{ "name": "shared-calendar", "digest": "cal1", "context": "training" },
                             { "name": format!("sales-{partition}"), "digest": digest, "context": "training",
                               "source_type": "s3", "source": "s3://bucket/sales.parquet" }] })
    };
    let bulk = json!({ "versions": [
        item("", "g1", &["champion"]),
        item("region=west", "w1", &["champion"]),
        item("region=west/store=7", "s1", &["champion"]),
        item("region=west/store=7", "s2", &[]),
    ]});
    c.ok("POST", "/api/fleet/v1/versions/bulk", Some(bulk));
    let down = c.get("/api/data/v1/lineage/downstream?dataset=shared-calendar&digest=cal1&max_results=2");
    assert_eq!(down["total_versions"], 4, "{down}");
    assert_eq!(down["families"], json!([{ "family": "demand", "versions": 4 }]));
    assert_eq!(versions_of(&down).len(), 2);
    let token = down["next_page_token"].as_str().unwrap();
    let rest =
        c.get(&format!("/api/data/v1/lineage/downstream?dataset=shared-calendar&digest=cal1&page_token={token}"));
    assert_eq!(versions_of(&rest).len(), 2);
    assert!(rest["next_page_token"].is_null(), "{rest}");
    let aliased = c.get("/api/data/v1/lineage/downstream?dataset=shared-calendar&digest=cal1&aliased=true");
    assert_eq!(versions_of(&aliased).len(), 3);
    // The partition's champion, and a store with no model of its own that falls back to its region.
    let up = c.get("/api/data/v1/lineage/upstream?family=demand&partition=region%3Dwest%2Fstore%3D7");
    assert_eq!((up["resolved"]["fallback"].as_bool(), up["model"].as_str()), (Some(false), Some("demand.store=7")));
    assert!(up["datasets"].as_array().unwrap().iter().any(|d| d["digest"] == "s1"), "{up}");
    let up = c.get("/api/data/v1/lineage/upstream?family=demand&partition=region%3Dwest%2Fstore%3D9");
    assert_eq!(up["resolved"]["fallback"], true, "{up}");
    assert!(up["datasets"].as_array().unwrap().iter().any(|d| d["digest"] == "w1"), "{up}");

    // Stale: the MLflow champion (sales@aaa111, superseded by bbb222) and the
    // store's champion (s1, superseded by s2).
    let stale = c.get("/api/data/v1/lineage/stale");
    let mut found: Vec<_> = stale["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["model"].as_str().unwrap(), v["digest"].as_str().unwrap(), v["newest_digest"].as_str().unwrap()))
        .collect();
    found.sort();
    assert_eq!(found, [("demand-global", "aaa111", "bbb222"), ("demand.store=7", "s1", "s2")]);

    // Bad input: 4xx in the MLflow error shape, never a 5xx.
    for (path, status) in [
        ("/api/data/v1/lineage/downstream?dataset=sales", 400),
        ("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111&of=models", 400),
        ("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111&max_results=0", 400),
        ("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111&max_results=100000", 400),
        ("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111&page_token=%21%21", 400),
        ("/api/data/v1/lineage/downstream?dataset=sales&digest=nope", 404),
        ("/api/data/v1/lineage/upstream?model=demand-global", 400),
        ("/api/data/v1/lineage/upstream?model=demand-global&version=abc", 400),
        ("/api/data/v1/lineage/upstream?model=demand-global&version=99", 404),
        ("/api/data/v1/lineage/upstream?model=demand-global&alias=nope", 400),
        ("/api/data/v1/lineage/upstream?family=nope&partition=region%3Dwest", 404),
        ("/api/data/v1/lineage/stale?colour=red", 400),
        ("/api/data/v1/datasets?max_results=-1", 400),
        ("/api/data/v1/datasets/sales/nope", 404),
    ] {
        let r = c.call("GET", path, None);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(!r.error_code().is_empty(), "{path}: {}", r.text());
    }
    let too_many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
    for body in [json!({}), json!({ "experiment_ids": too_many })] {
        let r = c.call("POST", "/api/2.0/mlflow/experiments/search-datasets", Some(body));
        assert_eq!((r.status, r.error_code().as_str()), (400, "INVALID_PARAMETER_VALUE"), "{}", r.text());
    }
    let bad = json!({ "versions": [{ "model": "demand-global", "source": "mlflow-artifacts:/m", "datasets": [{ "name": "", "digest": "x" }] }] });
    assert_eq!(c.call("POST", "/api/fleet/v1/versions/bulk", Some(bad)).status, 400);
    let bad = json!({ "versions": [{ "model": "demand-global", "source": "mlflow-artifacts:/m", "datasets": [{ "name": "a", "digest": "x", "colour": 1 }] }] });
    assert_eq!(c.call("POST", "/api/fleet/v1/versions/bulk", Some(bad)).status, 400);
}

#[test]
fn lineage_shows_only_what_the_caller_reads() {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_DEFAULT_PERMISSION", "NO_PERMISSIONS"),
    );
    let admin = Client::basic(&server, "admin", ADMIN_PASSWORD);
    admin.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "bob", "password": PASSWORD })));
    let bob = Client::basic(&server, "bob", PASSWORD);
    let (open, secret) = (experiment(&admin, "open"), experiment(&admin, "secret"));
    let (r_open, r_secret) = (run(&admin, &open), run(&admin, &secret));
    log_input(&admin, &r_open, "sales", "aaa111", "training");
    log_input(&admin, &r_secret, "sales", "aaa111", "training");
    log_input(&admin, &r_secret, "payroll", "ppp111", "training");
    admin.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "hidden-model" })));
    let v = version(&admin, "hidden-model", &r_secret);
    let grant = json!({ "username": "bob", "resource_type": "experiment", "resource_id": open, "permission": "READ" });
    admin.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));

    // No credentials: 401 on every data route.
    let anonymous = Client::anonymous(&server);
    assert_eq!(anonymous.call("GET", "/api/data/v1/datasets", None).status, 401);

    // The admin sees both runs and the version; bob only the open run.
    let all = admin.get("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111&of=runs");
    assert_eq!((all["total_runs"].as_i64(), all["runs"].as_array().map(Vec::len)), (Some(2), Some(2)), "{all}");
    let seen = bob.get("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111&of=runs");
    assert_eq!(seen["runs"].as_array().map(Vec::len), Some(1), "{seen}");
    assert_eq!(seen["runs"][0]["run_id"], json!(r_open));
    assert_eq!(seen["total_runs"], 1);
    let seen = bob.get("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111");
    assert_eq!((seen["versions"].as_array().map(Vec::len), seen["total_versions"].as_i64()), (Some(0), Some(0)));
    assert_eq!(admin.get("/api/data/v1/lineage/downstream?dataset=sales&digest=aaa111")["total_versions"], 1);
    // A dataset only the secret experiment used does not exist for bob.
    let names: Vec<_> =
        bob.get("/api/data/v1/datasets")["datasets"].as_array().unwrap().iter().map(|d| d["name"].clone()).collect();
    assert_eq!(names, [json!("sales")]);
    assert_eq!(bob.call("GET", "/api/data/v1/datasets/payroll/ppp111", None).status, 404);
    assert_eq!(admin.call("GET", "/api/data/v1/datasets/payroll/ppp111", None).status, 200);
    // A model bob cannot read: refused upstream.
    let path = format!("/api/data/v1/lineage/upstream?model=hidden-model&version={v}");
    let r = bob.call("GET", &path, None);
    assert_eq!((r.status, r.error_code().as_str()), (403, "PERMISSION_DENIED"), "{}", r.text());
    assert_eq!(admin.get(&path)["run"]["run_id"], json!(r_secret));
    assert!(bob.get("/api/data/v1/lineage/stale")["versions"].as_array().unwrap().is_empty());
    // search-datasets reduces the experiments to the readable ones.
    let body = json!({ "experiment_ids": [open, secret] });
    let s = bob.ok("POST", "/api/2.0/mlflow/experiments/search-datasets", Some(body.clone()));
    assert_eq!(s["dataset_summaries"].as_array().map(Vec::len), Some(1), "{s}");
    let s = admin.ok("POST", "/api/2.0/mlflow/experiments/search-datasets", Some(body));
    assert_eq!(s["dataset_summaries"].as_array().map(Vec::len), Some(3), "{s}");
}

/// Runs `flotilla data <args>` on the server's data directory, or through it with `--server`.
fn data_cli(server: &TestServer, through_server: bool, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.arg("data").args(args).env_remove("FLOTILLA_SERVER").env_remove("FLOTILLA_DATA_DIR");
    if through_server {
        cmd.args(["--server", &format!("http://{}", server.host())]);
    } else {
        cmd.args(["--data-dir", &server.data_dir().display().to_string()]);
    }
    cmd.output().expect("running flotilla data")
}

#[test]
fn cli_answers_alike_on_the_store_and_through_the_server() {
    let server = TestServer::start(options!());
    let c = Client::anonymous(&server);
    let exp = experiment(&c, "cli");
    let (r1, r2) = (run(&c, &exp), run(&c, &exp));
    log_input(&c, &r1, "sales", "aaa111", "training");
    log_input(&c, &r2, "sales", "bbb222", "training");
    c.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "m" })));
    let v1 = version(&c, "m", &r1);
    c.ok(
        "POST",
        "/api/2.0/mlflow/registered-models/alias",
        Some(json!({ "name": "m", "alias": "champion", "version": v1 })),
    );
    let commands: [&[&str]; 6] = [
        &["datasets", "--json"],
        &["show", "sales", "aaa111", "--json"],
        &["downstream", "sales", "aaa111", "--json"],
        &["downstream", "sales", "aaa111", "--runs", "--json"],
        &["upstream", "--model", "m", "--alias", "champion", "--json"],
        &["stale", "--json"],
    ];
    for args in commands {
        let local = data_cli(&server, false, args);
        assert!(local.status.success(), "{args:?}: {}", String::from_utf8_lossy(&local.stderr));
        let remote = data_cli(&server, true, args);
        assert!(remote.status.success(), "{args:?}: {}", String::from_utf8_lossy(&remote.stderr));
        let (l, r): (Value, Value) =
            (serde_json::from_slice(&local.stdout).unwrap(), serde_json::from_slice(&remote.stdout).unwrap());
        assert_eq!(l, r, "{args:?}");
    }
    let table = data_cli(&server, false, &["stale"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("champion") && text.contains("bbb222"), "{text}");
    // A mistake is the same exit code both ways, and not a success.
    for through in [false, true] {
        let missing = data_cli(&server, through, &["show", "sales", "nope"]);
        assert!(!missing.status.success());
        let bad = data_cli(&server, through, &["upstream", "--model", "m"]);
        assert!(!bad.status.success());
        assert_ne!(missing.status.code(), bad.status.code(), "not found and invalid differ");
    }
}
