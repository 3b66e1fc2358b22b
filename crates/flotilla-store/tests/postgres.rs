//! Runs the whole store behaviour suite against the PostgreSQL backend, on
//! a real PostgreSQL server: the test command's
//! (`FLOTILLA_TEST_POSTGRES`), else a cluster this test starts
//! (`flotilla_testkit::postgres`). Each test gets a fresh database, copied
//! from a migrated template when the server is shared.

#[allow(dead_code)] // the plan cases only `tests/sqlite.rs` runs (they pick SQLite's search plans)
mod suite;

use flotilla_store::PgStore;
use flotilla_testkit::postgres::Postgres;

/// What a test holds while it runs: its server, and the database to drop.
struct Guard {
    server: Postgres,
    db: Option<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(db) = &self.db
            && let Ok(mut admin) = postgres::Client::connect(&self.server.conninfo("postgres"), postgres::NoTls)
            && let Err(e) = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        {
            eprintln!("dropping {db}: {e}");
        }
    }
}

fn fresh() -> (Guard, PgStore) {
    let server = Postgres::for_tests().expect("a PostgreSQL server for the tests");
    match &server {
        Postgres::Own(_) => {
            let store = PgStore::connect(&server.conninfo("postgres")).expect("connect");
            (Guard { server, db: None }, store)
        }
        Postgres::Shared(_) => {
            let template = format!("flotilla_tpl_{:016x}", flotilla_store::postgres::migrations::digest());
            let mut admin = postgres::Client::connect(&server.conninfo("postgres"), postgres::NoTls).expect("admin");
            // One process builds the template; the others wait for it.
            admin.execute("SELECT pg_advisory_lock(7017)", &[]).unwrap();
            let exists = !admin.query("SELECT 1 FROM pg_database WHERE datname = $1", &[&template]).unwrap().is_empty();
            if !exists {
                let building = format!("{template}_building");
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).unwrap();
                admin.batch_execute(&format!("CREATE DATABASE {building}")).unwrap();
                drop(PgStore::connect(&server.conninfo(&building)).expect("migrate the template"));
                admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}")).unwrap();
            }
            admin.execute("SELECT pg_advisory_unlock(7017)", &[]).unwrap();
            let db = format!("flotilla_t{:032x}", rand::random::<u128>());
            admin.batch_execute(&format!("CREATE DATABASE {db} TEMPLATE {template}")).unwrap();
            let store = PgStore::connect(&server.conninfo(&db)).expect("connect");
            (Guard { server, db: Some(db) }, store)
        }
    }
}

suite::behaviour_suite!(fresh);

#[test]
fn migrations_apply_once_and_record_the_schema_version() {
    let (guard, store) = fresh();
    let version = store.schema_version().unwrap();
    assert_eq!(version, flotilla_store::postgres::migrations::latest());
    let url = match &guard.db {
        Some(db) => guard.server.conninfo(db),
        None => guard.server.conninfo("postgres"),
    };
    // Connecting again (a second replica) applies nothing and sees the same version.
    let again = PgStore::connect(&url).unwrap();
    assert_eq!(again.schema_version().unwrap(), version);
}

/// Sessions end with a logout, a new password (a trigger) and their user;
/// purging removes the expired and idle ones (as SQLite's unit tests).
#[test]
fn sessions_end_with_logout_password_change_user_and_purge() {
    use flotilla_store::prelude::*;
    use flotilla_store::session::SessionStore;
    let (_guard, store) = fresh();
    let admin = store.create_user("admin", "h0", true).unwrap();
    let bob = store.create_user("bob", "h1", false).unwrap();
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    store.create_session(&a, bob.id, i64::MAX).unwrap();
    store.create_session(&b, bob.id, i64::MAX).unwrap();
    store.create_session(&c, admin.id, i64::MAX).unwrap();
    assert!(store.create_session(&[4u8; 32], 999, i64::MAX).is_err());
    assert_eq!(store.find_session(&a).unwrap().unwrap().user_id, bob.id);
    let before = store.auth_generations().unwrap().credentials;
    assert!(store.delete_session(&a).unwrap());
    assert!(!store.delete_session(&a).unwrap());
    assert!(store.auth_generations().unwrap().credentials > before, "a logout is seen by every replica");
    store.set_password_hash("admin", "h0").unwrap();
    assert!(store.find_session(&c).unwrap().is_some(), "the same hash is no new password");
    store.set_password_hash("admin", "h2").unwrap();
    assert!(store.find_session(&c).unwrap().is_none(), "a new password ends the sessions");
    store.delete_user("bob").unwrap();
    assert!(store.find_session(&b).unwrap().is_none(), "a deleted user's sessions go with them");

    store.create_session(&[5u8; 32], admin.id, 10).unwrap();
    store.create_session(&[6u8; 32], admin.id, i64::MAX).unwrap();
    store.touch_session(&[6u8; 32], i64::MAX - 1).unwrap();
    assert_eq!(store.purge_sessions(100, 50).unwrap(), 1);
    assert!(store.find_session(&[6u8; 32]).unwrap().is_some());
}

