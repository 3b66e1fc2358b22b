//! `flotilla gc` and `flotilla db` on a real data directory, beside a running
//! server: a dry run lists and changes nothing; gc purges deleted runs and
//! experiments with their artifact directories, keeps a deleted run a model
//! version was registered from (and its files), and the server then answers
//! 404 for what went; `db backup` writes an openable copy online and refuses
//! to overwrite; a store from a newer flotilla is refused by `db status` and
//! by the server.

use std::path::Path;
use std::process::{Command, Output};

use flotilla_testkit::{TestServer, options};
use serde_json::{Value, json};

fn flotilla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla")).args(args).output().expect("run flotilla")
}

fn ok_json(server: &TestServer, path: &str, body: Value) -> Value {
    let reply = server.post_json(path, &body);
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

/// Creates a run in `experiment_id` with one artifact file; answers its id.
fn run_with_file(server: &TestServer, experiment_id: &str) -> String {
    let run = ok_json(server, "/api/2.0/mlflow/runs/create", json!({ "experiment_id": experiment_id }));
    let id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let root = format!("{experiment_id}/{id}/artifacts/model.txt");
    let put = server.request("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{root}"), &[], b"weights");
    assert_eq!(put.status, 200, "{}", put.text());
    id
}

fn run_dir(data_dir: &Path, experiment_id: &str, run_id: &str) -> std::path::PathBuf {
    data_dir.join("artifacts").join(experiment_id).join(run_id)
}

#[test]
fn gc_purges_deleted_runs_and_experiments_and_keeps_what_a_version_was_made_from() {
    let server = TestServer::start(options!());
    let data = server.data_dir().to_path_buf();
    let data_arg = data.to_str().unwrap();
    let exp = ok_json(&server, "/api/2.0/mlflow/experiments/create", json!({ "name": "old" }))["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let in_deleted_experiment = run_with_file(&server, &exp);
    let deleted = run_with_file(&server, "0");
    let registered = run_with_file(&server, "0");
    let kept_active = run_with_file(&server, "0");
    ok_json(&server, "/api/2.0/mlflow/registered-models/create", json!({ "name": "m" }));
    let source = format!("mlflow-artifacts:/0/{registered}/artifacts");
    ok_json(
        &server,
        "/api/2.0/mlflow/model-versions/create",
        json!({ "name": "m", "source": source, "run_id": registered }),
    );
    for run in [&deleted, &registered] {
        ok_json(&server, "/api/2.0/mlflow/runs/delete", json!({ "run_id": run }));
    }
    ok_json(&server, "/api/2.0/mlflow/experiments/delete", json!({ "experiment_id": exp }));

    let dry = flotilla(&["gc", "--data-dir", data_arg, "--dry-run", "--json"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let ids = |key: &str, field: &str| -> Vec<String> {
        let mut v: Vec<String> =
            plan[key].as_array().unwrap().iter().map(|x| x[field].as_str().unwrap().to_string()).collect();
        v.sort();
        v
    };
    let mut expected_runs = vec![in_deleted_experiment.clone(), deleted.clone()];
    expected_runs.sort();
    assert_eq!(ids("runs", "run_id"), expected_runs, "{plan}");
    assert_eq!(ids("experiments", "experiment_id"), vec![exp.clone()]);
    assert_eq!(ids("kept", "id"), vec![registered.clone()], "{plan}");
    assert!(run_dir(&data, "0", &deleted).exists(), "a dry run removes nothing");
    assert_eq!(server.get(&format!("/api/2.0/mlflow/runs/get?run_id={deleted}")).status, 200);

    let purge = flotilla(&["gc", "--data-dir", data_arg, "--json"]);
    assert!(purge.status.success(), "{}", String::from_utf8_lossy(&purge.stderr));
    let done: Value = serde_json::from_slice(&purge.stdout).unwrap();
    assert_eq!(done["runs"].as_array().unwrap().len(), 2, "{done}");
    assert!(done["artifacts_not_removed"].as_array().unwrap().is_empty(), "{done}");
    assert!(!run_dir(&data, "0", &deleted).exists());
    assert!(!data.join("artifacts").join(&exp).exists(), "the experiment's directory went");
    assert!(run_dir(&data, "0", &registered).join("artifacts/model.txt").exists(), "the version's files stay");
    assert!(run_dir(&data, "0", &kept_active).exists());
    for gone in [&deleted, &in_deleted_experiment] {
        assert_eq!(server.get(&format!("/api/2.0/mlflow/runs/get?run_id={gone}")).status, 404);
    }
    assert_eq!(server.get(&format!("/api/2.0/mlflow/experiments/get?experiment_id={exp}")).status, 404);
    assert_eq!(server.get(&format!("/api/2.0/mlflow/runs/get?run_id={registered}")).status, 200);
    let version = server.get("/api/2.0/mlflow/model-versions/get?name=m&version=1");
    assert_eq!(version.status, 200, "{}", version.text());

    // Nothing left to do; naming a run that is not deleted is a usage error.
    let again = flotilla(&["gc", "--data-dir", data_arg]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 experiments and 0 runs"));
    let active = flotilla(&["gc", "--data-dir", data_arg, "--run-ids", &kept_active]);
    assert_eq!(active.status.code(), Some(2), "{}", String::from_utf8_lossy(&active.stderr));
    let audit = server.get("/api/fleet/v1/audit/events?action=store.gc");
    assert_eq!(audit.json()["events"].as_array().map(Vec::len), Some(1), "{}", audit.text());
}

#[test]
fn db_backup_is_an_online_copy_and_a_newer_schema_is_refused() {
    let server = TestServer::start(options!());
    ok_json(&server, "/api/2.0/mlflow/registered-models/create", json!({ "name": "kept-in-backup" }));
    let data = server.data_dir().to_path_buf();
    let data_arg = data.to_str().unwrap();
    let status = flotilla(&["db", "status", "--data-dir", data_arg]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("up to date"), "{status:?}");

    let out_dir = tempfile::tempdir().unwrap();
    let copy = out_dir.path().join("flotilla.db");
    let backup = flotilla(&["db", "backup", "--data-dir", data_arg, "--out", copy.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let twice = flotilla(&["db", "backup", "--data-dir", data_arg, "--out", copy.to_str().unwrap()]);
    assert_eq!(twice.status.code(), Some(4), "the copy is never overwritten");
    assert_eq!(server.get("/api/2.0/mlflow/registered-models/get?name=kept-in-backup").status, 200);

    // A schema from the future: `db status` and the server refuse it.
    let future = tempfile::tempdir().unwrap();
    let db = future.path().join("flotilla.db");
    std::fs::copy(&copy, &db).unwrap();

    // The copy is a store a server opens, with the model in it.
    let restored = TestServer::start_in(out_dir, options!());
    assert_eq!(restored.get("/api/2.0/mlflow/registered-models/get?name=kept-in-backup").status, 200);
    drop(restored);
    let sqlite = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version = 999'); c.commit()",
        ])
        .arg(&db)
        .status()
        .unwrap();
    assert!(sqlite.success());
    let refused = flotilla(&["db", "status", "--data-dir", future.path().to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("newer than this flotilla knows"), "{refused:?}");
    let server = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["server", "--port", "0", "--data-dir", future.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!server.status.success());
    assert!(String::from_utf8_lossy(&server.stderr).contains("newer than this flotilla knows"), "{server:?}");
}
