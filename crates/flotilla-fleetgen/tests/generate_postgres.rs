//! The generator on a real PostgreSQL server (the test command's, else a
//! cluster this test starts): the same seed makes the same fleet as on
//! SQLite, the facet counts it adds while its row triggers are off are what
//! the rows count to, and the store keeps working on it (new models get
//! fresh ids, triggers are back on).

use flotilla_core::fleet::{Facets, FleetQuery, MetricFilter};
use flotilla_fleetgen::postgres::generate_fleet_postgres;
use flotilla_fleetgen::{FleetSpec, generate_fleet};
use flotilla_store::prelude::*;
use flotilla_store::{PgStore, SqliteStore, Store};
use flotilla_testkit::postgres::Postgres;

fn spec() -> FleetSpec {
    FleetSpec {
        models: 700,
        versions_per_model: 3,
        families: 3,
        regions_per_family: 4,
        seed: 11,
        placeholder_source: "mlflow-artifacts:/fleet/placeholder".into(),
    }
}

fn sorted(mut f: Facets) -> Facets {
    for v in [&mut f.families, &mut f.aliases, &mut f.stages] {
        v.sort();
    }
    f.tags.iter_mut().for_each(|(_, v)| v.sort());
    f
}

fn all_names(store: &dyn Store, query: FleetQuery) -> Vec<String> {
    let (mut names, mut token) = (Vec::new(), None);
    loop {
        let page = store
            .search_fleet(&FleetQuery { max_results: Some(1000), page_token: token, ..query.clone() })
            .expect("search");
        names.extend(page.items.into_iter().map(|m| m.name));
        token = page.next_page_token;
        if token.is_none() {
            return names;
        }
    }
}

#[test]
fn the_same_seed_makes_the_same_fleet_on_postgresql_as_on_sqlite() {
    let pg = Postgres::for_tests().expect("a PostgreSQL server");
    let url = pg.create_database().expect("a database");
    let postgres = PgStore::connect(&url).expect("connect");
    let (pg_report, _) = generate_fleet_postgres(&postgres, &spec(), &mut |_| false, &mut |_| {}).unwrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flotilla.db");
    let (sqlite_report, _) = generate_fleet(&path, &spec(), &mut |_| false, &mut |_| {}).unwrap();
    let sqlite = SqliteStore::open(&path).unwrap();
    assert_eq!((pg_report.models, pg_report.versions), (sqlite_report.models, sqlite_report.versions));

    let keys = ["owner".to_string(), "tier".to_string(), "flotilla.family".to_string()];
    for family in [None, Some("churn".to_string())] {
        let counters = FleetQuery { family: family.clone(), ..FleetQuery::default() };
        // A filter that matches everything makes the store count rows instead of reading counters.
        let counted = FleetQuery { family: family.clone(), created_after: Some(0), ..FleetQuery::default() };
        let pg_counters = sorted(postgres.fleet_facets(&counters, &keys).unwrap());
        assert_eq!(pg_counters, sorted(postgres.fleet_facets(&counted, &keys).unwrap()), "{family:?}");
        assert_eq!(pg_counters, sorted(sqlite.fleet_facets(&counters, &keys).unwrap()), "{family:?}");
        assert_eq!(pg_counters.total, if family.is_some() { 700 / 3 + 5 } else { 700 + 3 * 5 }, "{family:?}");
    }
    for query in [
        FleetQuery::default(),
        FleetQuery { has_alias: vec!["challenger".into()], ..FleetQuery::default() },
        FleetQuery { metrics: vec![MetricFilter::parse("champion:val_rmse < 2.5").unwrap()], ..FleetQuery::default() },
        FleetQuery { name_contains: Some("store=s00001".into()), ..FleetQuery::default() },
    ] {
        let on_pg = all_names(&postgres, query.clone());
        assert!(!on_pg.is_empty(), "{query:?}");
        assert_eq!(on_pg, all_names(&sqlite, query.clone()), "{query:?}");
    }

    // The lineage is the same: shared calendars and each store's own data.
    use flotilla_store::Readable;
    use flotilla_store::lineage::DownstreamQuery;
    for digest in ["2025-a", "2025-b"] {
        let q = DownstreamQuery { name: "holidays-g00".into(), digest: digest.into(), ..DownstreamQuery::default() };
        let (on_pg, on_sqlite) = (postgres.downstream(&q).unwrap(), sqlite.downstream(&q).unwrap());
        assert_eq!(on_pg.total_versions, if digest == "2025-a" { 1400 } else { 700 });
        assert_eq!(on_pg.total_versions, on_sqlite.total_versions, "{digest}");
        let per_family =
            |d: &flotilla_core::lineage::Downstream| d.families.iter().map(|f| f.versions).collect::<Vec<_>>();
        assert_eq!(per_family(&on_pg), per_family(&on_sqlite), "{digest}");
    }
    let v2 = flotilla_core::VersionNumber::new(2).unwrap();
    let upstream = |s: &dyn Store| -> Vec<(String, String, bool)> {
        let up = s.upstream("churn.store=s0000124", v2, &Readable::everything()).unwrap();
        up.datasets.into_iter().map(|d| (d.name, d.digest, d.superseded)).collect()
    };
    assert_eq!(upstream(&postgres).len(), 2);
    assert_eq!(upstream(&postgres), upstream(&sqlite));

    // The store goes on as usual: a new model takes an id past the generated
    // ones and is counted by the triggers, which are back on.
    postgres.create_registered_model("after-generation", &[], None).unwrap();
    let facets = postgres.fleet_facets(&FleetQuery::default(), &[]).unwrap();
    assert_eq!(facets.total, 700 + 3 * 5 + 1);
}
