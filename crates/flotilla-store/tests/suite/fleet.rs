//! Fleets: families and partition fallback, fleet search and facets, bulk
//! atomicity, promotion with dry run and rollback, the audit log.

use flotilla_core::ErrorKind;
use flotilla_core::fleet::{FleetOrder, FleetQuery, FleetSort, MetricFilter, MetricRef, PartitionValue, parse_path};
use flotilla_core::model::{Metric, Tag};
use flotilla_store::fleet::{
    AliasChange, AuditQuery, BulkVersion, ChangeContext, ModelAddress, NewFamily, PromotionRule,
};
use flotilla_store::insights::FacetBound;
use flotilla_store::{NewModelVersion, NewRun, Store};

use super::kind;

pub(super) fn ctx() -> ChangeContext {
    ChangeContext::claimed("ana", "test")
}

fn family(store: &dyn Store, name: &str) {
    let new = NewFamily { name: name.into(), levels: vec!["region".into(), "store".into()], description: None };
    store.create_family(&new).unwrap();
}

fn into_partition(family: &str, path: &str, metrics: &[(&str, f64)], aliases: &[&str]) -> BulkVersion {
    BulkVersion {
        model: ModelAddress::Partition { family: family.into(), partition: parse_path(path).unwrap() },
        source: format!("mlflow-artifacts:/0/{family}/{path}"),
        run_id: None,
        description: None,
        tags: vec![],
        metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        datasets: vec![],
    }
}

fn into_model(model: &str, metrics: &[(&str, f64)], aliases: &[&str]) -> BulkVersion {
    BulkVersion {
        model: ModelAddress::Name { model: model.into() },
        ..into_partition("x", "region=r", metrics, aliases)
    }
}

pub(super) fn names(store: &dyn Store, q: &FleetQuery) -> Vec<String> {
    let mut all = Vec::new();
    let mut q = q.clone();
    loop {
        let page = store.search_fleet(&q).unwrap();
        all.extend(page.items.into_iter().map(|m| m.name));
        match page.next_page_token {
            Some(t) => q.page_token = Some(t),
            None => return all,
        }
    }
}

pub fn partitions_fall_back_to_parents_and_default(store: &dyn Store) {
    family(store, "demand");
    assert_eq!(
        kind(store.create_family(&NewFamily { name: "demand".into(), levels: vec!["x".into()], description: None })),
        ErrorKind::AlreadyExists
    );
    let registered = store
        .register_versions(
            &[
                into_partition("demand", "", &[], &[]),
                into_partition("demand", "region=west/store=1", &[], &[]),
                into_partition("demand", "region=east/store=2", &[], &[]),
            ],
            &ctx(),
        )
        .unwrap();
    let models: Vec<&str> = registered.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(models, ["demand", "demand.store=1", "demand.store=2"]);
    // Members are plain registered models too, tagged with their family and partition.
    let member = store.get_registered_model("demand.store=1").unwrap();
    assert!(member.tags.iter().any(|t| t.key == "flotilla.partition" && t.value == "region=west/store=1"));
    assert_eq!(store.get_family("demand").unwrap().models, 5, "default, 2 regions, 2 stores");

    let at = |path: &str| store.resolve_partition("demand", &parse_path(path).unwrap(), "champion");
    let t = at("store=1").unwrap();
    assert_eq!((t.model.as_str(), t.version.get(), t.fallback), ("demand.store=1", 1, false));
    assert_eq!(t.partition, parse_path("region=west/store=1").unwrap());
    // A region without versions falls back to the default.
    let t = at("region=east").unwrap();
    assert_eq!((t.model.as_str(), t.fallback), ("demand", true));
    assert!(t.partition.is_empty());
    // A store whose versions are gone falls back to its region once the region has one, else the default.
    store.delete_model_version("demand.store=2", "1").unwrap();
    assert_eq!(at("region=east/store=2").unwrap().model, "demand");
    store.register_versions(&[into_partition("demand", "region=east", &[], &[])], &ctx()).unwrap();
    let t = at("store=2").unwrap();
    assert_eq!(
        (t.model.as_str(), t.partition.clone(), t.fallback),
        ("demand.region=east", parse_path("region=east").unwrap(), true)
    );
    // The alias wins over the newest version.
    store.register_versions(&[into_partition("demand", "store=1", &[], &[])], &ctx()).unwrap();
    assert_eq!(at("store=1").unwrap().version.get(), 2);
    store.set_alias("demand.store=1", "champion", "1").unwrap();
    assert_eq!(at("store=1").unwrap().version.get(), 1);
    // A partition with no model of its own yet is served by its nearest ancestor
    // that has one: a new store by its region, a new region (or a leaf given
    // alone) by the family default.
    let t = at("region=east/store=7").unwrap();
    assert_eq!(
        (t.model.as_str(), t.partition.clone(), t.fallback),
        ("demand.region=east", parse_path("region=east").unwrap(), true)
    );
    let t = at("store=7/region=east").unwrap();
    assert_eq!(t.model, "demand.region=east", "levels in any order");
    for path in ["region=north/store=1000", "region=north", "store=99"] {
        let t = at(path).unwrap();
        assert_eq!((t.model.as_str(), t.partition.is_empty(), t.fallback), ("demand", true, true), "{path}");
    }
    // A path that no partition of the family could match is not found; one that
    // contradicts an existing member, or repeats a level, is a client mistake.
    assert_eq!(kind(at("shelf=1")), ErrorKind::NotFound);
    assert_eq!(kind(at("region=west/shelf=1")), ErrorKind::NotFound);
    assert_eq!(kind(at("region=east/store=1")), ErrorKind::InvalidParameter);
    assert_eq!(kind(at("region=east/region=west")), ErrorKind::InvalidParameter);
    assert_eq!(kind(store.resolve_partition("nope", &[], "champion")), ErrorKind::NotFound);
    // A new store needs its full path; an existing one may be named by its leaf.
    let err = store.register_versions(&[into_partition("demand", "store=3", &[], &[])], &ctx()).unwrap_err();
    assert!(err.to_string().contains("full path"), "{err}");
    // The registry API cannot break the family's shape.
    assert_eq!(kind(store.delete_registered_model("demand")), ErrorKind::InvalidState);
    assert_eq!(kind(store.delete_registered_model("demand.region=west")), ErrorKind::InvalidState);
    assert_eq!(kind(store.rename_registered_model("demand.store=1", "other")), ErrorKind::InvalidState);
    store.delete_registered_model("demand.store=1").unwrap();
}

