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
/// another: the default planning, walking only, driving only, and from the
/// far end (a capped walk of one row finds its matches rare).
#[test]
fn cross_metric_plans_agree_and_continue_each_others_pages() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flotilla.db");
    let planned = |drive_limit, walk_allowance, near_rows| {
        let mut store = SqliteStore::open(&path).unwrap();
        let planning = flotilla_store::SearchPlanning { drive_limit, walk_allowance, near_rows, ..Default::default() };
        store.set_search_planning(planning);
        store
    };
    let hour = Duration::from_secs(3600);
    let stores =
        [planned(0, hour, 1), SqliteStore::open(&path).unwrap(), planned(0, hour, 0), planned(0, Duration::ZERO, 0)];
    let refs: Vec<&dyn flotilla_store::Store> = stores.iter().map(|s| s as &dyn flotilla_store::Store).collect();
    suite::plans::cross_metric_pages_match_brute_force(&refs);
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
