//! Bounded read models for the UI: version metrics, the sampled version
//! timeline, a metric sampled over a family, aliased metric values and keys,
//! and the depth filter that lists one level of a partition hierarchy.

use flotilla_core::ErrorKind;
use flotilla_core::fleet::{FleetQuery, PartitionValue, parse_path};
use flotilla_store::fleet::{BulkVersion, ChangeContext, ModelAddress, NewFamily};
use std::time::Duration;

use flotilla_store::insights::FacetBound;
use flotilla_store::{NewModelVersion, Store};

use super::kind;

fn version(path: &str, rmse: f64, aliases: &[&str]) -> BulkVersion {
    BulkVersion {
        model: ModelAddress::Partition { family: "demand".into(), partition: parse_path(path).unwrap() },
        source: "mlflow-artifacts:/0/m".into(),
        run_id: None,
        description: None,
        tags: vec![],
        metrics: vec![("val_rmse".into(), rmse), ("mape".into(), rmse / 10.0)],
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        datasets: vec![],
    }
}

pub fn insights_are_bounded_reads(store: &dyn Store) {
    let ctx = ChangeContext::claimed("ana", "test");
    let levels = vec!["region".into(), "store".into()];
    store.create_family(&NewFamily { name: "demand".into(), levels, description: None }).unwrap();
    let versions = vec![
        version("region=west/store=1", 3.0, &[]),
        version("region=west/store=1", 2.0, &["champion"]),
        version("region=west/store=2", 4.0, &["champion"]),
        version("region=east/store=3", 5.0, &["champion"]),
    ];
    store.register_versions(&versions, &ctx).unwrap();

    let metrics = store.version_metrics("demand.store=1", &numbers(&[1, 2, 7])).unwrap();
    assert_eq!(metrics.len(), 2, "version 7 does not exist: left out");
    assert_eq!(metrics[1].version.get(), 2);
    assert_eq!(metrics[1].metrics, [("mape".to_string(), 0.2), ("val_rmse".to_string(), 2.0)]);
    assert_eq!(kind(store.version_metrics("nope", &numbers(&[1]))), ErrorKind::NotFound);
    assert_eq!(kind(store.version_metrics("demand.store=1", &numbers(&[1; 101]))), ErrorKind::InvalidParameter);

    for n in 0..30 {
        let new = NewModelVersion {
            name: "demand.store=2".into(),
            source: format!("mlflow-artifacts:/0/{n}"),
            ..Default::default()
        };
        store.create_model_version(&new).unwrap();
    }
    // Past 64 versions, latest_versions comes from index seeks per stage: same answer.
    for n in 0..40 {
        let new = NewModelVersion {
            name: "demand.store=2".into(),
            source: format!("mlflow-artifacts:/1/{n}"),
            ..Default::default()
        };
        store.create_model_version(&new).unwrap();
    }
    store.transition_stage("demand.store=2", "5", "Production", false).unwrap();
    let latest: Vec<(String, String)> = store
        .get_registered_model("demand.store=2")
        .unwrap()
        .latest_versions
        .into_iter()
        .map(|v| (v.current_stage, v.version.to_string()))
        .collect();
    assert!(latest.contains(&("Production".to_string(), "5".to_string())), "{latest:?}");
    assert!(latest.contains(&("None".to_string(), "71".to_string())), "{latest:?}");
    assert_eq!(latest.len(), 2, "{latest:?}");
    let timeline = store.version_timeline("demand.store=2", 5).unwrap();
    let numbers: Vec<i64> = timeline.iter().map(|p| p.version.get()).collect();
    assert_eq!(numbers.first(), Some(&1));
    assert_eq!(numbers.last(), Some(&71));
    assert!(numbers.len() <= 5 && numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert!(timeline.windows(2).all(|w| w[0].time <= w[1].time));

    let all = store.metric_sample("demand", &[], "champion", "val_rmse", 100).unwrap();
    let mut values = all.values.clone();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [2.0, 4.0, 5.0]);
    assert!(!all.truncated);
    let west =
        store.metric_sample("demand", &[PartitionValue::new("region", "west")], "champion", "val_rmse", 100).unwrap();
    assert_eq!(west.values.len(), 2);
    let capped = store.metric_sample("demand", &[], "champion", "val_rmse", 2).unwrap();
    assert!(capped.truncated && capped.members_read == 2);
    assert_eq!(
        kind(store.metric_sample("demand", &[PartitionValue::new("colour", "red")], "champion", "x", 9)),
        ErrorKind::InvalidParameter
    );

    let names = ["demand.store=2".to_string(), "nope".to_string(), "demand.store=1".to_string()];
    assert_eq!(store.alias_metric_values(&names, "champion", "val_rmse").unwrap(), [Some(4.0), None, Some(2.0)]);
    assert_eq!(store.alias_metric_keys("champion").unwrap(), ["mape", "val_rmse"]);
    assert!(store.alias_metric_keys("nobody").unwrap().is_empty());

    let level = |depth: i64, partition: &str| -> Vec<String> {
        let q = FleetQuery {
            family: Some("demand".into()),
            depth: Some(depth),
            partition: if partition.is_empty() { vec![] } else { parse_path(partition).unwrap() },
            ..FleetQuery::default()
        };
        store.search_fleet(&q).unwrap().items.into_iter().map(|m| m.name).collect()
    };
    assert_eq!(level(0, ""), ["demand"]);
    assert_eq!(level(1, ""), ["demand.region=east", "demand.region=west"]);
    assert_eq!(level(2, "region=west"), ["demand.store=1", "demand.store=2"]);
    let champions =
        FleetQuery { family: Some("demand".into()), has_alias: vec!["champion".into()], ..FleetQuery::default() };
    let (all, capped) =
        store.bounded_facets(&champions, &[], FacetBound { matches: 100, time: Duration::from_secs(60) }).unwrap();
    assert!(!capped);
    assert_eq!(all, store.fleet_facets(&champions, &[]).unwrap());
    assert_eq!(all.total, 3);
    let (some, capped) =
        store.bounded_facets(&champions, &[], FacetBound { matches: 2, time: Duration::from_secs(60) }).unwrap();
    assert!(capped && some.total == 2 && some.aliases == [("champion".to_string(), 2)]);
    let no_family = FleetQuery { depth: Some(1), ..FleetQuery::default() };
    assert_eq!(kind(store.search_fleet(&no_family)), ErrorKind::InvalidParameter);
}

fn numbers(numbers: &[i64]) -> Vec<flotilla_core::VersionNumber> {
    numbers.iter().map(|&n| flotilla_core::VersionNumber::new(n).unwrap()).collect()
}