pub(super) fn fleet_of_six(store: &dyn Store) {
    family(store, "sales");
    let mut items = Vec::new();
    for (i, region) in [(1, "north"), (2, "north"), (3, "north"), (4, "south"), (5, "south"), (6, "south")] {
        let path = format!("region={region}/store={i:04}");
        items.push(into_partition("sales", &path, &[("rmse", 10.0 - i as f64)], &["champion"]));
        items.push(into_partition("sales", &path, &[("rmse", 8.0 - i as f64)], &[]));
    }
    store.register_versions(&items, &ctx()).unwrap();
    store.create_registered_model("loner", &[Tag::new("owner", "bo")], None).unwrap();
    store.register_versions(&[into_model("loner", &[("rmse", 1.0)], &["champion", "challenger"])], &ctx()).unwrap();
    store.set_registered_model_tag("sales.store=0001", &Tag::new("owner", "bo")).unwrap();
}

pub fn fleet_search_filters_sorts_and_pages(store: &dyn Store) {
    fleet_of_six(store);
    let q = |f: fn(&mut FleetQuery)| {
        let mut q = FleetQuery { max_results: Some(2), ..FleetQuery::default() };
        f(&mut q);
        names(store, &q)
    };
    assert_eq!(q(|_| {}).len(), 10, "default, 2 regions, 6 stores, loner");
    assert_eq!(q(|q| q.family = Some("sales".into())).len(), 9);
    assert_eq!(q(|q| q.name_prefix = Some("sales.store=000".into())).len(), 6);
    assert_eq!(q(|q| q.name_contains = Some("ORE=0004".into())), ["sales.store=0004"]);
    assert_eq!(q(|q| q.name_contains = Some("on".into())), ["loner", "sales.region=north", "sales.region=south"]);
    assert_eq!(
        q(|q| q.partition = parse_path("region=south").unwrap()),
        ["sales.region=south", "sales.store=0004", "sales.store=0005", "sales.store=0006"]
    );
    // Within a family, a partition path is its member and the member's subtree.
    assert_eq!(
        q(|q| {
            q.family = Some("sales".into());
            q.partition = parse_path("region=south").unwrap();
        }),
        ["sales.region=south", "sales.store=0004", "sales.store=0005", "sales.store=0006"]
    );
    assert_eq!(
        q(|q| {
            q.family = Some("sales".into());
            q.partition = parse_path("store=0002").unwrap();
        }),
        ["sales.store=0002"]
    );
    assert!(
        q(|q| {
            q.family = Some("sales".into());
            q.partition = parse_path("region=west").unwrap();
        })
        .is_empty()
    );
    let outside = FleetQuery {
        family: Some("sales".into()),
        partition: parse_path("region=south/store=0001").unwrap(),
        ..FleetQuery::default()
    };
    assert_eq!(kind(store.search_fleet(&outside)), ErrorKind::InvalidParameter, "store 0001 is in the north");
    assert_eq!(q(|q| q.tags = vec![("owner".into(), "bo".into())]), ["loner", "sales.store=0001"]);
    assert_eq!(q(|q| q.has_alias = vec!["challenger".into()]), ["loner"]);
    assert_eq!(
        q(|q| {
            q.family = Some("sales".into());
            q.missing_alias = vec!["champion".into()];
        })
        .len(),
        3
    );
    assert_eq!(
        q(|q| q.metrics = vec![MetricFilter::parse("champion:rmse < 6").unwrap()]),
        ["loner", "sales.store=0005", "sales.store=0006"]
    );
    // Sorted by the champion's metric, descending, across pages.
    let by_metric = FleetSort {
        by: FleetOrder::Metric(MetricRef { alias: "champion".into(), key: "rmse".into() }),
        descending: true,
    };
    let sorted = names(store, &FleetQuery { sort: by_metric.clone(), max_results: Some(3), ..FleetQuery::default() });
    assert_eq!(sorted.first().map(String::as_str), Some("sales.store=0001"));
    assert_eq!(sorted.last().map(String::as_str), Some("loner"));
    assert_eq!(sorted.len(), 7);
    // A bound on the sorted metric, at either end, in either direction: the same
    // models in the same order as filtering the whole sorted list, across pages.
    for descending in [true, false] {
        for bound in ["champion:rmse < 6", "champion:rmse > 6", "champion:rmse >= 9", "champion:rmse <= 2"] {
            let sort = FleetSort { descending, ..by_metric.clone() };
            let all = names(store, &FleetQuery { sort: sort.clone(), ..FleetQuery::default() });
            let metrics = vec![MetricFilter::parse(bound).unwrap()];
            let matching = names(store, &FleetQuery { metrics: metrics.clone(), ..FleetQuery::default() });
            let want: Vec<String> = all.into_iter().filter(|n| matching.contains(n)).collect();
            let got = names(store, &FleetQuery { metrics, sort, max_results: Some(2), ..FleetQuery::default() });
            assert_eq!(got, want, "{bound}, descending {descending}");
        }
    }
    let newest_first =
        names(store, &FleetQuery { sort: FleetSort::parse("-created").unwrap(), ..FleetQuery::default() });
    assert_eq!(newest_first.len(), 10);
    let future = FleetQuery { created_after: Some(i64::MAX / 2), ..FleetQuery::default() };
    assert!(names(store, &future).is_empty());
    // The page's models carry their family, partition in level order, aliases and tags.
    let one = store
        .search_fleet(&FleetQuery { name_prefix: Some("sales.store=0001".into()), ..FleetQuery::default() })
        .unwrap();
    let m = &one.items[0];
    assert_eq!(m.family.as_deref(), Some("sales"));
    assert_eq!(m.partition, parse_path("region=north/store=0001").unwrap());
    assert_eq!(
        (m.latest_version.map(|v| v.get()), m.aliases[0].alias.as_str(), m.aliases[0].version.get()),
        (Some(2), "champion", 1)
    );
    // Bad filters are client errors.
    assert_eq!(
        kind(store.search_fleet(&FleetQuery { family: Some("nope".into()), ..FleetQuery::default() })),
        ErrorKind::NotFound
    );
    let bad_level = FleetQuery {
        family: Some("sales".into()),
        partition: vec![PartitionValue::new("shelf", "1")],
        ..FleetQuery::default()
    };
    assert_eq!(kind(store.search_fleet(&bad_level)), ErrorKind::InvalidParameter);
    assert_eq!(
        kind(store.search_fleet(&FleetQuery { page_token: Some("garbage".into()), ..FleetQuery::default() })),
        ErrorKind::InvalidParameter
    );
}

