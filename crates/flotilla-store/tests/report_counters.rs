//! The report counters of migration 20 (SQLite only: PostgreSQL does not
//! run reports yet) against a brute-force recount from the base tables,
//! after each kind of change that moves them: registrations with lineage,
//! alias moves, a dataset superseded by a newer digest (through the fleet
//! API and through `log-inputs`), a version made from a run, and deletes of
//! versions, aliases, models and memberships.

use flotilla_core::fleet::parse_path;
use flotilla_core::model::{Dataset, DatasetInput};
use flotilla_store::datasets::NewDatasetInput;
use flotilla_store::fleet::{AliasChange, BulkVersion, ChangeContext, ModelAddress, NewFamily};
use flotilla_store::report::{ReportFilter, ReportSectionStore};
use flotilla_store::{BulkStore, FamilyStore, NewModelVersion, NewRun, RegistryStore, RunStore, SqliteStore};
use rusqlite::Connection;

fn ctx() -> ChangeContext {
    ChangeContext::claimed("ana", "test")
}

fn data(name: &str, digest: &str) -> NewDatasetInput {
    NewDatasetInput {
        name: name.into(),
        digest: digest.into(),
        source_type: "s3".into(),
        source: format!("s3://d/{name}/{digest}"),
        schema: None,
        context: "training".into(),
    }
}

fn version(model: ModelAddress, datasets: Vec<NewDatasetInput>, champion: bool) -> BulkVersion {
    BulkVersion {
        model,
        source: "mlflow-artifacts:/0/m".into(),
        run_id: None,
        description: None,
        tags: vec![],
        metrics: vec![("rmse".into(), 0.5)],
        aliases: if champion { vec!["champion".into()] } else { vec![] },
        datasets,
    }
}

fn store_at(family: &str, store: &str) -> ModelAddress {
    ModelAddress::Partition {
        family: family.into(),
        partition: parse_path(&format!("region=r/store={store}")).unwrap(),
    }
}

fn named(model: &str) -> ModelAddress {
    ModelAddress::Name { model: model.into() }
}

/// The store's file opened beside it, with the store's connection settings that triggers depend on.
fn raw(path: &std::path::Path) -> Connection {
    let db = Connection::open(path).unwrap();
    db.execute_batch("PRAGMA foreign_keys = ON; PRAGMA recursive_triggers = ON; PRAGMA busy_timeout = 5000;").unwrap();
    db
}

fn rows(db: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = db.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every champion from the base tables, as the reports read them before the counters.
const BRUTE_CHAMPIONS: &str = "WITH champ AS (
    SELECT a.rm_id, COALESCE(fm.family_id, 0) AS family_id, a.version, mv.creation_time AS made,
      (SELECT max(de.creation_time) FROM dataset_versions dv JOIN dataset_entities de ON de.ds_id = dv.ds_id
        WHERE dv.rm_id = a.rm_id AND dv.version = a.version) AS data_time,
      EXISTS (SELECT 1 FROM dataset_versions dv JOIN dataset_entities de ON de.ds_id = dv.ds_id
        WHERE dv.rm_id = a.rm_id AND dv.version = a.version AND EXISTS (
          SELECT 1 FROM dataset_entities d2 WHERE d2.name = de.name AND (d2.creation_time > de.creation_time
            OR (d2.creation_time = de.creation_time AND d2.ds_id > de.ds_id)))) AS superseded
    FROM registered_model_aliases a JOIN model_versions mv ON mv.rm_id = a.rm_id AND mv.version = a.version
    LEFT JOIN fleet_members fm ON fm.rm_id = a.rm_id WHERE a.alias = 'champion')";