/// Every write under an audit context leaves its row in the same
/// transaction, a failed write none; the reads filter and page.
#[test]
fn writes_under_a_context_leave_one_audit_row_each_and_failures_none() {
    use flotilla_store::audit::{AuditContext, AuditEventQuery, Change};
    use flotilla_store::prelude::*;
    let ctx = |actor: &str, request: &str| AuditContext {
        actor: actor.into(),
        method: "password".into(),
        token_id: None,
        client: Some("10.0.0.7".into()),
        request_id: Some(request.into()),
        operation: "POST /test".into(),
    };
    let (_guard, store) = fresh();
    store.create_experiment("outside", None, &[]).unwrap();
    ctx("alice", "r1").run(|| store.create_experiment("inside", None, &[]).unwrap());
    ctx("alice", "r2").run(|| store.create_experiment("inside", None, &[]).unwrap_err());
    ctx("bob", "r3").run(|| store.record(&Change::new("artifact.write", "artifact", "1/a.txt")).unwrap());
    let all = store.audit_events(&AuditEventQuery::default()).unwrap().items;
    let seen: Vec<(&str, &str, Option<&str>)> =
        all.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.request_id.as_deref())).collect();
    assert_eq!(seen, [("bob", "artifact.write", Some("r3")), ("alice", "experiment.create", Some("r1"))]);
    assert_eq!(all[1].client.as_deref(), Some("10.0.0.7"));
    let q = |f: fn(&mut AuditEventQuery)| {
        let mut q = AuditEventQuery::default();
        f(&mut q);
        store.audit_events(&q).unwrap().items.len()
    };
    assert_eq!(q(|q| q.actor = Some("alice".into())), 1);
    assert_eq!(q(|q| q.action = Some("experiment.*".into())), 1);
    assert_eq!(q(|q| q.action = Some("experiment.".into())), 0);
    assert_eq!(q(|q| q.request_id = Some("r3".into())), 1);
    let page = |token| {
        let page = flotilla_store::PageRequest { max_results: Some(1), page_token: token };
        store.audit_events(&AuditEventQuery { page, ..AuditEventQuery::default() }).unwrap()
    };
    let first = page(None);
    let second = page(first.next_page_token);
    assert_eq!(second.items[0].action, "experiment.create");
    assert!(second.next_page_token.is_none());
}