pub fn fleet_facets_count_what_matches(store: &dyn Store) {
    fleet_of_six(store);
    let all = store.fleet_facets(&FleetQuery::default(), &["owner".into()]).unwrap();
    assert_eq!(all.total, 10);
    assert_eq!(all.families, [("sales".to_string(), 9)]);
    assert_eq!(all.aliases, [("champion".to_string(), 7), ("challenger".to_string(), 1)]);
    assert_eq!(all.stages, [("None".to_string(), 13)]);
    assert_eq!(all.tags, [("owner".to_string(), vec![("bo".to_string(), 2)])]);
    // The kept counters (no filter, or a family alone) agree with counting the
    // matched set, also after deletes, moves, stage changes and tag changes.
    store.delete_registered_model("sales.store=0006").unwrap();
    store.delete_model_version("sales.store=0005", "2").unwrap();
    store.set_alias("sales.store=0004", "champion", "2").unwrap();
    store.delete_alias("sales.store=0003", "champion").unwrap();
    store.set_registered_model_tag("sales.store=0001", &Tag::new("owner", "cy")).unwrap();
    store.set_registered_model_tag("sales.store=0002", &Tag::new("owner", "cy")).unwrap();
    store.transition_stage("sales.store=0002", "1", "Production", true).unwrap();
    let keys = ["owner".to_string()];
    let everything = FleetQuery { created_after: Some(0), ..FleetQuery::default() };
    assert_eq!(
        store.fleet_facets(&FleetQuery::default(), &keys).unwrap(),
        store.fleet_facets(&everything, &keys).unwrap()
    );
    let family = FleetQuery { family: Some("sales".into()), ..FleetQuery::default() };
    let family_filtered = FleetQuery { created_after: Some(0), ..family.clone() };
    let counted = store.fleet_facets(&family, &keys).unwrap();
    assert_eq!(counted, store.fleet_facets(&family_filtered, &keys).unwrap());
    assert_eq!(counted.total, 8);
    assert_eq!(counted.tags, [("owner".to_string(), vec![("cy".to_string(), 2)])]);
    let south = FleetQuery { partition: parse_path("region=south").unwrap(), ..FleetQuery::default() };
    let some = store.fleet_facets(&south, &[]).unwrap();
    assert_eq!(
        (some.total, some.families.clone(), some.aliases.clone()),
        (3, vec![("sales".to_string(), 3)], vec![("champion".to_string(), 2)])
    );
}

