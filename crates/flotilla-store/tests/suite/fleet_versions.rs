//! Version search across the fleet: every filter, each sort across pages,
//! what a returned version carries, and bad input as client errors.

use flotilla_core::ErrorKind;
use flotilla_core::fleet::{PartitionValue, parse_path};
use flotilla_core::fleet_versions::{VersionMetricFilter, VersionQuery, VersionSort};
use flotilla_core::model::Tag;
use flotilla_store::Store;

use super::fleet::fleet_of_six;
use super::kind;

/// A filter set on a default query.
type Filter = fn(&mut VersionQuery);

/// Every page of a search, as `model/version`.
pub(super) fn versions(store: &dyn Store, q: &VersionQuery) -> Vec<String> {
    let mut all = Vec::new();
    let mut q = q.clone();
    loop {
        let page = store.search_versions(&q).unwrap();
        all.extend(page.items.into_iter().map(|v| format!("{}/{}", v.model, v.version)));
        match page.next_page_token {
            Some(t) => q.page_token = Some(t),
            None => return all,
        }
    }
}

pub fn version_search_filters_sorts_and_pages(store: &dyn Store) {
    // Stores 1..6 with v1 (rmse 10 - i, champion) and v2 (rmse 8 - i); loner v1 (rmse 1, champion and challenger).
    fleet_of_six(store);
    store.set_model_version_tag("sales.store=0002", "2", &Tag::new("validated", "yes")).unwrap();
    let q = |f: fn(&mut VersionQuery)| {
        let mut q = VersionQuery { max_results: Some(2), ..VersionQuery::default() };
        f(&mut q);
        versions(store, &q)
    };
    let all = q(|_| {});
    assert_eq!(all.len(), 13);
    assert_eq!(all[..3], ["loner/1", "sales.store=0001/1", "sales.store=0001/2"], "by model name, then version");
    let table: [(Filter, &[&str]); 7] = [
        (
            |q| q.partition = parse_path("region=south/store=0004").unwrap(),
            &["sales.store=0004/1", "sales.store=0004/2"],
        ),
        (|q| q.tags = vec![("owner".into(), "bo".into())], &["loner/1", "sales.store=0001/1", "sales.store=0001/2"]),
        (|q| q.version_tags = vec![("validated".into(), "yes".into())], &["sales.store=0002/2"]),
        (|q| q.has_alias = vec!["challenger".into()], &["loner/1"]),
        (|q| q.metrics = vec![VersionMetricFilter::parse("rmse < 3").unwrap()], &["loner/1", "sales.store=0006/2"]),
        (
            |q| {
                q.has_alias = vec!["champion".into()];
                q.metrics = vec![VersionMetricFilter::parse("rmse >= 5").unwrap()];
                q.family = Some("sales".into());
            },
            &[
                "sales.store=0001/1",
                "sales.store=0002/1",
                "sales.store=0003/1",
                "sales.store=0004/1",
                "sales.store=0005/1",
            ],
        ),
        (|q| q.created_after = Some(i64::MAX / 2), &[]),
    ];
    for (i, (filter, want)) in table.into_iter().enumerate() {
        assert_eq!(q(filter), want, "filter {i}");
    }
    assert_eq!(q(|q| q.family = Some("sales".into())).len(), 12);
    assert_eq!(q(|q| q.name_prefix = Some("sales.store=000".into())).len(), 12);
    assert_eq!(q(|q| q.partition = parse_path("region=south").unwrap()).len(), 6);
    assert_eq!(q(|q| q.has_alias = vec!["champion".into()]).len(), 7);
    // Sorted by the version's metric, descending, across pages.
    let by_metric = VersionQuery {
        sort: VersionSort::parse("-metric:rmse").unwrap(),
        max_results: Some(4),
        ..VersionQuery::default()
    };
    let sorted = versions(store, &by_metric);
    assert_eq!((sorted.len(), sorted[0].as_str(), sorted[12].as_str()), (13, "sales.store=0001/1", "loner/1"));
    // A bound on the sorted metric, at either end, in either direction: the same
    // versions in the same order as filtering the whole sorted list, across pages.
    for sort in ["-metric:rmse", "metric:rmse"] {
        for bound in ["rmse < 3", "rmse > 3", "rmse >= 9", "rmse <= 2"] {
            let sort = VersionSort::parse(sort).unwrap();
            let all = versions(store, &VersionQuery { sort: sort.clone(), ..VersionQuery::default() });
            let metrics = vec![VersionMetricFilter::parse(bound).unwrap()];
            let matching = versions(store, &VersionQuery { metrics: metrics.clone(), ..VersionQuery::default() });
            let want: Vec<String> = all.into_iter().filter(|v| matching.contains(v)).collect();
            let got = versions(
                store,
                &VersionQuery { metrics, sort: sort.clone(), max_results: Some(2), ..VersionQuery::default() },
            );
            assert_eq!(got, want, "{bound}, {sort:?}");
        }
    }
    let newest = versions(
        store,
        &VersionQuery {
            sort: VersionSort::parse("-created").unwrap(),
            max_results: Some(5),
            ..VersionQuery::default()
        },
    );
    assert_eq!(newest.len(), 13);
    assert_eq!(newest[0], "loner/1", "registered last");
    let by_version_desc = versions(
        store,
        &VersionQuery {
            sort: VersionSort::parse("-version").unwrap(),
            max_results: Some(3),
            ..VersionQuery::default()
        },
    );
    assert_eq!(by_version_desc.iter().rev().cloned().collect::<Vec<_>>(), all);
    // A version carries its model's family and partition, its aliases and metrics.
    let one = store
        .search_versions(&VersionQuery {
            name_prefix: Some("sales.store=0001".into()),
            max_results: Some(1),
            ..VersionQuery::default()
        })
        .unwrap();
    let v = &one.items[0];
    assert_eq!((v.family.as_deref(), v.partition.as_str()), (Some("sales"), "region=north/store=0001"));
    assert_eq!((v.aliases.clone(), v.metrics.clone()), (vec!["champion".to_string()], vec![("rmse".to_string(), 9.0)]));
    assert!(one.next_page_token.is_some());
    // Bad input is a client error naming what is wrong.
    let bad = [
        (VersionQuery { family: Some("nope".into()), ..VersionQuery::default() }, ErrorKind::NotFound),
        (
            VersionQuery {
                family: Some("sales".into()),
                partition: vec![PartitionValue::new("shelf", "1")],
                ..VersionQuery::default()
            },
            ErrorKind::InvalidParameter,
        ),
        (VersionQuery { page_token: Some("garbage".into()), ..VersionQuery::default() }, ErrorKind::InvalidParameter),
        (
            VersionQuery { has_alias: vec!["not an alias".into()], ..VersionQuery::default() },
            ErrorKind::InvalidParameter,
        ),
        (VersionQuery { max_results: Some(0), ..VersionQuery::default() }, ErrorKind::InvalidParameter),
    ];
    for (q, want) in bad {
        assert_eq!(kind(store.search_versions(&q)), want, "{q:?}");
    }
}