/// A first side-by-side of tracking calls, SQLite against PostgreSQL on this
/// machine (`cargo nextest run -p flotilla-store --test postgres
/// --run-ignored only -E 'test(tracking_latency)' --no-capture`).
#[test]
#[ignore = "a measurement, not a check"]
fn tracking_latency_sqlite_and_postgresql_side_by_side() {
    use std::time::Instant;

    use flotilla_core::model::{Metric, Tag};
    use flotilla_store::{NewRun, PageRequest, RunQuery};

    fn median_us(samples: &mut [f64]) -> f64 {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    }
    fn measure(store: &dyn flotilla_store::Store) -> [f64; 4] {
        let exp = store.create_experiment("latency", None, &[]).unwrap();
        let (mut create, mut log, mut get, mut search) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..300 {
            let t = Instant::now();
            let run =
                store.create_run(&NewRun { experiment_id: exp.clone(), ..NewRun::default() }).unwrap().info.run_id;
            create.push(t.elapsed().as_secs_f64() * 1e6);
            let metrics: Vec<Metric> = (0..10)
                .map(|k| Metric {
                    key: format!("m{k}"),
                    value: f64::from(i),
                    timestamp: 1,
                    step: 0,
                    model_id: None,
                    dataset_name: None,
                    dataset_digest: None,
                    run_id: None,
                })
                .collect();
            let t = Instant::now();
            store.log_batch(&run, &metrics, &[Tag::new("p", "v")], &[Tag::new("t", "v")]).unwrap();
            log.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            store.get_run(&run).unwrap();
            get.push(t.elapsed().as_secs_f64() * 1e6);
        }
        for _ in 0..100 {
            let q = RunQuery {
                experiment_ids: vec![exp.clone()],
                page: PageRequest { max_results: Some(100), page_token: None },
                ..RunQuery::default()
            };
            let t = Instant::now();
            assert_eq!(store.search_runs(&q).unwrap().items.len(), 100);
            search.push(t.elapsed().as_secs_f64() * 1e6);
        }
        [median_us(&mut create), median_us(&mut log), median_us(&mut get), median_us(&mut search)]
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = flotilla_store::SqliteStore::open(&dir.path().join("s.db")).unwrap();
    let (_guard, pg) = fresh();
    let s = measure(&sqlite);
    let p = measure(&pg);
    println!("median µs       SQLite  PostgreSQL  ratio");
    for (name, i) in [("create_run", 0), ("log_batch(12)", 1), ("get_run", 2), ("search_runs(100)", 3)] {
        println!("{name:<16} {:>7.0} {:>11.0} {:>6.1}", s[i], p[i], p[i] / s[i]);
    }
}

/// The connection string of a test's database.
fn url_of(guard: &Guard) -> String {
    match &guard.db {
        Some(db) => guard.server.conninfo(db),
        None => guard.server.conninfo("postgres"),
    }
}

/// Families on PostgreSQL, before the registry is ported: creation, paging,
/// the model count the facet triggers keep, and the fallback walk to the
/// default (its version written directly).
#[test]
fn families_create_list_and_resolve_the_default() {
    use flotilla_core::ErrorKind;
    use flotilla_core::fleet::parse_path;
    use flotilla_store::fleet::{FamilyStore, NewFamily};
    use flotilla_store::{PageRequest, Visible};

    let (guard, store) = fresh();
    let new =
        |name: &str| NewFamily { name: name.into(), levels: vec!["region".into(), "store".into()], description: None };
    for name in ["demand", "churn", "price"] {
        store.create_family(&new(name)).unwrap();
    }
    assert_eq!(suite::kind(store.create_family(&new("demand"))), ErrorKind::AlreadyExists);
    assert_eq!(suite::kind(store.get_family("nope")), ErrorKind::NotFound);
    let demand = store.get_family("demand").unwrap();
    assert_eq!((demand.levels.len(), demand.models), (2, 1), "the default is its only model");

    let mut names = Vec::new();
    let mut page = PageRequest { max_results: Some(2), page_token: None };
    loop {
        let got = store.list_families(&page, &Visible::everything()).unwrap();
        assert!(got.items.len() <= 2);
        names.extend(got.items.into_iter().map(|f| f.name));
        match got.next_page_token {
            Some(t) => page.page_token = Some(t),
            None => break,
        }
    }
    assert_eq!(names, ["churn", "demand", "price"]);
    let only = Visible { all: false, ids_in: vec!["price".into()], ..Visible::everything() };
    let got = store.list_families(&PageRequest::default(), &only).unwrap();
    assert_eq!(got.items.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["price"]);

    let path = parse_path("region=west/store=1").unwrap();
    assert_eq!(suite::kind(store.resolve_partition("demand", &path, "champion")), ErrorKind::NotFound);
    assert_eq!(
        suite::kind(store.resolve_partition("demand", &parse_path("shelf=3").unwrap(), "champion")),
        ErrorKind::NotFound
    );
    let mut client = postgres::Client::connect(&url_of(&guard), postgres::NoTls).unwrap();
    client
        .batch_execute(
            "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, source, status)
             SELECT rm_id, 1, 0, 0, 's', 'READY' FROM registered_models WHERE name = 'demand'",
        )
        .unwrap();
    let target = store.resolve_partition("demand", &path, "champion").unwrap();
    assert_eq!((target.model.as_str(), target.version.get(), target.fallback), ("demand", 1, true));
    assert!(target.partition.is_empty());
}

/// Fleet search and facets on PostgreSQL over family defaults whose versions,
/// aliases, tags and metrics are written directly (the registry and bulk
/// writes are ported separately): filters, keyset pages both ways, a metric
/// sort, and facet counts from the counters and from the matches.
#[test]
fn fleet_search_and_facets_over_direct_rows() {
    use flotilla_core::fleet::{FleetOrder, FleetQuery, FleetSort, MetricFilter, MetricOp, MetricRef};
    use flotilla_store::Visible;
    use flotilla_store::fleet::{FamilyStore, FleetSearchStore, NewFamily};

    let (guard, store) = fresh();
    for name in ["demand", "churn", "price", "stock"] {
        store
            .create_family(&NewFamily { name: name.into(), levels: vec!["region".into()], description: None })
            .unwrap();
    }
    let mut client = postgres::Client::connect(&url_of(&guard), postgres::NoTls).unwrap();
    client
        .batch_execute(
            "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, source, status)
                 SELECT rm_id, 1, 0, 0, 's', 'READY' FROM registered_models;
             INSERT INTO registered_model_aliases (rm_id, alias, version)
                 SELECT rm_id, 'champion', 1 FROM registered_models WHERE name <> 'stock';
             INSERT INTO registered_model_tags (rm_id, key, value)
                 SELECT rm_id, 'team', CASE WHEN name < 'p' THEN 'a' ELSE 'b' END FROM registered_models;
             INSERT INTO alias_metrics (rm_id, alias, key, value)
                 SELECT rm_id, 'champion', 'rmse', length(name) + ascii(name) / 1000.0
                 FROM registered_models WHERE name <> 'stock';",
        )
        .unwrap();
    let all = |q: FleetQuery| {
        let mut q = FleetQuery { max_results: Some(1), ..q };
        let mut names = Vec::new();
        loop {
            let page = store.search_fleet(&q).unwrap();
            assert!(page.items.len() <= 1);
            names.extend(page.items.into_iter().map(|m| m.name));
            match page.next_page_token {
                Some(t) => q.page_token = Some(t),
                None => return names,
            }
        }
    };
    assert_eq!(all(FleetQuery::default()), ["churn", "demand", "price", "stock"]);
    let desc = FleetSort { by: FleetOrder::Name, descending: true };
    assert_eq!(all(FleetQuery { sort: desc, ..FleetQuery::default() }), ["stock", "price", "demand", "churn"]);
    assert_eq!(all(FleetQuery { name_contains: Some("R%IC".into()), ..FleetQuery::default() }), Vec::<String>::new());
    assert_eq!(all(FleetQuery { name_contains: Some("RIC".into()), ..FleetQuery::default() }), ["price"]);
    assert_eq!(all(FleetQuery { missing_alias: vec!["champion".into()], ..FleetQuery::default() }), ["stock"]);
    assert_eq!(
        all(FleetQuery { tags: vec![("team".into(), "b".into())], ..FleetQuery::default() }),
        ["price", "stock"]
    );
    assert_eq!(all(FleetQuery { family: Some("price".into()), ..FleetQuery::default() }), ["price"]);
    // rmse: churn 5.099, demand 6.1, price 5.112; stock has none.
    let by_rmse = |descending| FleetSort { by: FleetOrder::Metric(MetricRef::parse("rmse").unwrap()), descending };
    assert_eq!(all(FleetQuery { sort: by_rmse(false), ..FleetQuery::default() }), ["churn", "price", "demand"]);
    let under = MetricFilter { alias: "champion".into(), key: "rmse".into(), op: MetricOp::Lt, value: 6.0 };
    assert_eq!(
        all(FleetQuery { sort: by_rmse(true), metrics: vec![under.clone()], ..FleetQuery::default() }),
        ["price", "churn"]
    );
    assert_eq!(all(FleetQuery { metrics: vec![under], ..FleetQuery::default() }), ["churn", "price"]);
    let only = Visible { all: false, families_in: vec!["churn".into(), "stock".into()], ..Visible::everything() };
    assert_eq!(all(FleetQuery { visible: only.clone(), ..FleetQuery::default() }), ["churn", "stock"]);
    let page = store.search_fleet(&FleetQuery { family: Some("demand".into()), ..FleetQuery::default() }).unwrap();
    let demand = &page.items[0];
    assert_eq!((demand.family.as_deref(), demand.latest_version.map(|v| v.get())), (Some("demand"), Some(1)));
    assert_eq!(demand.aliases.len(), 1);

    let facets = store.fleet_facets(&FleetQuery::default(), &["team".into()]).unwrap();
    assert_eq!(facets.total, 4);
    assert_eq!(facets.aliases, [("champion".to_string(), 3)]);
    assert_eq!(facets.stages, [("None".to_string(), 4)]);
    assert_eq!(facets.tags, [("team".to_string(), vec![("a".to_string(), 2), ("b".to_string(), 2)])]);
    assert_eq!(facets.families.len(), 4);
    let hidden = store.fleet_facets(&FleetQuery { visible: only, ..FleetQuery::default() }, &[]).unwrap();
    assert_eq!((hidden.total, hidden.aliases.clone()), (2, vec![("champion".to_string(), 1)]));
    let matched =
        store.fleet_facets(&FleetQuery { name_contains: Some("c".into()), ..FleetQuery::default() }, &[]).unwrap();
    assert_eq!((matched.total, matched.aliases), (3, vec![("champion".to_string(), 2)]), "churn, price, stock");

    insights_over_the_same_rows(&store, &mut client);
    version_search_over_the_same_rows(&store);
}

/// Version search over the rows above (and the insights' version metrics).
fn version_search_over_the_same_rows(store: &PgStore) {
    use flotilla_core::fleet_versions::{VersionOrder, VersionQuery, VersionSort};
    use flotilla_store::fleet::VersionSearchStore;

    let all = |q: VersionQuery| {
        let mut q = VersionQuery { max_results: Some(1), ..q };
        let mut found = Vec::new();
        loop {
            let page = store.search_versions(&q).unwrap();
            found.extend(page.items.into_iter().map(|v| (v.model, v.version.get(), v.aliases, v.metrics.len())));
            match page.next_page_token {
                Some(t) => q.page_token = Some(t),
                None => {
                    return found
                        .into_iter()
                        .map(|(m, v, a, n)| format!("{m}/{v}/{}/{n}", a.join(",")))
                        .collect::<Vec<_>>();
                }
            }
        }
    };
    assert_eq!(
        all(VersionQuery::default()),
        ["churn/1/champion/0", "demand/1/champion/0", "price/1/champion/2", "stock/1//0"]
    );
    let desc = VersionSort { by: VersionOrder::Version, descending: true };
    assert_eq!(
        all(VersionQuery { sort: desc, has_alias: vec!["champion".into()], ..VersionQuery::default() }).len(),
        3
    );
    let by_a = VersionSort { by: VersionOrder::Metric("a".into()), descending: false };
    assert_eq!(all(VersionQuery { sort: by_a, ..VersionQuery::default() }), ["price/1/champion/2"]);
    let created = VersionSort { by: VersionOrder::Created, descending: true };
    let family = VersionQuery { sort: created, family: Some("stock".into()), ..VersionQuery::default() };
    assert_eq!(all(family), ["stock/1//0"]);
}

/// The insight reads over the rows of `fleet_search_and_facets_over_direct_rows`.
fn insights_over_the_same_rows(store: &PgStore, client: &mut postgres::Client) {
    use flotilla_core::VersionNumber;
    use flotilla_core::fleet::FleetQuery;
    use flotilla_store::insights::{FacetBound, InsightStore};

    client
        .batch_execute(
            "INSERT INTO model_version_metrics (rm_id, key, version, value)
             SELECT rm_id, k, 1, 0.5 FROM registered_models, unnest(ARRAY['b', 'a']) k WHERE name = 'price'",
        )
        .unwrap();
    assert_eq!(store.alias_metric_keys("champion").unwrap(), ["rmse"]);
    let names = ["price".to_string(), "nope".to_string(), "stock".to_string()];
    assert_eq!(store.alias_metric_values(&names, "champion", "rmse").unwrap(), [Some(5.112), None, None]);
    let sample = store.metric_sample("demand", &[], "champion", "rmse", 10).unwrap();
    assert_eq!((sample.values, sample.members_read, sample.truncated), (vec![6.1], 1, false));
    let timeline = store.version_timeline("demand", 5).unwrap();
    assert_eq!(timeline.iter().map(|p| p.version.get()).collect::<Vec<_>>(), [1]);
    let one = VersionNumber::new(1).unwrap();
    let metrics = store.version_metrics("price", &[one]).unwrap();
    assert_eq!(metrics[0].metrics, [("a".to_string(), 0.5), ("b".to_string(), 0.5)]);
    assert_eq!(suite::kind(store.version_metrics("nope", &[one])), flotilla_core::ErrorKind::NotFound);
    let bound = FacetBound { matches: 1, time: std::time::Duration::from_secs(5) };
    let q = FleetQuery { name_contains: Some("c".into()), ..FleetQuery::default() };
    let (facets, truncated) = store.bounded_facets(&q, &[], bound).unwrap();
    assert_eq!((facets.total, truncated), (1, true));
}

/// Dataset profiles on PostgreSQL over dataset rows written directly (runs
/// and datasets are written by areas ported separately).
#[test]
fn dataset_profiles_read_back() {
    use flotilla_store::profiles::DatasetProfileStore;

    let (guard, store) = fresh();
    let mut client = postgres::Client::connect(&url_of(&guard), postgres::NoTls).unwrap();
    client
        .batch_execute(
            "INSERT INTO dataset_entities (name, digest, creation_time, profile_bytes, profile_summary)
             VALUES ('sales', 'd1', 0, '\\x0102ff', '{\"rows\":3}'), ('bare', 'd2', 0, NULL, NULL)",
        )
        .unwrap();
    let profile = store.dataset_profile("sales", "d1").unwrap().expect("a profile");
    assert_eq!((profile.bytes, profile.summary.as_str()), (vec![1, 2, 255], "{\"rows\":3}"));
    assert!(store.dataset_profile("bare", "d2").unwrap().is_none());
    assert_eq!(suite::kind(store.dataset_profile("sales", "d2")), flotilla_core::ErrorKind::NotFound);
    assert!(store.dataset_experiments("sales", "d1").unwrap().is_empty());
    assert_eq!(suite::kind(store.dataset_experiments("nope", "d1")), flotilla_core::ErrorKind::NotFound);
}

/// Bulk registrations racing on one family from several connections: the
/// same new region is created by all of them at once (a serialization
/// failure, retried), every batch applies whole, each model's versions are
/// numbered without gaps or repeats, and the kept facet counters agree with
/// counting what matches.
#[test]
fn concurrent_bulk_registrations_into_one_family_all_apply() {
    use flotilla_core::fleet::{FleetQuery, parse_path};
    use flotilla_store::fleet::{BulkStore, BulkVersion, ChangeContext, FamilyStore, ModelAddress, NewFamily};
    use flotilla_store::{FleetSearchStore, RegistryStore};

    let (_guard, store) = fresh();
    let new = NewFamily { name: "race".into(), levels: vec!["region".into(), "store".into()], description: None };
    store.create_family(&new).unwrap();
    let item = |path: String| BulkVersion {
        model: ModelAddress::Partition { family: "race".into(), partition: parse_path(&path).unwrap() },
        source: "mlflow-artifacts:/0/race".into(),
        run_id: None,
        description: None,
        tags: vec![],
        metrics: vec![("rmse".into(), 1.0)],
        aliases: vec!["champion".into()],
        datasets: vec![],
    };
    const WRITERS: usize = 4;
    const ROUNDS: usize = 5;
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let store = &store;
            s.spawn(move || {
                for round in 0..ROUNDS {
                    // Every writer registers into the shared store 0 and one store of its own.
                    let items = vec![
                        item("region=north/store=0".into()),
                        item(format!("region=north/store={}", 1 + w + WRITERS * round)),
                    ];
                    let ctx = ChangeContext::claimed(format!("w{w}"), "race");
                    store.register_versions(&items, &ctx).unwrap();
                }
            });
        }
    });
    for v in 1..=WRITERS * ROUNDS {
        store.get_model_version("race.store=0", &v.to_string()).unwrap();
    }
    assert_eq!(
        store.get_latest_versions("race.store=0", &[]).unwrap()[0].version.get(),
        (WRITERS * ROUNDS) as i64,
        "one version per registration, none lost"
    );
    let q = FleetQuery { family: Some("race".into()), ..FleetQuery::default() };
    let counted = store.fleet_facets(&FleetQuery { created_after: Some(0), ..q.clone() }, &[]).unwrap();
    let kept = store.fleet_facets(&q, &[]).unwrap();
    assert_eq!(kept, counted);
    // The default, north, store 0 and one store per writer per round.
    assert_eq!(kept.total, 3 + (WRITERS * ROUNDS) as i64);
    assert_eq!(kept.aliases, [("champion".to_string(), 1 + (WRITERS * ROUNDS) as i64)]);
}