/// Asserts the kept rows and counters equal the brute-force recount; returns the champions.
fn assert_counters_match(db: &Connection, step: &str) -> usize {
    let brute = rows(db, &format!("{BRUTE_CHAMPIONS} SELECT * FROM champ ORDER BY rm_id"));
    let kept =
        rows(db, "SELECT rm_id, family_id, version, made, data_time, superseded FROM report_champions ORDER BY rm_id");
    assert_eq!(kept, brute, "champion rows after {step}");
    let brute_families = rows(
        db,
        &format!(
            "{BRUTE_CHAMPIONS} SELECT family_id, count(*), sum(made), count(data_time), COALESCE(sum(data_time), 0),
               sum(superseded) FROM champ GROUP BY family_id ORDER BY family_id"
        ),
    );
    let families = rows(
        db,
        "SELECT family_id, champions, made_sum, with_data, data_sum, superseded FROM report_family_counts
         WHERE champions != 0 ORDER BY family_id",
    );
    assert_eq!(families, brute_families, "family counters after {step}");
    let emptied = rows(
        db,
        "SELECT * FROM report_family_counts WHERE champions = 0
           AND (made_sum != 0 OR with_data != 0 OR data_sum != 0 OR superseded != 0)",
    );
    assert!(emptied.is_empty(), "a family without champions keeps sums after {step}: {emptied:?}");
    let brute_datasets = rows(
        db,
        &format!(
            "{BRUTE_CHAMPIONS}, used AS (SELECT dv.ds_id, c.family_id FROM champ c
               JOIN dataset_versions dv ON dv.rm_id = c.rm_id AND dv.version = c.version)
             SELECT ds_id, family_id, count(*) FROM used GROUP BY ds_id, family_id
             UNION ALL SELECT ds_id, -1, count(*) FROM used GROUP BY ds_id
             ORDER BY 1, 2"
        ),
    );
    let datasets =
        rows(db, "SELECT ds_id, family_id, champions FROM report_dataset_champions WHERE champions != 0 ORDER BY 1, 2");
    assert_eq!(datasets, brute_datasets, "dataset counters after {step}");
    let brute_registrations = rows(
        db,
        "SELECT COALESCE(fm.family_id, 0) AS fid, rm.creation_time / 86400000 AS day, count(*)
         FROM registered_models rm LEFT JOIN fleet_members fm ON fm.rm_id = rm.rm_id GROUP BY fid, day ORDER BY 1, 2",
    );
    let registrations =
        rows(db, "SELECT family_id, day, models FROM report_registrations WHERE models != 0 ORDER BY 1, 2");
    assert_eq!(registrations, brute_registrations, "registration counters after {step}");
    brute.len()
}

fn set(store: &SqliteStore, model: &str, version: Option<i64>) {
    let change = AliasChange { model: model.into(), alias: "champion".into(), version };
    store.set_aliases(&[change], &ctx()).unwrap();
}