/// The UI's facets stop reading matches at a time bound as well as at a
/// number of them, and count only what they read (the time is checked at
/// every match: none is read in no time). A query scoped to a family counts
/// all its matches in that family.
pub fn bounded_facets_stop_at_their_time(store: &dyn Store) {
    family(store, "many");
    let items: Vec<BulkVersion> = (0..200)
        .map(|i| into_partition("many", &format!("region=r/store={i:03}"), &[("rmse", i as f64)], &["champion"]))
        .collect();
    store.register_versions(&items, &ctx()).unwrap();
    let metric = MetricFilter::parse("champion:rmse >= 0").unwrap();
    let q = FleetQuery { family: Some("many".into()), metrics: vec![metric], ..FleetQuery::default() };
    let roomy = FacetBound { matches: 1_000, time: std::time::Duration::from_secs(60) };
    let (all, truncated) = store.bounded_facets(&q, &[], roomy).unwrap();
    assert!(!truncated);
    assert_eq!(all, store.fleet_facets(&q, &[]).unwrap());
    assert_eq!(all.total, 200);
    assert_eq!(all.families, [("many".to_string(), 200)]);
    // A clause on the model's name: the set drives, the name is read.
    let named = FleetQuery { name_contains: Some("store=01".into()), ..q.clone() };
    let (ten, truncated) = store.bounded_facets(&named, &[], roomy).unwrap();
    assert!(!truncated);
    assert_eq!(ten, store.fleet_facets(&named, &[]).unwrap());
    assert_eq!((ten.total, ten.families), (10, vec![("many".to_string(), 10)]));
    let no_time = FacetBound { matches: 1_000, time: std::time::Duration::ZERO };
    let (none, truncated) = store.bounded_facets(&q, &[], no_time).unwrap();
    assert!(truncated);
    assert_eq!((none.total, none.families, none.aliases), (0, vec![], vec![]));
    let few = FacetBound { matches: 10, time: std::time::Duration::from_secs(60) };
    let (ten, truncated) = store.bounded_facets(&q, &[], few).unwrap();
    assert!(truncated && ten.total == 10);
    assert_eq!(ten.families, [("many".to_string(), 10)]);
    assert_eq!(ten.aliases, [("champion".to_string(), 10)]);
}

