//! Search plans agree: every filter with every sort, in pages of two, gives
//! the models (and versions) of sorting everything and keeping the matches,
//! whichever plan the store picks (walk the sort order, or drive from a set).
//! Two metrics that rise together make matches lie at one end of a sort by
//! the other: the case a walk gives up on.

use flotilla_core::fleet::{FleetQuery, FleetSort, MetricFilter, parse_path};
use flotilla_core::fleet_versions::{VersionMetricFilter, VersionQuery, VersionSort};
use flotilla_core::model::Tag;
use flotilla_store::Store;
use flotilla_store::fleet::{BulkVersion, ModelAddress, NewFamily};

use super::fleet::{ctx, names};
use super::fleet_versions::versions;

fn correlated_fleet(store: &dyn Store) {
    let family = NewFamily { name: "demand".into(), levels: vec!["region".into(), "store".into()], description: None };
    store.create_family(&family).unwrap();
    let mut items = Vec::new();
    for i in 0..24_i32 {
        let path = format!("region=r{}/store=s{i:02}", i % 3);
        // Store names do not follow the metric: `rmse` is a shuffle of 1..=24.
        let rmse = f64::from((i * 7) % 24 + 1);
        for (version_rmse, aliases) in [(rmse + 0.5, vec![]), (rmse, vec!["champion".to_string()])] {
            let mut aliases = aliases;
            if i % 5 == 0 && !aliases.is_empty() {
                aliases.push("challenger".into());
            }
            items.push(BulkVersion {
                model: ModelAddress::Partition { family: "demand".into(), partition: parse_path(&path).unwrap() },
                source: format!("mlflow-artifacts:/0/{path}"),
                run_id: None,
                description: None,
                tags: vec![],
                metrics: vec![("rmse".into(), version_rmse), ("mape".into(), version_rmse / 20.0)],
                aliases,
                datasets: vec![],
            });
        }
    }
    store.register_versions(&items, &ctx()).unwrap();
    for i in (0..24).step_by(4) {
        store.set_registered_model_tag(&format!("demand.store=s{i:02}"), &Tag::new("owner", "ops")).unwrap();
    }
}

pub fn every_filter_with_every_sort(store: &dyn Store) {
    correlated_fleet(store);
    let filters: [fn(&mut FleetQuery); 7] = [
        |_| {},
        |q| q.metrics = vec![MetricFilter::parse("champion:mape < 0.3").unwrap()],
        |q| q.metrics = vec![MetricFilter::parse("champion:mape > 0.9").unwrap()],
        |q| q.metrics = vec![MetricFilter::parse("champion:rmse <= 4").unwrap()],
        |q| q.tags = vec![("owner".into(), "ops".into())],
        |q| q.has_alias = vec!["challenger".into()],
        |q| {
            q.partition = parse_path("region=r1").unwrap();
            q.metrics = vec![MetricFilter::parse("champion:mape < 0.6").unwrap()];
        },
    ];
    let sorts = ["name", "-name", "created", "-created", "champion:rmse", "-champion:rmse", "-champion:mape"];
    let mut nonempty = 0;
    for sort in sorts {
        let sort = FleetSort::parse(sort).unwrap();
        let all = names(store, &FleetQuery { sort: sort.clone(), ..FleetQuery::default() });
        for (i, filter) in filters.iter().enumerate() {
            let mut q = FleetQuery::default();
            filter(&mut q);
            let matching = names(store, &q);
            let want: Vec<&String> = all.iter().filter(|n| matching.contains(n)).collect();
            let got = names(store, &FleetQuery { sort: sort.clone(), max_results: Some(2), ..q });
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "models: filter {i}, sort {sort:?}");
            nonempty += usize::from(!want.is_empty());
        }
    }
    assert!(nonempty >= 40, "the cases find models: {nonempty}");

    let filters: [fn(&mut VersionQuery); 5] = [
        |_| {},
        |q| q.metrics = vec![VersionMetricFilter::parse("mape < 0.3").unwrap()],
        |q| q.metrics = vec![VersionMetricFilter::parse("mape > 0.9").unwrap()],
        |q| q.has_alias = vec!["champion".into()],
        |q| q.tags = vec![("owner".into(), "ops".into())],
    ];
    for sort in ["version", "-version", "created", "-created", "metric:rmse", "-metric:rmse", "-metric:mape"] {
        let sort = VersionSort::parse(sort).unwrap();
        let all = versions(store, &VersionQuery { sort: sort.clone(), ..VersionQuery::default() });
        assert_eq!(all.len(), 48, "every version has both metrics");
        for (i, filter) in filters.iter().enumerate() {
            let mut q = VersionQuery::default();
            filter(&mut q);
            let matching = versions(store, &q);
            assert!(!matching.is_empty(), "version filter {i} finds versions");
            let want: Vec<&String> = all.iter().filter(|v| matching.contains(v)).collect();
            let got = versions(store, &VersionQuery { sort: sort.clone(), max_results: Some(2), ..q });
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "versions: filter {i}, sort {sort:?}");
        }
    }
}