#[test]
fn counters_equal_a_recount_after_every_kind_of_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flotilla.db");
    let store = SqliteStore::open(&path).unwrap();
    let db = raw(&path);
    for name in ["demand", "supply"] {
        let levels = vec!["region".into(), "store".into()];
        store.create_family(&NewFamily { name: name.into(), levels, description: None }).unwrap();
    }

    for name in ["solo", "bare"] {
        store.create_registered_model(name, &[], None).unwrap();
    }
    // Champions trained on train@d1 and a shared calendar, in two families and outside any.
    let mut first: Vec<BulkVersion> = (0..4)
        .map(|i| {
            let family = if i % 2 == 0 { "demand" } else { "supply" };
            version(store_at(family, &format!("s{i}")), vec![data("train", "d1"), data("cal", "c1")], true)
        })
        .collect();
    first.push(version(named("solo"), vec![data("train", "d1")], true));
    first.push(version(named("bare"), vec![], true));
    store.register_versions(&first, &ctx()).unwrap();
    assert_eq!(assert_counters_match(&db, "registrations"), 6);

    // A newer digest: version 2 of s0 and s1 trained on it, s0's made champion by the bulk API,
    // s1's by an alias move afterwards; the older champions are now on superseded data.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let second = vec![
        version(store_at("demand", "s0"), vec![data("train", "d2")], true),
        version(store_at("supply", "s1"), vec![data("train", "d2"), data("cal", "c1")], false),
    ];
    store.register_versions(&second, &ctx()).unwrap();
    assert_counters_match(&db, "a newer digest");
    set(&store, "supply.store=s1", Some(2));
    assert_counters_match(&db, "an alias move");
    let superseded: i64 = db.query_row("SELECT sum(superseded) FROM report_family_counts", [], |r| r.get(0)).unwrap();
    assert_eq!(superseded, 3, "s2, s3 and solo are on train@d1");

    // log-inputs supersedes the calendar; a version made from that run carries it.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let run = store.create_run(&NewRun { experiment_id: "0".into(), user_id: "ada".into(), ..NewRun::default() });
    let run_id = run.unwrap().info.run_id;
    let cal = Dataset {
        name: "cal".into(),
        digest: "c2".into(),
        source_type: "s3".into(),
        source: "s3://d/cal/c2".into(),
        schema: None,
        profile: None,
    };
    store.log_inputs(&run_id, &[DatasetInput { tags: vec![], dataset: cal }], &[]).unwrap();
    assert_counters_match(&db, "log-inputs of a newer calendar");
    let from_run = NewModelVersion {
        name: "solo".into(),
        source: format!("runs:/{run_id}/model"),
        run_id: Some(run_id.clone()),
        ..NewModelVersion::default()
    };
    let v = store.create_model_version(&from_run).unwrap().version;
    set(&store, "solo", Some(v.get()));
    assert_counters_match(&db, "a champion made from a run");
    // An input logged to that run afterwards is a new lineage edge of the champion itself.
    let late = Dataset {
        name: "weather".into(),
        digest: "w1".into(),
        source_type: "s3".into(),
        source: "s3://d/weather/w1".into(),
        schema: None,
        profile: None,
    };
    store.log_inputs(&run_id, &[DatasetInput { tags: vec![], dataset: late }], &[]).unwrap();
    assert_counters_match(&db, "an input logged to the champion's run");

    // Deletes: the champion's version, an alias, a model, a membership (its family).
    store.delete_model_version("demand.store=s0", "2").unwrap();
    assert_counters_match(&db, "the champion version deleted");
    set(&store, "supply.store=s3", None);
    assert_counters_match(&db, "an alias removed");
    store.delete_registered_model("bare").unwrap();
    assert_counters_match(&db, "a model deleted");
    db.execute(
        "DELETE FROM fleet_members WHERE rm_id = (SELECT rm_id FROM registered_models WHERE name = 'demand.store=s2')",
        [],
    )
    .unwrap();
    let left = assert_counters_match(&db, "a membership deleted");
    assert_eq!(left, 3, "s1, s2 (now outside any family) and solo");

    // The counted sections agree with the same sections over a scope that walks its models.
    let fleet = store.staleness(&ReportFilter::default(), 0).unwrap();
    let champions: i64 = fleet.iter().map(|s| s.champions).sum();
    assert_eq!(champions, 3);
    let (used, distinct) = store.datasets_in_use(&ReportFilter::default(), 20).unwrap();
    let brute_distinct: i64 = db
        .query_row(
            &format!("{BRUTE_CHAMPIONS} SELECT count(DISTINCT dv.ds_id) FROM champ c JOIN dataset_versions dv ON dv.rm_id = c.rm_id AND dv.version = c.version"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(distinct, brute_distinct);
    assert_eq!(used.len() as i64, distinct);

    // Registrations in periods cut anywhere in a day, against a count of the models.
    let (first, last): (i64, i64) = db
        .query_row("SELECT min(creation_time), max(creation_time) FROM registered_models", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    const DAY: i64 = 86_400_000;
    let periods = [
        (first, last + 1),
        (first + 1, last),
        (first - 3 * DAY - 5, last + 2 * DAY + 7),
        (last + 1, last + DAY),
        (0, i64::MAX / 2),
    ];
    let supply: i64 = db.query_row("SELECT family_id FROM families WHERE name = 'supply'", [], |r| r.get(0)).unwrap();
    for (from, to) in periods {
        for (family, fid) in [(None, None), (Some("supply"), Some(supply))] {
            let brute: i64 = db
                .query_row(
                    "SELECT count(*) FROM registered_models rm WHERE creation_time >= ?1 AND creation_time < ?2
                       AND (?3 IS NULL OR rm.rm_id IN (SELECT rm_id FROM fleet_members WHERE family_id = ?3))",
                    rusqlite::params![from, to, fid],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(store.registered_count(family, from, to).unwrap(), Some(brute), "{family:?} in [{from}, {to})");
        }
    }
}

/// A recount (what a bulk load ends with) gives the rows the triggers kept.
#[test]
fn a_recount_gives_what_the_triggers_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flotilla.db");
    let store = SqliteStore::open(&path).unwrap();
    let levels = vec!["region".into(), "store".into()];
    store.create_family(&NewFamily { name: "demand".into(), levels, description: None }).unwrap();
    let vs: Vec<BulkVersion> = (0..5)
        .map(|i| version(store_at("demand", &format!("s{i}")), vec![data(&format!("t{}", i % 2), "d1")], true))
        .collect();
    store.register_versions(&vs, &ctx()).unwrap();
    let db = raw(&path);
    let snapshot = |db: &Connection| {
        [
            rows(db, "SELECT * FROM report_champions ORDER BY rm_id"),
            rows(db, "SELECT * FROM report_family_counts WHERE champions != 0 ORDER BY family_id"),
            rows(db, "SELECT * FROM report_dataset_champions WHERE champions != 0 ORDER BY ds_id, family_id"),
        ]
    };
    let kept = snapshot(&db);
    db.execute_batch(include_str!("../src/sqlite/report_recount.sql")).unwrap();
    assert_eq!(snapshot(&db), kept);
    assert_eq!(kept[0].len(), 5);
}