/// Between matches, the UI's bounded facets stop on work too: a family of
/// 4,000 stores driving the read (the smaller set) of which none passes the
/// metric bound (4,100 stores of another family do) is read to its end within
/// a roomy bound, but a bound of 1 ms, counted as SQLite's work at its
/// calibrated rate (about 25,000 VM steps), stops before the end: the clock
/// is read only at a match. SQLite only: PostgreSQL bounds the read by time.
// Kept beside the suite's other facet cases; run by the SQLite runner only.
#[allow(dead_code)]
pub fn bounded_facets_stop_on_work_between_matches(store: &dyn Store) {
    family(store, "dry");
    family(store, "wet");
    let mut items: Vec<BulkVersion> = (0..4_000)
        .map(|i| into_partition("dry", &format!("region=r/store={i:04}"), &[("rmse", f64::from(i))], &["champion"]))
        .collect();
    items.extend((0..4_100).map(|i| {
        into_partition("wet", &format!("region=r/store={i:04}"), &[("rmse", 1e6 + f64::from(i))], &["champion"])
    }));
    store.register_versions(&items, &ctx()).unwrap();
    let metric = MetricFilter::parse("champion:rmse >= 1000000").unwrap();
    let q = FleetQuery { family: Some("dry".into()), metrics: vec![metric], ..FleetQuery::default() };
    let roomy = FacetBound { matches: 1_000, time: std::time::Duration::from_secs(60) };
    let (all, truncated) = store.bounded_facets(&q, &[], roomy).unwrap();
    assert_eq!((all.total, truncated), (0, false), "read to the end: no match");
    let short = FacetBound { matches: 1_000, time: std::time::Duration::from_millis(1) };
    let (none, truncated) = store.bounded_facets(&q, &[], short).unwrap();
    assert_eq!((none.total, truncated), (0, true), "stopped on work before the end");
}

