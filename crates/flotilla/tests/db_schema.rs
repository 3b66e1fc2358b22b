//! The schema rule on both backends (`flotilla_store::schema`): a store more
//! than one migration behind is refused by the server with the command that
//! upgrades it; `flotilla db upgrade [--to N]` moves it forward (never back);
//! one step behind, the server takes the step itself. And `flotilla gc` on
//! PostgreSQL (`--database`, with `--artifacts`).

use std::path::Path;
use std::process::{Command, Output};

use flotilla_testkit::postgres::Postgres;
use flotilla_testkit::{TestServer, options};
use serde_json::json;

fn flotilla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla")).args(args).output().expect("run flotilla")
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(current, oldest served)` from `flotilla db status`'s first line.
fn status(target: &[&str]) -> (u32, u32) {
    let text = stdout(&flotilla(&[&["db", "status"], target].concat()));
    let words: Vec<&str> = text.split_whitespace().collect();
    let current = words[2].parse().unwrap();
    let oldest = words.iter().position(|w| *w == "on").map(|i| words[i + 1].parse().unwrap()).expect("runs on N");
    (current, oldest)
}

/// A server on `target` that must refuse to start: its stderr.
fn refused_server(target: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([&["server", "--port", "0", "--monitor", "off"], target].concat())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The rule, on any backend `target` names (`--data-dir D` or `--database URL`).
fn schema_rule_holds(target: &[&str], start: impl FnOnce() -> TestServer) {
    stdout(&flotilla(&[&["db", "upgrade", "--to", "1"], target].concat()));
    let (current, oldest) = status(target);
    assert_eq!(current, 1);
    assert!(oldest > 1, "this build ships more than one migration");
    let stderr = refused_server(target);
    assert!(stderr.contains("older than this flotilla runs on") && stderr.contains("flotilla db upgrade"), "{stderr}");

    let back = flotilla(&[&["db", "upgrade", "--to", "0"], target].concat());
    assert_eq!(back.status.code(), Some(2), "no way back: {back:?}");
    let upgraded = stdout(&flotilla(&[&["db", "upgrade", "--to", &oldest.to_string()], target].concat()));
    assert!(upgraded.contains(&format!("schema version 1 -> {oldest}")), "{upgraded}");
    assert_eq!(status(target), (oldest, oldest));

    // One step behind: the server takes it.
    let server = start();
    let created = server.post_json("/api/2.0/mlflow/experiments/create", &json!({"name": "after-the-step"}));
    assert_eq!(created.status, 200, "{}", created.text());
    let text = stdout(&flotilla(&[&["db", "status"], target].concat()));
    assert!(text.contains("up to date"), "{text}");
    drop(server);
}

#[test]
fn sqlite_stores_more_than_one_step_behind_need_db_upgrade() {
    let data = tempfile::tempdir().unwrap();
    std::fs::File::create(data.path().join("flotilla.db")).unwrap(); // an empty file: version 0
    let dir = data.path().to_str().unwrap().to_string();
    schema_rule_holds(&["--data-dir", &dir], move || TestServer::start_in(data, options!()));
}

#[test]
fn postgresql_databases_more_than_one_step_behind_need_db_upgrade() {
    let pg = Postgres::for_tests().expect("a PostgreSQL server");
    let url = pg.create_database().expect("a database");
    schema_rule_holds(&["--database", &url], || {
        TestServer::start(options!().env("FLOTILLA_DATABASE_URL", url.as_str()))
    });
    let backup = flotilla(&["db", "backup", "--database", &url, "--out", "/tmp/never-written.db"]);
    assert_eq!(backup.status.code(), Some(2), "{backup:?}");
    assert!(String::from_utf8_lossy(&backup.stderr).contains("pg_dump"), "{backup:?}");
}

fn run_dir(artifacts: &Path, experiment_id: &str, run_id: &str) -> std::path::PathBuf {
    artifacts.join(experiment_id).join(run_id)
}

#[test]
fn gc_on_postgresql_purges_deleted_runs_and_keeps_registered_ones() {
    let pg = Postgres::for_tests().expect("a PostgreSQL server");
    let url = pg.create_database().expect("a database");
    let server = TestServer::start(options!().env("FLOTILLA_DATABASE_URL", url.as_str()));
    let artifacts = server.data_dir().join("artifacts");
    let ok = |path: &str, body: serde_json::Value| {
        let reply = server.post_json(path, &body);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        reply.json()
    };
    let exp = ok("/api/2.0/mlflow/experiments/create", json!({"name": "gc-pg"}))["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let run = ok("/api/2.0/mlflow/runs/create", json!({"experiment_id": exp}));
        let id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
        let put = server.request(
            "PUT",
            &format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/{id}/artifacts/model.txt"),
            &[],
            b"weights",
        );
        assert_eq!(put.status, 200, "{}", put.text());
        ok("/api/2.0/mlflow/runs/delete", json!({"run_id": id}));
        runs.push(id);
    }
    let (doomed, registered) = (&runs[0], &runs[1]);
    ok("/api/2.0/mlflow/registered-models/create", json!({"name": "kept"}));
    ok(
        "/api/2.0/mlflow/model-versions/create",
        json!({"name": "kept", "source": format!("mlflow-artifacts:/{exp}/{registered}/artifacts"), "run_id": registered}),
    );

    let target = ["--database", url.as_str(), "--artifacts", artifacts.to_str().unwrap()];
    let dry = stdout(&flotilla(&[&["gc", "--dry-run", "--json"], &target[..]].concat()));
    let plan: serde_json::Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(plan["runs"].as_array().map(Vec::len), Some(1), "{plan}");
    assert_eq!(plan["runs"][0]["run_id"], doomed.as_str());
    assert_eq!(plan["kept"][0]["id"], registered.as_str(), "{plan}");
    assert!(run_dir(&artifacts, &exp, doomed).exists(), "a dry run changes nothing");

    let done = stdout(&flotilla(&[&["gc"], &target[..]].concat()));
    assert!(done.contains("purged 0 experiments and 1 runs"), "{done}");
    assert!(!run_dir(&artifacts, &exp, doomed).exists(), "the purged run's files went");
    assert!(run_dir(&artifacts, &exp, registered).exists(), "the registered run's files stay");
    assert_eq!(server.get(&format!("/api/2.0/mlflow/runs/get?run_id={doomed}")).status, 404);
    assert_eq!(server.get(&format!("/api/2.0/mlflow/runs/get?run_id={registered}")).status, 200);
    let named = flotilla(&[&["gc", "--run-ids", "no-such-run"], &target[..]].concat());
    assert_eq!(named.status.code(), Some(3), "{named:?}");
}
