//! Runs the store behaviour suite against the SQLite backend, on a real
//! database file in a temporary directory.

mod suite;

use flotilla_store::SqliteStore;

fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).expect("open store");
    (dir, store)
}

suite::behaviour_suite!(fresh);

/// The searches' plans one at a time: every large set probed while the
/// page walks its sort order to the end, or every page driven by its
/// smallest set at once (on a small fleet the default planning drives).
fn with_planning(drive_limit: i64, walk_allowance: std::time::Duration) -> (tempfile::TempDir, SqliteStore) {
    let (dir, mut store) = fresh();
    store.set_search_planning(flotilla_store::SearchPlanning { drive_limit, walk_allowance, ..Default::default() });
    (dir, store)
}

macro_rules! under_planning {
    ($($test:ident: $drive_limit:expr, $allowance:expr;)*) => {$(
        #[test]
        fn $test() {
            let plan = || with_planning($drive_limit, $allowance);
            suite::plans::every_filter_with_every_sort(&plan().1);
            suite::plans::visibility_with_every_filter_and_sort(&plan().1);
            suite::fleet::fleet_search_filters_sorts_and_pages(&plan().1);
            suite::fleet_versions::version_search_filters_sorts_and_pages(&plan().1);
        }
    )*};
}

under_planning! {
    search_plans_agree_when_every_page_walks: 0, std::time::Duration::from_secs(3600);
    search_plans_agree_when_every_page_is_driven: 0, std::time::Duration::ZERO;
}

/// The plans of a cross-metric page on one random fleet, each page asked of
/// another: from the metric pairs, the default planning, walking only,
/// driving only, and from the far end (a capped walk of one row finds its
/// matches rare); then the pair tables against the metrics they pair.
#[test]
fn cross_metric_plans_agree_and_continue_each_others_pages() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flotilla.db");
    let planned = |drive_limit, walk_allowance, near_rows, metric_pairs| {
        let mut store = SqliteStore::open(&path).unwrap();
        let planning = flotilla_store::SearchPlanning {
            drive_limit,
            walk_allowance,
            near_rows,
            metric_pairs,
            ..Default::default()
        };
        store.set_search_planning(planning);
        store
    };
    let hour = Duration::from_secs(3600);
    let stores = [
        planned(0, hour, 0, true),
        planned(0, hour, 1, false),
        SqliteStore::open(&path).unwrap(),
        planned(0, hour, 0, false),
        planned(0, Duration::ZERO, 0, false),
    ];
    let refs: Vec<&dyn flotilla_store::Store> = stores.iter().map(|s| s as &dyn flotilla_store::Store).collect();
    suite::plans::cross_metric_pages_match_brute_force(&refs);
    suite::plans::metric_changes_after_the_fleet(refs[0]);
    metric_pairs_match_their_metrics(&path);
}

/// Every pair row is the pair of two metrics of one aliased version (or
/// version), with the bucket of the first, and every such pair has its row.
fn metric_pairs_match_their_metrics(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let checks = [
        "SELECT rm_id, alias, key_a, key_b, value_b, value_a FROM alias_metric_pairs",
        "SELECT a.rm_id, a.alias, a.key, b.key, b.value, a.value
           FROM alias_metrics a JOIN alias_metrics b ON b.rm_id = a.rm_id AND b.alias = a.alias AND b.key <> a.key",
        "SELECT rm_id, version, key_a, key_b, value_b, value_a FROM version_metric_pairs",
        "SELECT a.rm_id, a.version, a.key, b.key, b.value, a.value FROM model_version_metrics a
           JOIN model_version_metrics b ON b.rm_id = a.rm_id AND b.version = a.version AND b.key <> a.key",
    ];
    for pair in checks.chunks(2) {
        let (rows, metrics) = (pair[0], pair[1]);
        let count =
            |sql: &str| -> i64 { conn.query_row(&format!("SELECT count(*) FROM ({sql})"), [], |r| r.get(0)).unwrap() };
        assert!(count(rows) > 10, "{rows}");
        assert_eq!(count(&format!("{rows} EXCEPT {metrics}")), 0, "{rows}");
        assert_eq!(count(&format!("{metrics} EXCEPT {rows}")), 0, "{metrics}");
    }
    for table in ["alias_metric_pairs", "version_metric_pairs"] {
        let mut stmt = conn.prepare(&format!("SELECT bucket, value_a FROM {table}")).unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))).unwrap();
        for row in rows {
            let (bucket, value) = row.unwrap();
            assert_eq!(bucket, flotilla_store::sqlite::metric_bucket(value), "{table}: {value}");
        }
    }
}

#[test]
fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flotilla.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        flotilla_store::ExperimentStore::create_experiment(&store, "kept", None, &[]).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let e = flotilla_store::ExperimentStore::get_experiment_by_name(&store, "kept").unwrap();
    assert_eq!(e.name, "kept");
}
