//! A source at an MLflow 2.x revision (2.22.5's DDL, `fixtures/mlflow-2.22.5.sql`): no
//! workspaces, no logged models, no `inputs.step`, no `model_versions.model_id`.

use flotilla_core::model::RunStatus;
use flotilla_store::SqliteStore;
use flotilla_store::prelude::*;
use rusqlite::Connection;

const RUN: &str = "00112233445566778899aabbccddeeff";

#[test]
fn a_2x_store_imports_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("mlflow.db")).unwrap();
    conn.execute_batch(include_str!("fixtures/mlflow-2.22.5.sql")).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO alembic_version VALUES ('0584bdc529eb');
         INSERT INTO experiments VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 10, 10);
         INSERT INTO experiments VALUES (2, 'churn', 'mlflow-artifacts:/2', 'active', 11, 12);
         INSERT INTO runs VALUES ('{RUN}', 'fit', 'LOCAL', 'x.py', '', 'cy', 'KILLED', 20, 30, NULL, 'active',
                                  'mlflow-artifacts:/2/{RUN}/artifacts', 2, NULL);
         INSERT INTO metrics VALUES ('auc', 0.7, 21, '{RUN}', 0, 0);
         INSERT INTO metrics VALUES ('auc', 0.8, 22, '{RUN}', 1, 0);
         INSERT INTO datasets VALUES ('d', 2, 'customers', 'ff00', 'local', 'src', NULL, NULL);
         INSERT INTO inputs VALUES ('i', 'DATASET', 'd', 'RUN', '{RUN}');
         INSERT INTO registered_models VALUES ('churn', 40, 41, 'desc');
         INSERT INTO model_versions VALUES ('churn', 1, 40, 41, '', 'cy', 'Production',
             'mlflow-artifacts:/2/{RUN}/artifacts/model', '{RUN}', 'READY', NULL, '', NULL);
         INSERT INTO registered_model_aliases VALUES ('prod', 1, 'churn');"
    ))
    .unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    let options = flotilla_import::Options {
        from: format!("sqlite://{}", dir.path().join("mlflow.db").display()),
        jobs: 1,
        ..Default::default()
    };
    let report = flotilla_import::import(Some(&store), &options).unwrap();
    assert!(!report.has_differences(), "{report:#?}");
    assert_eq!(report.schema_revision, "0584bdc529eb");
    let run = store.get_run(RUN).unwrap();
    assert_eq!((run.info.status, run.info.end_time, run.data.metrics[0].value), (RunStatus::Killed, Some(30), 0.8));
    assert_eq!(run.inputs.dataset_inputs[0].dataset.name, "customers");
    let version = store.get_version_by_alias("churn", "prod").unwrap();
    assert_eq!((version.current_stage.as_str(), version.model_id), ("Production", None));
}
