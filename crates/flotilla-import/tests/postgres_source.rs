//! The importer reading an MLflow store on PostgreSQL: MLflow 3.17.2's own
//! PostgreSQL DDL (`fixtures/mlflow-3.17.2.postgres.sql`) on a real server
//! (the test command's `FLOTILLA_TEST_POSTGRES`, else a cluster of its own),
//! filled as MLflow writes it, imported into a SQLite data directory.

use flotilla_core::model::{LifecycleStage, RunStatus};
use flotilla_store::prelude::*;
use flotilla_store::{PageRequest, SqliteStore};
use flotilla_testkit::postgres::Postgres;

const RUN: &str = "0123456789abcdef0123456789abcdef";

/// `postgresql://user@/db?host=...&port=...` from a `key=value` conninfo.
fn url_of(conninfo: &str) -> String {
    let field = |key: &str| {
        conninfo.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{key}="))).unwrap_or_default().to_string()
    };
    format!(
        "postgresql://{}@/{}?host={}&port={}",
        field("user"),
        field("dbname"),
        field("host"),
        if field("port").is_empty() { "5432".into() } else { field("port") }
    )
}

#[test]
fn a_postgresql_store_imports_into_sqlite_and_into_postgresql() {
    let server = Postgres::for_tests().unwrap();
    let conninfo = server.create_database().unwrap();
    let mut client = postgres::Client::connect(&conninfo, postgres::NoTls).unwrap();
    client.batch_execute(include_str!("fixtures/mlflow-3.17.2.postgres.sql")).unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO alembic_version VALUES ('dc11669786a5');
             INSERT INTO experiments VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 1000, 1000, 'default');
             INSERT INTO experiments VALUES (7, 'demand', 'mlflow-artifacts:/7', 'deleted', 1100, 1200, 'default');
             INSERT INTO runs (run_uuid, name, source_type, user_id, status, start_time, end_time, lifecycle_stage,
                               artifact_uri, experiment_id, deleted_time)
                 VALUES ('{RUN}', 'train-1', 'LOCAL', 'ana', 'FINISHED', 2000, 3000, 'active',
                         'mlflow-artifacts:/7/{RUN}/artifacts', 7, NULL);
             INSERT INTO params VALUES ('lr', '0.1', '{RUN}');
             INSERT INTO metrics VALUES ('loss', 0.5, 2100, '{RUN}', 0, false);
             INSERT INTO metrics VALUES ('loss', 'NaN', 2200, '{RUN}', 1, true);
             INSERT INTO registered_models VALUES ('demand-17', 4000, 4100, 'store 17', 'default');
             INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id,
                                         current_stage, source, run_id, status, run_link, workspace)
                 VALUES ('demand-17', 2, 4000, 4050, 'first', 'ana', 'Staging',
                         'mlflow-artifacts:/7/{RUN}/artifacts/model', '{RUN}', 'READY', '', 'default');
             INSERT INTO registered_model_aliases VALUES ('champion', 2, 'demand-17', 'default');
             INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status)
                 VALUES ('tr-1', 7, 1, 1, 'OK');"
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    let options = flotilla_import::Options { from: url_of(&conninfo), jobs: 1, ..Default::default() };
    let report = flotilla_import::import(Some(&store), &options).unwrap();
    assert_eq!(report.kinds["runs"].destination, 1, "{report:#?}");
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert_eq!(report.not_imported.get("trace_info"), Some(&1));

    assert_eq!(store.get_experiment("7").unwrap().lifecycle_stage, LifecycleStage::Deleted);
    let run = store.get_run(RUN).unwrap();
    assert_eq!(
        (run.info.status, run.info.start_time, run.data.params[0].value.as_str()),
        (RunStatus::Finished, 2000, "0.1")
    );
    let history = store.metric_history(RUN, "loss", &PageRequest::default()).unwrap().items;
    assert_eq!((history.len(), history[0].value, history[1].value.is_nan()), (2, 0.5, true));
    let version = store.get_model_version("demand-17", "2").unwrap();
    assert_eq!((version.current_stage.as_str(), version.run_id.as_deref()), ("Staging", Some(RUN)));
    assert_eq!(store.get_registered_model("demand-17").unwrap().aliases[0].alias, "champion");

    let again = flotilla_import::import(Some(&store), &options).unwrap();
    assert!(again.kinds.values().all(|c| c.inserted == 0), "{again:#?}");

    // The same source into a PostgreSQL store, with a family rule.
    let destination = flotilla_store::PgStore::connect(&server.create_database().unwrap()).unwrap();
    let options = flotilla_import::Options {
        family_rules: vec![flotilla_import::families::FamilyRule::parse(r"demand-(?P<store>\d+)=demand").unwrap()],
        ..options
    };
    let report = flotilla_import::import(Some(&destination), &options).unwrap();
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert_eq!(report.kinds["metric_points"].destination, 2, "{report:#?}");
    let run = destination.get_run(RUN).unwrap();
    assert_eq!((run.info.end_time, run.info.user_id.as_str()), (Some(3000), "ana"));
    let history = destination.metric_history(RUN, "loss", &PageRequest::default()).unwrap().items;
    assert_eq!(history.len(), 2);
    let partition = [flotilla_core::fleet::PartitionValue::new("store", "17")];
    let target = destination.resolve_partition("demand", &partition, "champion").unwrap();
    assert_eq!((target.model.as_str(), i64::from(target.version)), ("demand-17", 2));
    let again = flotilla_import::import(Some(&destination), &options).unwrap();
    assert!(again.kinds.values().all(|c| c.inserted == 0), "{again:#?}");
    assert!(again.conflicts.is_empty(), "{:?}", again.conflicts);
    let next = destination
        .create_model_version(&flotilla_store::NewModelVersion {
            name: "demand-17".into(),
            source: "mlflow-artifacts:/7/x".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(i64::from(next.version), 3);
}
