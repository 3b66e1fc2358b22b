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
fn with_planning(drive_limit: i64, walk_steps: u64) -> (tempfile::TempDir, SqliteStore) {
    let (dir, mut store) = fresh();
    store.set_search_planning(flotilla_store::SearchPlanning { drive_limit, walk_steps, ..Default::default() });
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
    search_plans_agree_when_every_page_walks: 0, u64::MAX;
    search_plans_agree_when_every_page_is_driven: 0, 0;
}

/// A bound on the sorted metric within a family under every plan: the
/// default planning (on a small fleet, the family drives), walking only, and
/// a capped walk of one row (matches found rare there: from the far end, the
/// family its only set).
#[test]
fn bound_on_the_sorted_metric_within_a_family_under_every_plan() {
    let plannings = [
        flotilla_store::SearchPlanning::default(),
        flotilla_store::SearchPlanning { drive_limit: 0, walk_steps: u64::MAX, ..Default::default() },
        flotilla_store::SearchPlanning {
            drive_limit: 0,
            walk_steps: u64::MAX,
            near_rows: 1,
            metric_pairs: false,
            ..Default::default()
        },
    ];
    for planning in plannings {
        let (_dir, mut store) = fresh();
        store.set_search_planning(planning);
        suite::plans::bound_on_the_sorted_metric_within_a_family(&store);
    }
}

/// The UI's bounded facets stop on SQLite's work between matches.
#[test]
fn bounded_facets_stop_on_work_between_matches() {
    let (_dir, store) = fresh();
    suite::fleet::bounded_facets_stop_on_work_between_matches(&store);
}

/// A name pattern's page as the default planning reads it, from the
/// place-ordered trigram index whenever it can, by walking the sort order only, driven by the trigram index's candidates
/// only, and from the ordered index with an allowance too short for most
/// pages (the older plans then): the same names, in order, across pages,
/// also after names crowd into one gap of the name order (some then have
/// no place: checked) and are renamed and deleted.
#[test]
fn name_pattern_plans_agree() {
    let plannings = [
        flotilla_store::SearchPlanning::default(),
        // The ordered index for every pattern it takes (the rm_id-keyed one never drives).
        flotilla_store::SearchPlanning { name_walk_cost: 0.0, ..Default::default() },
        flotilla_store::SearchPlanning { name_order_steps: 0, name_walk_cost: 0.0, ..Default::default() },
        flotilla_store::SearchPlanning { name_order_steps: 0, name_walk_cost: f64::INFINITY, ..Default::default() },
        flotilla_store::SearchPlanning { name_order_steps: 1_000, ..Default::default() },
    ];
    for planning in plannings {
        let (dir, mut store) = fresh();
        store.set_search_planning(planning);
        suite::registry::search_registered_models_name_patterns(&store);
        let (dir2, mut crowded) = fresh();
        crowded.set_search_planning(planning);
        suite::registry::search_registered_models_name_patterns_after_changes(&crowded);
        let conn = rusqlite::Connection::open(dir2.path().join("flotilla.db")).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        // 30 names into one gap fill it; the store re-spaced the neighbourhood each time.
        assert_eq!(count("SELECT count(*) FROM registered_model_names_unplaced"), 0, "every name placed");
        assert_eq!(
            count("SELECT count(*) FROM registered_model_name_order")
                + count("SELECT count(*) FROM registered_model_names_unplaced"),
            count("SELECT count(*) FROM registered_models"),
            "every model placed or listed unplaced"
        );
        // Places grow with names.
        let out_of_order = count(
            "SELECT count(*) FROM (SELECT r.name, lag(r.name) OVER (ORDER BY o.place) AS before
             FROM registered_model_name_order o JOIN registered_models r ON r.rm_id = o.rm_id) WHERE before >= name",
        );
        assert_eq!(out_of_order, 0);
        drop(dir);
    }
}

