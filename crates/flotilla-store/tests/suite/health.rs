//! Fleet health and alerts: roll-ups kept as statuses change, worst models,
//! history snapshots, rules firing after N windows and resolving, delivery
//! attempts recorded.

use flotilla_core::fleet::parse_path;
use flotilla_core::model::Tag;
use flotilla_store::alerts::{Attempt, DeliveryQuery, NewRule, Outcome, RuleScope};
use flotilla_store::fleet::{BulkVersion, ModelAddress, NewFamily};
use flotilla_store::health::{Check, CheckResult, HealthScope, HealthUpdate, Status, WorstQuery};
use flotilla_store::{Store, Visible};

use super::fleet::ctx;
use super::kind;

/// A bulk registration of the member at `path` of `family`, with nothing else.
pub(super) fn member(family: &str, path: &str) -> BulkVersion {
    BulkVersion {
        model: ModelAddress::Partition { family: family.into(), partition: parse_path(path).unwrap() },
        source: format!("mlflow-artifacts:/0/{family}/{path}"),
        run_id: None,
        description: None,
        tags: vec![],
        metrics: vec![],
        aliases: vec![],
        datasets: vec![],
    }
}

fn update(model: &str, check: Check, status: Status) -> HealthUpdate {
    HealthUpdate { model: model.into(), checks: vec![CheckResult { check, status, value: Some(1.0) }] }
}

fn count(store: &dyn Store, scope: &HealthScope, check: Check, status: Status) -> i64 {
    let counts = store.health_counts(scope, &Visible::everything()).unwrap();
    counts.counts.iter().find(|c| c.check == check && c.status == status).map_or(0, |c| c.models)
}

