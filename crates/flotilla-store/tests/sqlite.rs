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