/// Thousands of names created into one gap of the name order (a family's
/// models sorting between two existing names, in increasing, decreasing and
/// mixed order) are all placed, in name order, with the trigram index
/// keyed by the places; and names a store left unplaced (as before
/// migration 29) are merged into searches, then placed by the next create
/// beside them.
#[test]
fn names_created_into_one_gap_are_all_placed_in_order() {
    use flotilla_store::RegistryStore;
    let (dir, store) = fresh();
    let conn = rusqlite::Connection::open(dir.path().join("flotilla.db")).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let check = |all: &[String]| {
        assert_eq!(
            count("SELECT count(*) FROM registered_model_name_order")
                + count("SELECT count(*) FROM registered_model_names_unplaced"),
            all.len() as i64
        );
        let out_of_order = count(
            "SELECT count(*) FROM (SELECT r.name, lag(r.name) OVER (ORDER BY o.place) AS before
             FROM registered_model_name_order o JOIN registered_models r ON r.rm_id = o.rm_id) WHERE before >= name",
        );
        assert_eq!(out_of_order, 0, "places grow with names");
        assert_eq!(
            count(
                "SELECT count(*) FROM registered_model_name_order o
                 WHERE NOT EXISTS (SELECT 1 FROM registered_model_names_ordered f WHERE f.rowid = o.place)"
            ),
            0,
            "each place in the trigram index"
        );
        assert_eq!(
            count("SELECT count(*) FROM registered_model_names_ordered"),
            count("SELECT count(*) FROM registered_model_name_order"),
            "no stale place in the trigram index"
        );
    };
    let mut all: Vec<String> = vec!["a".into(), "z".into()];
    for name in &all {
        store.create_registered_model(name, &[], None).unwrap();
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let names = (0..1500)
        .map(|i| format!("m-up-{i:05}"))
        .chain((0..1500).rev().map(|i| format!("m-down-{i:05}")))
        .chain((0..1500).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("m-mixed-{:016x}", x)
        }));
    for name in names {
        store.create_registered_model(&name, &[], None).unwrap();
        all.push(name);
    }
    assert_eq!(count("SELECT count(*) FROM registered_model_names_unplaced"), 0);
    check(&all);
    // Names left unplaced (a store before migration 29): searches merge them in.
    let unplaced = "SELECT rm_id FROM registered_models WHERE name LIKE 'm-up-001%'";
    conn.execute_batch(&format!(
        "DELETE FROM registered_model_names_ordered WHERE rowid IN
             (SELECT place FROM registered_model_name_order WHERE rm_id IN ({unplaced}));
         DELETE FROM registered_model_name_order WHERE rm_id IN ({unplaced});
         INSERT INTO registered_model_names_unplaced (rm_id) {unplaced};"
    ))
    .unwrap();
    assert_eq!(count("SELECT count(*) FROM registered_model_names_unplaced"), 100);
    suite::registry::assert_pattern_pages(
        &store,
        &all,
        &[("LIKE", "%up-001%"), ("ILIKE", "%UP-0015%"), ("LIKE", "%-0%")],
    );
    // The next create beside them places them too.
    store.create_registered_model("m-up-00150a", &[], None).unwrap();
    all.push("m-up-00150a".into());
    assert_eq!(count("SELECT count(*) FROM registered_model_names_unplaced"), 0);
    check(&all);
    suite::registry::assert_pattern_pages(&store, &all, &[("LIKE", "%up-001%"), ("LIKE", "%150%")]);
}

