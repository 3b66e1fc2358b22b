//! The generator on a real store file: it refuses a store open elsewhere,
//! a failed generation leaves the store usable, and what it writes directly
//! (facet counts, metrics, the name index) is what the store would have.

use flotilla_fleetgen::{FleetSpec, generate_fleet};
use flotilla_store::SqliteStore;

fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).expect("open store");
    (dir, store)
}

#[test]
fn the_generator_refuses_a_store_open_elsewhere() {
    let (dir, store) = fresh();
    let spec = FleetSpec {
        models: 10,
        versions_per_model: 1,
        families: 1,
        regions_per_family: 1,
        seed: 1,
        placeholder_source: "mlflow-artifacts:/fleet/placeholder".into(),
    };
    let path = dir.path().join("flotilla.db");
    let err = generate_fleet(&path, &spec, &mut |_| false, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("open in another process"), "{err}");
    // Nothing was written, and the store still works.
    let page = flotilla_store::FleetSearchStore::search_fleet(&store, &Default::default()).unwrap();
    assert!(page.items.is_empty());
    drop(store);
    let (report, _) = generate_fleet(&path, &spec, &mut |_| false, &mut |_| {}).unwrap();
    assert_eq!(report.versions, 10);
}

#[test]
fn a_failed_generation_leaves_a_usable_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flotilla.db");
    let spec = FleetSpec {
        models: 50,
        versions_per_model: 2,
        families: 2,
        regions_per_family: 3,
        seed: 3,
        placeholder_source: "mlflow-artifacts:/fleet/placeholder".into(),
    };
    generate_fleet(&path, &spec, &mut |_| false, &mut |_| {}).unwrap();
    // The same fleet again: its family names are taken, so it fails.
    assert!(generate_fleet(&path, &spec, &mut |_| false, &mut |_| {}).is_err());
    assert!(!dir.path().join("flotilla.db-generating").exists());
    let store = SqliteStore::open(&path).unwrap();
    let page = flotilla_store::FleetSearchStore::search_fleet(
        &store,
        &flotilla_core::fleet::FleetQuery { max_results: Some(1000), ..Default::default() },
    )
    .unwrap();
    assert_eq!(page.items.len(), 50 + 2 * 4);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "INSERT INTO registered_model_names (registered_model_names, rank) VALUES ('integrity-check', 1)",
    )
    .unwrap();
}