pub fn bulk_changes_apply_whole_or_not_at_all(store: &dyn Store) {
    family(store, "f");
    store.create_registered_model("plain", &[], None).unwrap();
    let before = store.search_fleet(&FleetQuery::default()).unwrap().items.len();
    // One bad item (an unknown model) refuses the whole batch, naming it.
    let err = store
        .register_versions(
            &[
                into_partition("f", "region=a/store=1", &[], &[]),
                into_model("ghost", &[], &[]),
                into_model("plain", &[("m", f64::NAN)], &[]),
            ],
            &ctx(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("item 1") && text.contains("ghost") && text.contains("item 2"), "{text}");
    assert_eq!(store.search_fleet(&FleetQuery::default()).unwrap().items.len(), before, "no member was created");
    assert_eq!(kind(store.get_model_version("plain", "1")), ErrorKind::NotFound);

    store.register_versions(&[into_model("plain", &[], &[]), into_model("plain", &[], &[])], &ctx()).unwrap();
    let change = |version: Option<i64>| AliasChange { model: "plain".into(), alias: "champion".into(), version };
    let missing = AliasChange { model: "plain".into(), alias: "challenger".into(), version: Some(9) };
    let err = store.set_aliases(&[change(Some(1)), missing], &ctx()).unwrap_err();
    assert!(err.to_string().contains("item 1"), "{err}");
    assert_eq!(kind(store.get_version_by_alias("plain", "champion")), ErrorKind::InvalidParameter, "nothing applied");
    assert_eq!(kind(store.set_aliases(&[change(Some(1)), change(Some(2))], &ctx())), ErrorKind::InvalidParameter);
    assert_eq!(kind(store.set_aliases(&[], &ctx())), ErrorKind::InvalidParameter);
    let report = store.set_aliases(&[change(Some(2))], &ctx()).unwrap();
    assert_eq!(
        (report.moves.len(), report.moves[0].from.map(|v| v.get()), report.moves[0].to.map(|v| v.get())),
        (1, None, Some(2))
    );
    store.set_aliases(&[change(None)], &ctx()).unwrap();
    assert_eq!(kind(store.get_version_by_alias("plain", "champion")), ErrorKind::InvalidParameter);
}

pub fn promotion_dry_run_apply_and_rollback(store: &dyn Store) {
    family(store, "p");
    let items = vec![
        // store 1: champion v1 rmse 10; v2 9.5 (not 2% better than... it is 5% better); v3 9.9.
        into_partition("p", "region=r/store=1", &[("rmse", 10.0)], &["champion"]),
        into_partition("p", "store=1", &[("rmse", 9.5)], &[]),
        into_partition("p", "store=1", &[("rmse", 9.9)], &[]),
        // store 2: champion v1 rmse 10; v2 9.9: not good enough.
        into_partition("p", "region=r/store=2", &[("rmse", 10.0)], &["champion"]),
        into_partition("p", "store=2", &[("rmse", 9.9)], &[]),
        // store 3: no champion; v1 has the metric.
        into_partition("p", "region=r/store=3", &[("rmse", 4.0)], &[]),
    ];
    store.register_versions(&items, &ctx()).unwrap();
    let rule = PromotionRule {
        family: "p".into(),
        alias: "champion".into(),
        metric: "rmse".into(),
        op: flotilla_core::fleet::MetricOp::Le,
        factor: 0.98,
        promote_unaliased: true,
        partition: vec![],
    };
    let plan = store.promote(&rule, true, &ctx()).unwrap();
    assert_eq!(plan.batch_id, None);
    let moves: Vec<(&str, Option<i64>, Option<i64>)> =
        plan.moves.iter().map(|m| (m.model.as_str(), m.from.map(|v| v.get()), m.to.map(|v| v.get()))).collect();
    assert_eq!(moves, [("p.store=1", Some(1), Some(2)), ("p.store=3", None, Some(1))]);
    assert_eq!(plan.moves[0].to_metric, Some(9.5));
    assert_eq!(
        store.get_version_by_alias("p.store=1", "champion").unwrap().version.to_string(),
        "1",
        "a dry run changes nothing"
    );

    let champions = |store: &dyn Store| {
        let facets =
            store.fleet_facets(&FleetQuery { family: Some("p".into()), ..FleetQuery::default() }, &[]).unwrap();
        facets.aliases.iter().find(|(a, _)| a == "champion").map_or(0, |(_, n)| *n)
    };
    assert_eq!(champions(store), 2);
    let applied = store.promote(&rule, false, &ctx()).unwrap();
    let batch = applied.batch_id.expect("a batch");
    assert_eq!(champions(store), 3, "the new alias is counted");
    assert_eq!(applied.moves, plan.moves);
    assert_eq!(store.get_version_by_alias("p.store=1", "champion").unwrap().version.to_string(), "2");
    // The champion's metric moved with the alias: filters see the new value.
    let q = FleetQuery { metrics: vec![MetricFilter::parse("rmse <= 9.5").unwrap()], ..FleetQuery::default() };
    assert_eq!(names(store, &q), ["p.store=1", "p.store=3"]);
    // Promoting again finds nothing more to do.
    assert!(store.promote(&rule, false, &ctx()).unwrap().moves.is_empty());

    let log = store.audit_log(&AuditQuery { batch_id: Some(batch), ..AuditQuery::default() }).unwrap();
    assert_eq!(log.items.len(), 2);
    assert!(log.items.iter().all(|e| e.actor == "ana" && e.kind == "promotion" && e.reason == "test"));

    let undone = store.rollback(batch, &ctx()).unwrap();
    assert_eq!(undone.moves.len(), 2);
    assert_eq!(champions(store), 2, "the removed alias is uncounted");
    let q = FleetQuery { metrics: vec![MetricFilter::parse("rmse <= 9.5").unwrap()], ..FleetQuery::default() };
    assert!(names(store, &q).is_empty(), "the champion's metric moved back");
    assert_eq!(store.get_version_by_alias("p.store=1", "champion").unwrap().version.to_string(), "1");
    assert_eq!(kind(store.get_version_by_alias("p.store=3", "champion")), ErrorKind::InvalidParameter);
    assert_eq!(kind(store.rollback(batch, &ctx())), ErrorKind::InvalidState, "a batch rolls back once");
    assert_eq!(kind(store.rollback(9999, &ctx())), ErrorKind::NotFound);

    // A rollback refuses, naming it, when an alias moved since.
    let again = store.promote(&rule, false, &ctx()).unwrap().batch_id.unwrap();
    store.set_alias("p.store=1", "champion", "3").unwrap();
    let err = store.rollback(again, &ctx()).unwrap_err();
    assert!(err.to_string().contains("p.store=1@champion"), "{err}");
    assert_eq!(
        store.get_version_by_alias("p.store=3", "champion").unwrap().version.to_string(),
        "1",
        "nothing was rolled back"
    );
    // The MLflow API's own alias moves are in the log too.
    let store1 = store.audit_log(&AuditQuery { model: Some("p.store=1".into()), ..AuditQuery::default() }).unwrap();
    assert_eq!(store1.items[0].kind, "api");
    assert_eq!((store1.items[0].from.map(|v| v.get()), store1.items[0].to.map(|v| v.get())), (Some(2), Some(3)));

    let bad = PromotionRule { factor: -1.0, ..rule.clone() };
    assert_eq!(kind(store.promote(&bad, true, &ctx())), ErrorKind::InvalidParameter);
    let unknown = PromotionRule { family: "nope".into(), ..rule };
    assert_eq!(kind(store.promote(&unknown, true, &ctx())), ErrorKind::NotFound);
}

/// A rule limited to a partition examines and moves only the members under
/// it; a level the family does not have is a client error.
pub fn promotion_within_a_partition(store: &dyn Store) {
    family(store, "q");
    let mut items = Vec::new();
    for (region, store_id) in [("west", 1), ("west", 2), ("east", 3)] {
        let path = format!("region={region}/store={store_id}");
        items.push(into_partition("q", &path, &[("rmse", 10.0)], &["champion"]));
        items.push(into_partition("q", &path, &[("rmse", 5.0)], &[]));
    }
    store.register_versions(&items, &ctx()).unwrap();
    let rule = |partition: &str| PromotionRule {
        family: "q".into(),
        alias: "champion".into(),
        metric: "rmse".into(),
        op: flotilla_core::fleet::MetricOp::Lt,
        factor: 1.0,
        promote_unaliased: false,
        partition: parse_path(partition).unwrap(),
    };
    let west = store.promote(&rule("region=west"), false, &ctx()).unwrap();
    let moved: Vec<&str> = west.moves.iter().map(|m| m.model.as_str()).collect();
    assert_eq!((west.examined, moved), (3, vec!["q.store=1", "q.store=2"]), "the region and its two stores");
    assert_eq!(store.get_version_by_alias("q.store=3", "champion").unwrap().version.to_string(), "1");
    let one = store.promote(&rule("region=east/store=3"), true, &ctx()).unwrap();
    assert_eq!((one.examined, one.moves.len()), (1, 1));
    let none = store.promote(&rule("region=north"), true, &ctx()).unwrap();
    assert_eq!((none.examined, none.moves.len()), (0, 0));
    assert_eq!(kind(store.promote(&rule("shelf=1"), true, &ctx())), ErrorKind::InvalidParameter);
}

pub fn version_metrics_follow_their_run(store: &dyn Store) {
    let run = store
        .create_run(&NewRun {
            experiment_id: "0".into(),
            user_id: "ana".into(),
            run_name: Some("r".into()),
            ..NewRun::default()
        })
        .unwrap();
    let run_id = run.info.run_id.clone();
    let metric = |value: f64, step: i64| Metric {
        key: "auc".into(),
        value,
        timestamp: 1,
        step,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
        run_id: None,
    };
    store.log_batch(&run_id, &[metric(0.7, 0)], &[], &[]).unwrap();
    store.create_registered_model("m", &[], None).unwrap();
    let v = store
        .create_model_version(&NewModelVersion {
            name: "m".into(),
            source: "mlflow-artifacts:/0/m".into(),
            run_id: Some(run_id.clone()),
            ..NewModelVersion::default()
        })
        .unwrap();
    store.set_alias("m", "champion", &v.version.to_string()).unwrap();
    let auc_above = |x: f64| FleetQuery {
        metrics: vec![MetricFilter {
            alias: "champion".into(),
            key: "auc".into(),
            op: flotilla_core::fleet::MetricOp::Gt,
            value: x,
        }],
        ..FleetQuery::default()
    };
    assert_eq!(names(store, &auc_above(0.6)), ["m"]);
    assert!(names(store, &auc_above(0.8)).is_empty());
    store.log_batch(&run_id, &[metric(0.9, 1)], &[], &[]).unwrap();
    assert_eq!(names(store, &auc_above(0.8)), ["m"], "the run's newer metric reached the aliased version");
}