/// The plans of a cross-metric page on one random fleet, each page asked of
/// another: from the metric pairs, the default planning, walking only,
/// driving only, and from the far end (a capped walk of one row finds its
/// matches rare); again with a version past the pairs' cap, merged into the
/// pairs' pages or (a store merging none) answered from the far end; then
/// the pair tables against the metrics they pair, also after a bulk rebuild.
#[test]
fn cross_metric_plans_agree_and_continue_each_others_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flotilla.db");
    let planned = |drive_limit, walk_steps, near_rows, metric_pairs, pair_overflow_merged| {
        let mut store = SqliteStore::open(&path).unwrap();
        let planning = flotilla_store::SearchPlanning {
            drive_limit,
            walk_steps,
            near_rows,
            metric_pairs,
            pair_overflow_merged,
            ..Default::default()
        };
        store.set_search_planning(planning);
        store
    };
    let unbounded = u64::MAX;
    let stores = [
        planned(0, unbounded, 0, true, 256),
        planned(0, unbounded, 1, false, 256),
        SqliteStore::open(&path).unwrap(),
        planned(0, unbounded, 0, false, 256),
        planned(0, 0, 0, false, 256),
        // Pairs, but no entity past their cap merged in: the far end then.
        planned(0, unbounded, 1, true, 0),
    ];
    let refs: Vec<&dyn flotilla_store::Store> = stores.iter().map(|s| s as &dyn flotilla_store::Store).collect();
    let mut fleet = suite::plans::random_cross_metric_fleet(refs[0]);
    suite::plans::cross_metric_pages_match(&refs, &fleet);
    // A champion version past the pairs' cap: not paired, in overflow; the
    // pair plan merges it in (or, not allowed to, steps aside) and every plan
    // still pages through the same rows.
    let version = suite::plans::overflowing_champion(refs[0], &mut fleet, 40);
    let counts = pair_counts(&path);
    assert_eq!(counts.overflow, (1, 1), "{version}");
    let (model, v) = version.rsplit_once('/').unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let own: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM version_metric_pairs p WHERE p.rm_id = m.rm_id AND p.version = ?2)
                  + (SELECT count(*) FROM alias_metric_pairs p WHERE p.rm_id = m.rm_id AND p.alias = 'champion')
               FROM registered_models m WHERE m.name = ?1",
            rusqlite::params![model, v.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(own, 0, "{version} has no pairs");
    drop(conn);
    suite::plans::cross_metric_pages_match(&refs, &fleet);
    suite::plans::metric_changes_after_the_fleet(refs[0]);
    metric_pairs_match_their_metrics(&path);
    // The bulk loader's rebuild gives the same pairs and overflow.
    let before = pair_counts(&path);
    drop(stores);
    rebuild_pairs(&path);
    assert_eq!(pair_counts(&path), before);
    metric_pairs_match_their_metrics(&path);
}

/// A version made from a run of 1,000 metric keys, aliased, then a version
/// of 16 keys whose run logs a 17th: each costs at most the cap's pairs
/// (16 x 15 rows), and the bulk loader's rebuild agrees.
#[test]
fn versions_past_the_metric_cap_write_no_pairs() {
    use flotilla_core::model::Metric;
    use flotilla_store::{NewModelVersion, NewRun, RegistryStore, RunStore};
    let (dir, store) = fresh();
    let path = dir.path().join("flotilla.db");
    let cap = flotilla_store::sqlite::MAX_PAIRED_METRICS;
    let metric = |i: usize| Metric {
        key: format!("k{i:04}"),
        value: i as f64,
        timestamp: 1,
        step: 0,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
        run_id: None,
    };
    let version_of = |keys: usize| {
        let run = store
            .create_run(&NewRun { experiment_id: "0".into(), user_id: "ana".into(), ..NewRun::default() })
            .unwrap();
        let batch: Vec<Metric> = (0..keys).map(metric).collect();
        store.log_batch(&run.info.run_id, &batch, &[], &[]).unwrap();
        let v = store
            .create_model_version(&NewModelVersion {
                name: "wide".into(),
                source: "mlflow-artifacts:/0/x".into(),
                run_id: Some(run.info.run_id.clone()),
                ..NewModelVersion::default()
            })
            .unwrap();
        (run.info.run_id, v.version.to_string())
    };
    store.create_registered_model("wide", &[], None).unwrap();
    let (_, thousand) = version_of(1000);
    store.set_alias("wide", "champion", &thousand).unwrap();
    assert_eq!(pair_counts(&path), PairCounts { alias: 0, version: 0, overflow: (1, 1) });

    // Within the cap: every ordered pair; one key more: none.
    let (run, within) = version_of(cap);
    store.set_alias("wide", "challenger", &within).unwrap();
    let full = (cap * (cap - 1)) as i64;
    assert_eq!(pair_counts(&path), PairCounts { alias: full, version: full, overflow: (1, 1) });
    store.log_batch(&run, &[metric(cap)], &[], &[]).unwrap();
    assert_eq!(pair_counts(&path), PairCounts { alias: 0, version: 0, overflow: (2, 2) });

    // An alias moved to a smaller version leaves the overflow and is paired.
    let (_, small) = version_of(3);
    store.set_alias("wide", "champion", &small).unwrap();
    store.delete_alias("wide", "challenger").unwrap();
    assert_eq!(pair_counts(&path), PairCounts { alias: 6, version: 6, overflow: (0, 2) });
    metric_pairs_match_their_metrics(&path);
    drop(store);
    rebuild_pairs(&path);
    assert_eq!(pair_counts(&path), PairCounts { alias: 6, version: 6, overflow: (0, 2) });
}

