//! The importer against real SQLite files: a source made with MLflow
//! 3.17.2's own DDL (`fixtures/mlflow-3.17.2.sql`) and filled row by row as
//! MLflow writes them, imported into a fresh store and read back through
//! the store's normal reads.

use std::path::{Path, PathBuf};

use flotilla_core::fleet::PartitionValue;
use flotilla_core::model::{LifecycleStage, RunStatus};
use flotilla_import::families::FamilyRule;
use flotilla_import::{ImportError, Options, Report};
use flotilla_store::prelude::*;
use flotilla_store::{PageRequest, SqliteStore};
use rusqlite::{Connection, params};

const RUN: &str = "0123456789abcdef0123456789abcdef";
const DELETED_RUN: &str = "fedcba9876543210fedcba9876543210";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A source with one of every entity, artifacts under `art/`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("mlflow.db")).unwrap();
        conn.execute_batch(include_str!("fixtures/mlflow-3.17.2.sql")).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO alembic_version VALUES ('dc11669786a5');
             INSERT INTO experiments VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 1000, 1000, 'default');
             INSERT INTO experiments VALUES (7, 'demand', 'mlflow-artifacts:/7', 'active', 1100, 1200, 'default');
             INSERT INTO experiment_tags VALUES ('team', 'forecast', 7);
             INSERT INTO runs VALUES ('{RUN}', 'train-1', 'LOCAL', 'x.py', '', 'ana', 'FINISHED', 2000, 3000, NULL,
                                      'active', 'mlflow-artifacts:/7/{RUN}/artifacts', 7, NULL);
             INSERT INTO runs VALUES ('{DELETED_RUN}', 'old', 'LOCAL', 'x.py', '', 'bo', 'FAILED', 1500, 1600, NULL,
                                      'deleted', 'mlflow-artifacts:/7/{DELETED_RUN}/artifacts', 7, 1700);
             INSERT INTO params VALUES ('lr', '0.1', '{RUN}');
             INSERT INTO tags VALUES ('mlflow.runName', 'train-1', '{RUN}');
             INSERT INTO tags VALUES ('mlflow.parentRunId', '{DELETED_RUN}', '{RUN}');
             INSERT INTO metrics VALUES ('loss', 0.5, 2100, '{RUN}', 0, 0);
             INSERT INTO metrics VALUES ('loss', 0.25, 2200, '{RUN}', 1, 0);
             INSERT INTO metrics VALUES ('loss', 0.0, 2300, '{RUN}', 2, 1);
             INSERT INTO latest_metrics VALUES ('loss', 0.0, 2300, 2, 1, '{RUN}');
             INSERT INTO datasets VALUES ('d-1', 7, 'sales', 'abc123', 'local', '{{\"uri\": \"/d\"}}', '{{}}', NULL);
             INSERT INTO inputs VALUES ('i-1', 'DATASET', 'd-1', 'RUN', '{RUN}', 0);
             INSERT INTO input_tags VALUES ('i-1', 'mlflow.data.context', 'training');
             INSERT INTO logged_models VALUES ('m-0001', 7, 'model', 'mlflow-artifacts:/7/models/m-0001/artifacts',
                                               2500, 2600, 2, 'active', 'sklearn', '{RUN}', NULL);
             INSERT INTO logged_model_tags VALUES ('m-0001', 7, 'k', 'v');
             INSERT INTO logged_model_params VALUES ('m-0001', 7, 'depth', '3');
             INSERT INTO logged_model_metrics VALUES ('m-0001', 'rmse', 2550, 0, 1.5, 7, '{RUN}', NULL, NULL, NULL);
             INSERT INTO registered_models VALUES ('demand-17', 4000, 4100, 'store 17', 'default');
             INSERT INTO registered_model_tags VALUES ('owner', 'ana', 'demand-17', 'default');
             INSERT INTO model_versions VALUES ('demand-17', 1, 4000, 4050, 'first', 'ana', 'Production',
                 'models:/m-0001', '{RUN}', 'READY', NULL, '', 'mlflow-artifacts:/7/models/m-0001/artifacts', 'default');
             INSERT INTO model_versions VALUES ('demand-17', 3, 4060, 4070, '', 'bo', 'Archived',
                 'mlflow-artifacts:/7/{DELETED_RUN}/artifacts/model', '{DELETED_RUN}', 'READY', NULL, '', NULL, 'default');
             INSERT INTO model_versions VALUES ('demand-17', 4, 4080, 4090, NULL, NULL, 'Deleted_Internal',
                 'REDACTED-SOURCE-PATH', 'REDACTED-RUN-ID', 'READY', NULL, 'REDACTED-RUN-LINK', NULL, 'default');
             INSERT INTO model_version_tags VALUES ('approved', 'yes', 'demand-17', 1, 'default');
             INSERT INTO registered_model_aliases VALUES ('champion', 1, 'demand-17', 'default');
             INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status)
                 VALUES ('tr-1', 7, 1, 1, 'OK');"
        ))
        .unwrap();
        let art = dir.path().join("art");
        for (path, body) in [
            (format!("7/{RUN}/artifacts/notes.txt"), "hello"),
            ("7/models/m-0001/artifacts/MLmodel".to_string(), "flavors: {}"),
            (format!("7/{DELETED_RUN}/artifacts/model/MLmodel"), "old"),
        ] {
            let file = art.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, body).unwrap();
        }
        Self { dir }
    }

    fn source(&self) -> Connection {
        Connection::open(self.dir.path().join("mlflow.db")).unwrap()
    }

    fn options(&self) -> Options {
        Options {
            from: format!("sqlite://{}", self.dir.path().join("mlflow.db").display()),
            artifacts_from: Some(self.dir.path().join("art")),
            artifacts_to: Some(self.destination_artifacts()),
            jobs: 2,
            ..Options::default()
        }
    }

    fn destination_artifacts(&self) -> PathBuf {
        self.dir.path().join("dest/artifacts")
    }

    fn store(&self) -> SqliteStore {
        std::fs::create_dir_all(self.dir.path().join("dest")).unwrap();
        SqliteStore::open(&self.dir.path().join("dest/flotilla.db")).unwrap()
    }

    fn import(&self, options: &Options) -> Report {
        flotilla_import::import(Some(&self.store()), options).unwrap()
    }
}