#[test]
fn generated_fleet_counts_facets_like_the_triggers() {
    use flotilla_core::fleet::{Facets, FleetQuery};
    use flotilla_store::prelude::*;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flotilla.db");
    let spec = FleetSpec {
        models: 500,
        versions_per_model: 3,
        families: 3,
        regions_per_family: 4,
        seed: 7,
        placeholder_source: "mlflow-artifacts:/fleet/placeholder".into(),
    };
    let (report, _) = generate_fleet(&path, &spec, &mut |_| false, &mut |_| {}).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!((report.models, report.versions), (500 + 3 * 5, 1500));
    let sorted = |mut f: Facets| {
        for v in [&mut f.families, &mut f.aliases, &mut f.stages] {
            v.sort();
        }
        f.tags.iter_mut().for_each(|(_, v)| v.sort());
        f
    };
    let keys = ["owner".to_string(), "tier".to_string(), "flotilla.family".to_string()];
    for family in [None, Some("churn".to_string())] {
        // Without filters the counters answer; with one that matches everything, the rows are counted.
        let counters =
            store.fleet_facets(&FleetQuery { family: family.clone(), ..FleetQuery::default() }, &keys).unwrap();
        let everything = FleetQuery { family: family.clone(), created_after: Some(0), ..FleetQuery::default() };
        let counted = store.fleet_facets(&everything, &keys).unwrap();
        assert_eq!(sorted(counters), sorted(counted), "{family:?}");
    }

    // The metrics come from the second writer's scratch file: every alias has
    // its metrics, every version its two, and the scratch file is gone.
    use flotilla_core::fleet::MetricFilter;
    use flotilla_core::fleet_versions::{VersionMetricFilter, VersionQuery};
    let page = |q: FleetQuery| store.search_fleet(&FleetQuery { max_results: Some(1000), ..q }).unwrap().items;
    let champions = page(FleetQuery { has_alias: vec!["champion".into()], ..FleetQuery::default() });
    let with_metric = page(FleetQuery {
        metrics: vec![MetricFilter::parse("champion:val_rmse < 1000000").unwrap()],
        ..FleetQuery::default()
    });
    assert!(champions.len() > 400, "{}", champions.len());
    assert_eq!(champions.len(), with_metric.len());
    let (mut versions, mut token) = (0, None);
    loop {
        let page = store
            .search_versions(&VersionQuery {
                metrics: vec![VersionMetricFilter::parse("val_mape < 1000000").unwrap()],
                max_results: Some(1000),
                page_token: token,
                ..VersionQuery::default()
            })
            .unwrap();
        versions += page.items.len();
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(versions, 1500 + 3, "every version has its val_mape, the three family defaults' too");
    assert!(!dir.path().join("flotilla.db-generating").exists());
    // Names are searchable by substring.
    let found = page(FleetQuery { name_contains: Some("store=s0000123".into()), ..FleetQuery::default() });
    assert_eq!(found.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["demand-forecast.store=s0000123"]);
    // The copied name index is exactly the index of the stored names.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO registered_model_names (registered_model_names, rank) VALUES ('integrity-check', 1)",
    )
    .unwrap();

    // Lineage: each store's versions on their own digests and one shared calendar.
    use flotilla_store::Readable;
    use flotilla_store::lineage::{DownstreamQuery, StaleQuery};
    let shared = store
        .downstream(&DownstreamQuery {
            name: "holidays-g00".into(),
            digest: "2025-a".into(),
            ..DownstreamQuery::default()
        })
        .unwrap();
    assert_eq!(shared.total_versions, 1000, "two of every store's three versions");
    assert_eq!(shared.families.iter().map(|f| f.versions).sum::<i64>(), 1000);
    assert!(shared.dataset.superseded);
    let newest = store.get_dataset("holidays-g00", "2025-b", &Readable::everything()).unwrap();
    assert_eq!((newest.version_count, newest.superseded), (500, false));
    let v = flotilla_core::VersionNumber::new(2).unwrap();
    let up = store.upstream("demand-forecast.store=s0000123", v, &Readable::everything()).unwrap();
    let names: Vec<_> = up.datasets.iter().map(|d| (d.name.as_str(), d.superseded)).collect();
    assert_eq!(names, [("holidays-g00", true), ("sales-s0000123", true)]);
    let own = store.downstream(&DownstreamQuery {
        name: "sales-s0000123".into(),
        digest: up.datasets[1].digest.clone(),
        ..DownstreamQuery::default()
    });
    assert_eq!(own.unwrap().total_versions, 1);
    // Champions on an older version are trained on superseded data.
    let stale = store.stale_versions(&StaleQuery { alias: Some("champion".into()), ..StaleQuery::default() }).unwrap();
    assert!(!stale.items.is_empty());
    // The counters are what the triggers would have kept.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let off: i64 = conn
        .query_row(
            "SELECT count(*) FROM dataset_entities de WHERE version_count != \
             (SELECT count(*) FROM dataset_versions dv WHERE dv.ds_id = de.ds_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(off, 0);
}

#[test]
fn synthetic_health_is_rolled_up_like_real_health() {
    use flotilla_store::health::{Check, HealthScope, HealthStore, Status};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flotilla.db");
    let spec = FleetSpec {
        models: 600,
        versions_per_model: 1,
        families: 3,
        regions_per_family: 5,
        seed: 9,
        placeholder_source: "mlflow-artifacts:/fleet/placeholder".into(),
    };
    generate_fleet(&path, &spec, &mut |_| false, &mut |_| {}).unwrap();
    let written = flotilla_fleetgen::health::generate_health(&path, 9, &mut |_| {}).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let everything = flotilla_store::Visible::everything();
    let n = |scope: &HealthScope, check: Check, status: Status| {
        let counts = store.health_counts(scope, &everything).unwrap();
        counts.counts.iter().find(|c| c.check == check && c.status == status).map_or(0, |c| c.models)
    };
    let fleet: i64 = Status::ALL.iter().map(|s| n(&HealthScope::Fleet, Check::Traffic, *s)).sum();
    assert_eq!(fleet as u64, written, "every model has one traffic status");
    let idle = n(&HealthScope::Fleet, Check::Traffic, Status::Warn);
    assert!(idle > 0 && (idle as u64) < written / 5, "about one in ten idle: {idle}");
    assert!(n(&HealthScope::Fleet, Check::ErrorRate, Status::Fail) > 0, "some regions error");
    assert!(n(&HealthScope::Fleet, Check::DataDrift, Status::Fail) > 0, "some families drift");
    // The families' counters add up to the fleet's members.
    let families: Vec<String> = flotilla_store::FamilyStore::list_families(&store, &Default::default(), &everything)
        .unwrap()
        .items
        .into_iter()
        .map(|f| f.name)
        .collect();
    let per_family: i64 = families
        .iter()
        .map(|f| Status::ALL.iter().map(|s| n(&HealthScope::Family(f.clone()), Check::DataDrift, *s)).sum::<i64>())
        .sum();
    assert!(per_family > 0 && per_family <= fleet);
}

/// The report counters (migration 20), whose triggers are off through the
/// load, are recounted after it: the champion rows are what the schema's
/// definition (`report_champion_rows`) says, and the counters add them up.
#[test]
fn generated_fleet_has_the_report_counters_of_its_champions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flotilla.db");
    let spec = FleetSpec {
        models: 120,
        versions_per_model: 3,
        families: 3,
        regions_per_family: 4,
        seed: 7,
        placeholder_source: "mlflow-artifacts:/fleet/placeholder".into(),
    };
    generate_fleet(&path, &spec, &mut |_| false, &mut |_| {}).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows = |sql: &str| -> Vec<(i64, i64, i64)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let kept = rows("SELECT rm_id, version, made FROM report_champions ORDER BY rm_id");
    assert_eq!(kept, rows("SELECT rm_id, version, made FROM report_champion_rows ORDER BY rm_id"));
    let champions: i64 = conn
        .query_row("SELECT count(*) FROM registered_model_aliases WHERE alias = 'champion'", [], |r| r.get(0))
        .unwrap();
    assert!(champions > 100, "most stores have a champion: {champions}");
    assert_eq!(kept.len() as i64, champions);
    assert_eq!(
        rows(
            "SELECT family_id, champions, superseded FROM report_family_counts WHERE champions > 0 ORDER BY family_id"
        ),
        rows(
            "SELECT family_id, count(*), sum(superseded) FROM report_champion_rows GROUP BY family_id ORDER BY family_id"
        )
    );
    assert_eq!(
        rows(
            "SELECT ds_id, family_id, champions FROM report_dataset_champions WHERE champions > 0 AND family_id >= 0 ORDER BY 1, 2"
        ),
        rows(
            "SELECT dv.ds_id, c.family_id, count(*) FROM report_champion_rows c
             JOIN dataset_versions dv ON dv.rm_id = c.rm_id AND dv.version = c.version GROUP BY 1, 2 ORDER BY 1, 2"
        )
    );
    let superseded: i64 = conn.query_row("SELECT sum(superseded) FROM report_family_counts", [], |r| r.get(0)).unwrap();
    assert!(superseded > 0, "older champions are trained on superseded sales data");
}
