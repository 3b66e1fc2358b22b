//! `flotilla import mlflow` as users run it: the real binary on a source
//! made from MLflow 3.17.2's DDL, its exit codes, report JSON and audit trail.

use std::path::Path;
use std::process::{Command, Output};

use flotilla_store::SqliteStore;
use flotilla_store::audit::AuditEventQuery;
use flotilla_store::prelude::*;

fn source(dir: &Path, revision: &str) -> String {
    let path = dir.join("mlflow.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("../../flotilla-import/tests/fixtures/mlflow-3.17.2.sql")).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO alembic_version VALUES ('{revision}');
         INSERT INTO experiments VALUES (3, 'e', 'mlflow-artifacts:/3', 'active', 1, 2, 'default');
         INSERT INTO runs VALUES ('{r}', 'r', 'LOCAL', '', '', 'u', 'FINISHED', 5, 6, NULL, 'active',
                                  'mlflow-artifacts:/3/{r}/artifacts', 3, NULL);
         INSERT INTO metrics VALUES ('loss', 0.5, 7, '{r}', 0, 0);",
        r = "ab".repeat(16)
    ))
    .unwrap();
    format!("sqlite://{}", path.display())
}

fn import(from: &str, data_dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["import", "mlflow", "--from", from, "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("USER", "migrator")
        .output()
        .unwrap()
}

#[test]
fn an_import_reports_audits_and_fails_on_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let from = source(dir.path(), "dc11669786a5");
    let data = dir.path().join("data");
    let report_json = dir.path().join("report.json");
    let out = import(&from, &data, &["--report-json", report_json.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reconciliation"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report_json).unwrap()).unwrap();
    assert_eq!(report["kinds"]["metric_points"]["destination"], 1);

    let store = SqliteStore::open(&data.join("flotilla.db")).unwrap();
    let query = AuditEventQuery { action: Some("import.*".into()), ..Default::default() };
    let events = store.audit_events(&query).unwrap().items;
    let runs = events.iter().find(|e| e.action == "import.runs").expect("an audit event per kind");
    assert_eq!((runs.actor.as_str(), runs.count), ("migrator", 1));
    drop(store);

    rusqlite::Connection::open(dir.path().join("mlflow.db"))
        .unwrap()
        .execute("UPDATE runs SET status = 'KILLED'", [])
        .unwrap();
    let out = import(&from, &data, &[]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("differs in info.status"));
}

#[test]
fn an_unknown_schema_revision_is_refused_and_leaves_no_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let from = source(dir.path(), "0000deadbeef");
    let data = dir.path().join("data");
    let out = import(&from, &data, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0000deadbeef"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!data.exists());
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["import", "mlflow", "--from", &from, "--server", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--server is not supported yet");
}