#[test]
fn every_field_arrives_with_its_id() {
    let f = Fixture::new();
    let report = f.import(&f.options());
    assert!(!report.has_differences(), "{report:#?}");
    let store = f.store();

    let e = store.get_experiment("7").unwrap();
    assert_eq!((e.name.as_str(), e.creation_timestamp, e.last_updated_timestamp), ("demand", 1100, 1200));
    assert_eq!(e.artifact_location, "mlflow-artifacts:/7");
    assert_eq!(e.tags.len(), 1);
    assert_eq!(store.get_experiment("0").unwrap().creation_timestamp, 1000, "the placeholder Default is replaced");

    let run = store.get_run(RUN).unwrap();
    let i = &run.info;
    assert_eq!((i.run_name.as_str(), i.user_id.as_str(), i.status), ("train-1", "ana", RunStatus::Finished));
    assert_eq!((i.start_time, i.end_time, i.lifecycle_stage), (2000, Some(3000), LifecycleStage::Active));
    assert_eq!(i.artifact_uri, format!("mlflow-artifacts:/7/{RUN}/artifacts"));
    assert_eq!(run.data.params[0].value, "0.1");
    assert_eq!(run.data.tags.len(), 2);
    assert_eq!(run.inputs.dataset_inputs[0].dataset.digest, "abc123");
    assert_eq!(run.inputs.dataset_inputs[0].tags[0].value, "training");
    let history = store.metric_history(RUN, "loss", &PageRequest::default()).unwrap().items;
    let points: Vec<(i64, i64, String)> = history.iter().map(|m| (m.step, m.timestamp, m.value.to_string())).collect();
    assert_eq!(points, [(0, 2100, "0.5".into()), (1, 2200, "0.25".into()), (2, 2300, "NaN".into())]);
    assert!(run.data.metrics[0].value.is_nan(), "the latest point is the NaN at step 2");

    let deleted = store.get_run(DELETED_RUN).unwrap();
    assert_eq!((deleted.info.lifecycle_stage, deleted.info.status), (LifecycleStage::Deleted, RunStatus::Failed));

    let logged = store.get_logged_model("m-0001").unwrap();
    assert_eq!((logged.info.creation_timestamp, logged.info.source_run_id.as_deref()), (2500, Some(RUN)));
    assert_eq!((logged.data.params.len(), logged.data.metrics[0].value), (1, 1.5));

    let model = store.get_registered_model("demand-17").unwrap();
    assert_eq!(
        (model.description.as_str(), model.creation_timestamp, model.last_updated_timestamp),
        ("store 17", 4000, 4100)
    );
    assert_eq!(model.aliases[0].alias, "champion");
    let v1 = store.get_model_version("demand-17", "1").unwrap();
    assert_eq!((v1.current_stage.as_str(), v1.source.as_str(), v1.tags.len()), ("Production", "models:/m-0001", 1));
    assert_eq!((v1.creation_timestamp, v1.last_updated_timestamp, v1.user_id.as_deref()), (4000, 4050, Some("ana")));
    let v3 = store.get_model_version("demand-17", "3").unwrap();
    assert_eq!((v3.run_id.as_deref(), v3.current_stage.as_str()), (Some(DELETED_RUN), "Archived"));
    assert!(store.get_model_version("demand-17", "2").is_err(), "version numbers are kept, gaps too");
    // The next version created follows the highest imported.
    let next = store
        .create_model_version(&flotilla_store::NewModelVersion {
            name: "demand-17".into(),
            source: "mlflow-artifacts:/7/x".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(i64::from(next.version), 5, "4 was deleted in MLflow: its number stays used");
    assert!(store.get_model_version("demand-17", "4").is_err(), "a deleted version is not imported");

    assert_eq!(report.kinds["metric_points"].destination, 3);
    assert_eq!(report.not_imported.get("trace_info"), Some(&1));
    assert_eq!(report.not_imported.get("model_versions (deleted in MLflow, kept there redacted)"), Some(&1));
    assert_eq!((report.artifacts.source_files, report.artifacts.destination_files), (3, 3));
    let copied = f.destination_artifacts().join("7/models/m-0001/artifacts/MLmodel");
    assert_eq!(std::fs::read_to_string(copied).unwrap(), "flavors: {}");
}

#[test]
fn a_rerun_imports_nothing_and_skipped_deleted_runs_keep_their_version_links() {
    let f = Fixture::new();
    let mut options = f.options();
    options.skip_deleted = true;
    let first = f.import(&options);
    assert!(!first.has_differences(), "{first:#?}");
    assert_eq!(first.kinds["runs"].skipped, 1);
    assert!(first.notes.iter().any(|n| n.contains(DELETED_RUN) && n.contains("link is kept")), "{:?}", first.notes);
    assert!(f.store().get_run(DELETED_RUN).is_err());
    assert_eq!(f.store().get_model_version("demand-17", "3").unwrap().run_id.as_deref(), Some(DELETED_RUN));
    assert!(!f.destination_artifacts().join(format!("7/{DELETED_RUN}")).exists(), "a skipped run's files stay behind");

    let again = f.import(&options);
    assert!(!again.has_differences(), "{again:#?}");
    for (kind, counts) in &again.kinds {
        assert_eq!(counts.inserted, 0, "{kind} re-imported");
    }
    assert_eq!(again.kinds["runs"].unchanged, 1);
    assert_eq!(again.artifacts.copied_files, 0);
}

#[test]
fn a_changed_source_row_is_a_conflict_and_the_destination_keeps_its_own() {
    let f = Fixture::new();
    f.import(&f.options());
    f.source().execute("UPDATE runs SET status = 'KILLED' WHERE run_uuid = ?", [RUN]).unwrap();
    f.source().execute("UPDATE registered_models SET description = 'changed'", []).unwrap();
    f.source().execute("INSERT INTO metrics VALUES ('loss', 0.1, 2400, ?, 3, 0)", [RUN]).unwrap();
    let report = f.import(&f.options());
    assert!(report.has_differences());
    let run = report.conflicts.iter().find(|c| c.kind == "runs").unwrap();
    assert_eq!((run.id.as_str(), run.fields.clone()), (RUN, vec!["info.status".to_string(), "metric_history".into()]));
    let model = report.conflicts.iter().find(|c| c.kind == "registered_models").unwrap();
    assert_eq!(model.fields, ["description"]);
    // The conflicting run's children count as conflicts, not as missing from the destination.
    let source_points =
        f.source().query_row("SELECT count(*) FROM metrics WHERE run_uuid = ?", [RUN], |r| r.get::<_, u64>(0)).unwrap();
    for kind in ["metric_points", "params", "run_tags"] {
        let c = &report.kinds[kind];
        assert_eq!(c.source, c.destination + c.conflicts, "{kind}: {c:?}");
    }
    assert_eq!(report.kinds["metric_points"].conflicts, source_points);
    assert_eq!(f.store().get_run(RUN).unwrap().info.status, RunStatus::Finished);
    assert_eq!(f.store().get_registered_model("demand-17").unwrap().description, "store 17");
}

#[test]
fn an_unknown_schema_revision_is_refused_before_anything_is_written() {
    let f = Fixture::new();
    f.source().execute("UPDATE alembic_version SET version_num = '99ffee00aa11'", []).unwrap();
    let err = flotilla_import::import(Some(&f.store()), &f.options()).unwrap_err();
    assert!(matches!(&err, ImportError::UnknownRevision(r) if r == "99ffee00aa11"), "{err}");
    assert!(err.to_string().contains("99ffee00aa11"));
    assert!(f.store().get_experiment("7").is_err());
}

#[test]
fn missing_artifacts_are_listed_and_an_unreachable_root_still_imports_the_metadata() {
    let f = Fixture::new();
    std::fs::remove_dir_all(f.dir.path().join("art/7/models")).unwrap();
    let report = f.import(&f.options());
    assert!(report.has_differences());
    assert_eq!(report.artifacts.missing, ["model version demand-17/1: 7/models/m-0001/artifacts"]);

    let g = Fixture::new();
    let mut options = g.options();
    options.artifacts_from = Some(Path::new("/nonexistent/mlflow-artifacts").to_path_buf());
    let report = g.import(&options);
    assert!(report.artifacts.not_copied.as_deref().unwrap().contains("not a readable directory"));
    assert_eq!(report.artifacts.missing.len(), 2, "{:?}", report.artifacts.missing);
    assert!(g.store().get_run(RUN).is_ok(), "the metadata is imported");
}

#[test]
fn family_rules_file_models_into_partitions_that_serving_resolves() {
    let f = Fixture::new();
    let mut options = f.options();
    options.family_rules = vec![FamilyRule::parse(r"demand-(?P<store>\d+)=demand").unwrap()];
    let report = f.import(&options);
    assert!(!report.has_differences(), "{report:#?}");
    let target = f.store().resolve_partition("demand", &[PartitionValue::new("store", "17")], "champion").unwrap();
    assert_eq!((target.model.as_str(), i64::from(target.version), target.fallback), ("demand-17", 1, false));
    let again = f.import(&options);
    assert!(!again.has_differences(), "{again:#?}");
    assert_eq!(again.kinds["family_members"].unchanged, 1);
}

#[test]
fn a_dry_run_counts_and_writes_nothing() {
    let f = Fixture::new();
    let mut options = f.options();
    options.dry_run = true;
    let report = flotilla_import::import(None, &options).unwrap();
    assert_eq!((report.kinds["runs"].source, report.kinds["metric_points"].source), (2, 3));
    assert_eq!(report.artifacts.source_files, 3);
    assert!(report.estimated_seconds.is_some());
    assert!(!f.dir.path().join("dest").exists());
}

/// Test-sized throughput check (the real benchmark is docs/benchmarks/import.md).
#[test]
fn metric_points_go_in_at_speed() {
    let f = Fixture::new();
    let conn = f.source();
    let tx = conn.unchecked_transaction().unwrap();
    let (runs, per_run) = (100, 2_000);
    for r in 0..runs {
        let id = format!("{r:032x}");
        tx.execute(
            "INSERT INTO runs VALUES (?, 'r', 'LOCAL', '', '', 'u', 'FINISHED', 1, 2, NULL, 'active', '', 7, NULL)",
            [&id],
        )
        .unwrap();
        let mut insert = tx.prepare_cached("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, 0)").unwrap();
        for p in 0..per_run {
            insert.execute(params![format!("m{}", p % 4), p as f64, 1000 + p, id, p / 4]).unwrap();
        }
    }
    tx.commit().unwrap();
    let report = f.import(&f.options());
    assert!(!report.has_differences(), "{report:#?}");
    let points = report.kinds["metric_points"].destination as f64;
    let rate = points / report.seconds;
    eprintln!("imported {points} metric points in {:.2} s: {rate:.0} points/s", report.seconds);
    assert!(points >= 200_000.0);
    assert!(rate > 10_000.0, "{rate:.0} points/s");
}

#[test]
fn skip_deleted_leaves_a_deleted_experiment_out_with_its_runs_and_keeps_the_versions() {
    let f = Fixture::new();
    f.source().execute("UPDATE experiments SET lifecycle_stage = 'deleted' WHERE experiment_id = 7", []).unwrap();
    let mut options = f.options();
    options.skip_deleted = true;
    let report = f.import(&options);
    let skipped = |kind: &str| report.kinds[kind].skipped;
    assert_eq!((skipped("experiments"), skipped("runs"), skipped("logged_models")), (1, 2, 1), "{report:#?}");
    assert_eq!(skipped("metric_points"), 3);
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    let store = f.store();
    assert!(store.get_experiment("7").is_err());
    assert!(store.get_run(RUN).is_err());
    assert_eq!(store.get_model_version("demand-17", "1").unwrap().run_id.as_deref(), Some(RUN));
    assert!(report.notes.iter().any(|n| n.contains(RUN) && n.contains("link is kept")), "{:?}", report.notes);
}