pub fn health_rolls_up_and_alerts_fire(store: &dyn Store) {
    let new = NewFamily { name: "demand".into(), levels: vec!["region".into(), "store".into()], description: None };
    store.create_family(&new).unwrap();
    let registered = store
        .register_versions(
            &[
                member("demand", "region=west/store=1"),
                member("demand", "region=west/store=2"),
                member("demand", "region=east/store=3"),
            ],
            &ctx(),
        )
        .unwrap();
    let names: Vec<String> = registered.iter().map(|r| r.model.clone()).collect();
    store.set_registered_model_tag(&names[0], &Tag::new("team", "a")).unwrap();
    let fam = HealthScope::Family("demand".into());
    let west = HealthScope::Partition { family: "demand".into(), key: "region".into(), value: "west".into() };
    let team = HealthScope::Tag { key: "team".into(), value: "a".into() };

    let rule = store
        .create_rule(
            &NewRule {
                name: "drift".into(),
                scope: RuleScope::Family("demand".into()),
                check: Check::DataDrift,
                status: Status::Warn,
                windows: 2,
                webhook_url: "http://127.0.0.1:9/hook".into(),
                secret: "s".into(),
                enabled: true,
            },
            "ana",
        )
        .unwrap();

    let ups: Vec<_> = names.iter().map(|n| update(n, Check::DataDrift, Status::Ok)).collect();
    assert_eq!(store.record_health(&ups, 1000).unwrap(), 0);
    assert_eq!(count(store, &HealthScope::Fleet, Check::DataDrift, Status::Ok), 3);
    assert_eq!(count(store, &fam, Check::DataDrift, Status::Ok), 3);
    assert_eq!(count(store, &west, Check::DataDrift, Status::Ok), 2);
    assert_eq!(count(store, &team, Check::DataDrift, Status::Ok), 1);

    // One window of drift: counts move, the rule waits for its second window.
    assert_eq!(store.record_health(&[update(&names[0], Check::DataDrift, Status::Fail)], 2000).unwrap(), 0);
    assert_eq!(count(store, &fam, Check::DataDrift, Status::Ok), 2);
    assert_eq!(count(store, &west, Check::DataDrift, Status::Fail), 1);
    assert_eq!(count(store, &team, Check::DataDrift, Status::Fail), 1);
    assert_eq!(store.record_health(&[update(&names[0], Check::DataDrift, Status::Fail)], 3000).unwrap(), 1);
    // Still failing: no second firing; the same window again: deduplicated.
    assert_eq!(store.record_health(&[update(&names[0], Check::DataDrift, Status::Fail)], 4000).unwrap(), 0);
    let due = store.due_events(i64::MAX, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].model.as_str(), due[0].kind.as_str(), due[0].rule_id), (names[0].as_str(), "firing", rule.id));
    assert_eq!(store.record_health(&[update(&names[0], Check::DataDrift, Status::Ok)], 5000).unwrap(), 1);

    let worst = store.worst_models(&WorstQuery { scope: Some(fam.clone()), ..Default::default() }).unwrap();
    assert!(worst.items.is_empty(), "every model is ok again");
    store
        .record_health(
            &[update(&names[2], Check::ErrorRate, Status::Fail), update(&names[1], Check::Traffic, Status::Warn)],
            6000,
        )
        .unwrap();
    let worst = store.worst_models(&WorstQuery { scope: Some(fam.clone()), ..Default::default() }).unwrap();
    let order: Vec<_> = worst.items.iter().map(|w| w.name.clone()).collect();
    assert_eq!(order, vec![names[2].clone(), names[1].clone()]);
    let hidden = Visible { all: false, ids_in: vec![names[1].clone()], ..Visible::everything() };
    let worst = store.worst_models(&WorstQuery { scope: None, visible: hidden, ..Default::default() }).unwrap();
    assert_eq!(worst.items.len(), 1);
    let paged = store
        .worst_models(&WorstQuery {
            scope: None,
            page: flotilla_store::PageRequest { max_results: Some(1), page_token: None },
            ..Default::default()
        })
        .unwrap();
    let next = store
        .worst_models(&WorstQuery {
            scope: None,
            page: flotilla_store::PageRequest { max_results: Some(1), page_token: paged.next_page_token.clone() },
            ..Default::default()
        })
        .unwrap();
    assert_eq!((paged.items[0].name.as_str(), next.items[0].name.as_str()), (names[2].as_str(), names[1].as_str()));

    // Whole families hidden: the fleet's counts leave them out.
    let none = Visible { all: true, families_out: vec!["demand".into()], ..Visible::everything() };
    assert!(store.health_counts(&HealthScope::Fleet, &none).unwrap().counts.is_empty());

    // History.
    assert!(store.snapshot_health(3_600_000).unwrap() > 0);
    let history = store.health_history(&fam, 0, 7_200_000, 1000).unwrap();
    assert!(history.iter().any(|p| p.check == Check::ErrorRate && p.status == Status::Fail && p.models == 1));

    // Deliveries.
    let due = store.due_events(i64::MAX, 10).unwrap();
    assert_eq!(due.len(), 2);
    let attempt = |outcome| Attempt {
        event_id: due[0].event_id,
        time: 10,
        status_code: Some(500),
        error: None,
        outcome,
        duration_ms: 1,
    };
    store.record_attempt(&attempt(Outcome::Retrying { next_at: i64::MAX })).unwrap();
    assert_eq!(store.due_events(i64::MAX - 1, 10).unwrap().len(), 1);
    store.record_attempt(&attempt(Outcome::Delivered)).unwrap();
    let listed = store.deliveries(&DeliveryQuery::default()).unwrap();
    assert_eq!(listed.items.iter().map(|d| d.attempt).collect::<Vec<_>>(), vec![2, 1]);

    // Deleting a model takes its health out of every roll-up.
    store.delete_registered_model(&names[2]).unwrap();
    assert_eq!(count(store, &HealthScope::Fleet, Check::ErrorRate, Status::Fail), 0);
    assert_eq!(count(store, &fam, Check::ErrorRate, Status::Fail), 0);
    let east = HealthScope::Partition { family: "demand".into(), key: "region".into(), value: "east".into() };
    assert_eq!(count(store, &east, Check::ErrorRate, Status::Fail), 0);
    assert_eq!(
        kind(store.health_counts(&HealthScope::Family("nope".into()), &Visible::everything())),
        flotilla_core::ErrorKind::NotFound
    );
    store.delete_rule(rule.id).unwrap();
    assert_eq!(kind(store.get_rule(rule.id)), flotilla_core::ErrorKind::NotFound);
}