/// Rows of the pair tables, and of the overflow tables (aliases, versions).
#[derive(Debug, PartialEq)]
struct PairCounts {
    alias: i64,
    version: i64,
    overflow: (i64, i64),
}

fn pair_counts(path: &std::path::Path) -> PairCounts {
    let conn = rusqlite::Connection::open(path).unwrap();
    let count =
        |table: &str| -> i64 { conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap() };
    PairCounts {
        alias: count("alias_metric_pairs"),
        version: count("version_metric_pairs"),
        overflow: (count("alias_metric_overflow"), count("version_metric_overflow")),
    }
}

/// The bulk loader's rebuild of the pairs (its deferred triggers dropped,
/// then everything rebuilt from the tables).
fn rebuild_pairs(path: &std::path::Path) {
    use flotilla_store::sqlite::bulk_load::{self, CatchUp, Loader};
    let mut loader = Loader::open(path).unwrap();
    loader
        .write(|tx| {
            bulk_load::begin(tx)?;
            bulk_load::finish(tx, CatchUp::FromTables)
        })
        .unwrap();
    loader.close().unwrap();
}

/// Every pair row is the pair of two metrics of one aliased version (or
/// version) within the cap, with the bucket of the first, and every such
/// pair has its row; every entity past the cap is in overflow, and every
/// overflow entity has metrics (none stays behind once they are gone).
fn metric_pairs_match_their_metrics(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let checks = [
        "SELECT rm_id, alias, key_a, key_b, value_b, value_a FROM alias_metric_pairs",
        "SELECT a.rm_id, a.alias, a.key, b.key, b.value, a.value
           FROM alias_metrics a JOIN alias_metrics b ON b.rm_id = a.rm_id AND b.alias = a.alias AND b.key <> a.key
          WHERE NOT EXISTS (SELECT 1 FROM alias_metric_overflow o WHERE o.alias = a.alias AND o.rm_id = a.rm_id)",
        "SELECT rm_id, version, key_a, key_b, value_b, value_a FROM version_metric_pairs",
        "SELECT a.rm_id, a.version, a.key, b.key, b.value, a.value FROM model_version_metrics a
           JOIN model_version_metrics b ON b.rm_id = a.rm_id AND b.version = a.version AND b.key <> a.key
          WHERE NOT EXISTS (SELECT 1 FROM version_metric_overflow o WHERE o.rm_id = a.rm_id AND o.version = a.version)",
    ];
    let count =
        |sql: &str| -> i64 { conn.query_row(&format!("SELECT count(*) FROM ({sql})"), [], |r| r.get(0)).unwrap() };
    let cap = flotilla_store::sqlite::MAX_PAIRED_METRICS;
    let past_cap = [
        format!("SELECT alias, rm_id FROM alias_metrics GROUP BY alias, rm_id HAVING count(*) > {cap}"),
        "SELECT alias, rm_id FROM alias_metric_overflow".to_string(),
        "SELECT DISTINCT alias, rm_id FROM alias_metrics".to_string(),
        format!("SELECT rm_id, version FROM model_version_metrics GROUP BY rm_id, version HAVING count(*) > {cap}"),
        "SELECT rm_id, version FROM version_metric_overflow".to_string(),
        "SELECT DISTINCT rm_id, version FROM model_version_metrics".to_string(),
    ];
    for t in past_cap.chunks(3) {
        assert_eq!(count(&format!("{} EXCEPT {}", t[0], t[1])), 0, "{}", t[0]);
        assert_eq!(count(&format!("{} EXCEPT {}", t[1], t[2])), 0, "{}", t[1]);
    }
    for pair in checks.chunks(2) {
        let (rows, metrics) = (pair[0], pair[1]);
        assert!(count(rows) > 5, "{rows}");
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