/// Bulk writes side by side, SQLite against PostgreSQL on this machine: a
/// family of 5,000 stores registered in batches of 1,000 (two versions
/// each, the first aliased), 5,000 aliases moved in one request, a promotion
/// over the family and its rollback (`cargo nextest run -p flotilla-store
/// --test postgres --run-ignored only -E 'test(bulk_latency)' --no-capture`).
#[test]
#[ignore = "a measurement, not a check"]
fn bulk_latency_sqlite_and_postgresql_side_by_side() {
    use std::time::Instant;

    use flotilla_core::fleet::{MetricOp, parse_path};
    use flotilla_store::Store;
    use flotilla_store::fleet::{AliasChange, BulkVersion, ChangeContext, ModelAddress, NewFamily, PromotionRule};

    const STORES: usize = 5_000;
    const BATCH: usize = 1_000;
    fn measure(store: &dyn Store) -> [f64; 4] {
        let ctx = ChangeContext::claimed("bench", "bench");
        let new = NewFamily { name: "b".into(), levels: vec!["region".into(), "store".into()], description: None };
        store.create_family(&new).unwrap();
        let item = |i: usize, rmse: f64, aliases: Vec<String>| BulkVersion {
            model: ModelAddress::Partition {
                family: "b".into(),
                partition: parse_path(&format!("region=r{}/store={i}", i % 10)).unwrap(),
            },
            source: "mlflow-artifacts:/0/b".into(),
            run_id: None,
            description: None,
            tags: vec![],
            metrics: vec![("rmse".into(), rmse)],
            aliases,
            datasets: vec![],
        };
        let t = Instant::now();
        for chunk in (0..STORES).collect::<Vec<_>>().chunks(BATCH / 2) {
            let items: Vec<BulkVersion> =
                chunk.iter().flat_map(|&i| [item(i, 10.0, vec!["champion".into()]), item(i, 9.0, vec![])]).collect();
            store.register_versions(&items, &ctx).unwrap();
        }
        let register = t.elapsed().as_secs_f64();
        let changes: Vec<AliasChange> = (0..STORES)
            .map(|i| AliasChange { model: format!("b.store={i}"), alias: "challenger".into(), version: Some(2) })
            .collect();
        let t = Instant::now();
        store.set_aliases(&changes, &ctx).unwrap();
        let aliases = t.elapsed().as_secs_f64();
        let rule = PromotionRule {
            family: "b".into(),
            alias: "champion".into(),
            metric: "rmse".into(),
            op: MetricOp::Le,
            factor: 0.98,
            promote_unaliased: false,
            partition: vec![],
        };
        let t = Instant::now();
        let report = store.promote(&rule, false, &ctx).unwrap();
        let promote = t.elapsed().as_secs_f64();
        assert_eq!(report.moves.len(), STORES);
        let t = Instant::now();
        store.rollback(report.batch_id.unwrap(), &ctx).unwrap();
        let rollback = t.elapsed().as_secs_f64();
        [register, aliases, promote, rollback]
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = flotilla_store::SqliteStore::open(&dir.path().join("s.db")).unwrap();
    let (_guard, pg) = fresh();
    let s = measure(&sqlite);
    let p = measure(&pg);
    println!("seconds                          SQLite  PostgreSQL  ratio");
    let rows =
        [("register 10,000 versions (x10)", 0), ("set_aliases 5,000", 1), ("promote 5,000", 2), ("rollback 5,000", 3)];
    for (name, i) in rows {
        println!("{name:<32} {:>6.2} {:>11.2} {:>6.1}", s[i], p[i], p[i] / s[i]);
    }
}

/// One process at a time holds the jobs lock; it passes on when its holder's connection ends.
#[test]
fn the_jobs_lock_is_held_by_one_process_at_a_time() {
    use flotilla_store::postgres::Leadership;
    let (guard, _store) = fresh();
    let url = match &guard.db {
        Some(db) => guard.server.conninfo(db),
        None => guard.server.conninfo("postgres"),
    };
    let mut first = Leadership::try_take(&url).unwrap().expect("a free lock is taken");
    assert!(first.holds());
    assert!(Leadership::try_take(&url).unwrap().is_none(), "a second replica waits");
    drop(first);
    let mut second = Leadership::try_take(&url).unwrap().expect("the lock passes on");
    assert!(second.holds());
}
