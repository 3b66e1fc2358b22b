//! Fleet reports' reads: staleness and the oldest champions, the
//! champions' training data, promotion effects, alias moves, registrations,
//! the health snapshot a report quotes, and scheduled reports with the
//! reports made from them. Each figure is the one the fixture makes (a
//! family of three stores and a model outside it), and a scope that walks
//! its models (a tag every model carries) answers as the fleet and the
//! family do (SQLite reads those from counters).

use flotilla_core::fleet::parse_path;
use flotilla_core::model::Tag;
use flotilla_store::Store;
use flotilla_store::datasets::NewDatasetInput;
use flotilla_store::fleet::{AliasChange, BulkVersion, ModelAddress, NewFamily};
use flotilla_store::health::{Check, CheckResult, HealthUpdate, Status};
use flotilla_store::report::{NewSchedule, ReportFilter, ReportRun, STALE_DAYS, WEEK_MS};

use super::fleet::ctx;
use super::kind;

const DAY_MS: i64 = 86_400_000;

fn data(name: &str, digest: &str) -> NewDatasetInput {
    NewDatasetInput {
        name: name.into(),
        digest: digest.into(),
        source_type: "s3".into(),
        source: format!("s3://d/{name}/{digest}"),
        schema: None,
        context: "training".into(),
    }
}

fn version(model: ModelAddress, datasets: Vec<NewDatasetInput>, rmse: f64, champion: bool) -> BulkVersion {
    BulkVersion {
        model,
        source: "mlflow-artifacts:/0/m".into(),
        run_id: None,
        description: None,
        tags: vec![],
        metrics: vec![("rmse".into(), rmse)],
        aliases: if champion { vec!["champion".into()] } else { vec![] },
        datasets,
    }
}

fn store_at(store: &str) -> ModelAddress {
    ModelAddress::Partition { family: "demand".into(), partition: parse_path(&format!("store={store}")).unwrap() }
}

fn scope(family: Option<&str>, tag: bool) -> ReportFilter {
    ReportFilter {
        family: family.map(str::to_string),
        partition: None,
        tag: tag.then(|| ("all".to_string(), "yes".to_string())),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub fn report_sections_read_what_the_fleet_holds(store: &dyn Store) {
    let started = now_ms();
    store.create_family(&NewFamily { name: "demand".into(), levels: vec!["store".into()], description: None }).unwrap();
    store.create_registered_model("solo", &[], None).unwrap();
    // s1 and s2 are champions trained on train@d1 (s1 also on a calendar), s3 has no champion.
    let first = vec![
        version(store_at("s1"), vec![data("train", "d1"), data("cal", "c1")], 0.5, true),
        version(store_at("s2"), vec![data("train", "d1")], 0.4, true),
        version(store_at("s3"), vec![], 0.9, false),
        version(ModelAddress::Name { model: "solo".into() }, vec![], 0.7, true),
    ];
    let names: Vec<String> = store.register_versions(&first, &ctx()).unwrap().into_iter().map(|r| r.model).collect();
    // The family's root model (made with its first member) counts among its models.
    for name in names.iter().map(String::as_str).chain(["demand"]) {
        store.set_registered_model_tag(name, &Tag::new("all", "yes")).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(5));
    // A newer digest of train: s1's version 2 trains on it and is promoted (rmse 0.5 -> 0.3);
    // s2 is left on the superseded train@d1.
    store.register_versions(&[version(store_at("s1"), vec![data("train", "d2")], 0.3, false)], &ctx()).unwrap();
    let s1 = names[0].clone();
    let change = AliasChange { model: s1.clone(), alias: "champion".into(), version: Some(2) };
    store.set_aliases(&[change], &ctx()).unwrap();
    let ended = now_ms();

    // Staleness, 100 days on: every champion is stale; one of the family's is on superseded data.
    // The family's four models are its root and three stores.
    let at = ended + 100 * DAY_MS;
    let fleet = store.staleness(&scope(None, false), at).unwrap();
    let shown: Vec<(&str, i64, i64, i64, i64, i64, i64)> = fleet
        .iter()
        .map(|s| {
            let f = s.family.as_str();
            (f, s.models, s.never_served, s.champions, s.champions_stale, s.champions_with_data, s.on_superseded)
        })
        .collect();
    assert_eq!(shown, [("demand", 4, 4, 2, 2, 2, 1), ("", 1, 1, 1, 1, 0, 0)]);
    let demand = &fleet[0];
    let age = demand.champion_age_max.unwrap();
    assert!((100.0..=100.0 + (ended - started) as f64 / DAY_MS as f64 + 0.001).contains(&age), "{age}");
    assert!(demand.champion_age_avg.unwrap() <= age);
    assert!(demand.data_age_avg.is_some() && fleet[1].data_age_avg.is_none());
    let soon = store.staleness(&scope(Some("demand"), false), ended + DAY_MS).unwrap();
    assert_eq!((soon.len(), soon[0].champions, soon[0].champions_stale), (1, 2, 0));
    const { assert!(STALE_DAYS < 100) };

    // The oldest champions: s2 (registered first, still version 1), solo, then s1's version 2.
    let oldest = store.oldest_champions(&scope(None, false), at, 10).unwrap();
    let shown: Vec<(&str, &str, i64, bool)> =
        oldest.iter().map(|c| (c.model.as_str(), c.family.as_str(), c.version, c.superseded)).collect();
    assert_eq!(shown[2], (s1.as_str(), "demand", 2, false));
    assert_eq!(shown.len(), 3);
    assert!(shown[..2].contains(&(names[1].as_str(), "demand", 1, true)));
    assert!(shown[..2].contains(&("solo", "", 1, false)));
    assert_eq!(store.oldest_champions(&scope(Some("demand"), false), at, 1).unwrap().len(), 1);

    // The champions' training data: train@d1 (s2), train@d2 (s1), nothing else.
    let (used, distinct) = store.datasets_in_use(&scope(None, false), 10).unwrap();
    let shown: Vec<(&str, &str, i64, i64, bool)> =
        used.iter().map(|d| (d.name.as_str(), d.digest.as_str(), d.champions, d.families, d.superseded)).collect();
    assert_eq!(shown, [("train", "d1", 1, 1, true), ("train", "d2", 1, 1, false)]);
    assert_eq!(distinct, 2);
    assert_eq!(store.datasets_in_use(&scope(None, false), 1).unwrap(), (used[..1].to_vec(), 2));

    // A scope that walks its models answers as the counted ones.
    for family in [None, Some("demand")] {
        let (walked, counted) =
            (store.staleness(&scope(family, true), at).unwrap(), store.staleness(&scope(family, false), at).unwrap());
        assert_eq!(walked.len(), counted.len());
        for (w, c) in walked.iter().zip(&counted) {
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                (a, b) => a == b,
            };
            assert!(
                close(w.champion_age_avg, c.champion_age_avg) && close(w.champion_age_max, c.champion_age_max),
                "{w:?} {c:?}"
            );
            assert!(close(w.data_age_avg, c.data_age_avg), "{w:?} {c:?}");
            let whole = |s: &flotilla_store::report::FamilyStaleness| {
                (
                    s.family.clone(),
                    s.models,
                    s.never_served,
                    s.champions,
                    s.champions_stale,
                    s.champions_with_data,
                    s.on_superseded,
                )
            };
            assert_eq!(whole(w), whole(c));
        }
        assert_eq!(
            store.oldest_champions(&scope(family, true), at, 10).unwrap(),
            store.oldest_champions(&scope(family, false), at, 10).unwrap()
        );
        assert_eq!(
            store.datasets_in_use(&scope(family, true), 10).unwrap(),
            store.datasets_in_use(&scope(family, false), 10).unwrap()
        );
    }

    // Promotion effects: s1's champion moved from version 1 to 2.
    let (effects, n) = store.promotion_effects(&scope(None, false), "rmse", started, ended + 1, true, 10).unwrap();
    assert_eq!(n, 1);
    let e = &effects[0];
    assert_eq!((e.model.as_str(), e.family.as_str(), e.from_version, e.to_version), (s1.as_str(), "demand", 1, 2));
    assert_eq!((e.before, e.after), (0.5, 0.3));
    assert!((started..=ended).contains(&e.time));
    assert_eq!(store.promotion_effects(&scope(None, false), "nope", started, ended + 1, true, 10).unwrap().1, 0);
    assert_eq!(store.promotion_effects(&scope(None, false), "rmse", ended + 1, ended + 2, true, 10).unwrap().1, 0);

    // Alias moves by week: three champions set by the first registration, one moved since.
    let moves = store.alias_moves(started, ended + 1, None, 100).unwrap();
    assert_eq!(moves.iter().map(|m| m.moves).sum::<i64>(), 4);
    assert!(moves.iter().all(|m| m.actor == "ana" && m.week % WEEK_MS == 0 && m.week <= ended));
    let in_family = store.alias_moves(started, ended + 1, Some("demand"), 100).unwrap();
    assert_eq!(in_family.iter().map(|m| m.moves).sum::<i64>(), 3);
    assert!(store.alias_moves(ended + 1, ended + 2, None, 100).unwrap().is_empty());

    // Registrations: the family's root and three stores, and solo.
    assert_eq!(store.registered_count(None, started, ended + 1).unwrap(), Some(5));
    assert_eq!(store.registered_count(Some("demand"), started, ended + 1).unwrap(), Some(4));
    assert_eq!(store.registered_count(None, ended + 1, ended + 2 * DAY_MS).unwrap(), Some(0));
    assert_eq!(store.registered_count(Some("nope"), 0, ended + 1).unwrap(), None);

    // The health snapshot a report quotes, and the drift heat map's weeks.
    let fail = |model: &str| HealthUpdate {
        model: model.into(),
        checks: vec![CheckResult { check: Check::DataDrift, status: Status::Fail, value: Some(0.4) }],
    };
    store.record_health(&[fail(&s1), fail(&names[1]), fail("solo")], ended).unwrap();
    let hour = 400 * 3_600_000;
    store.snapshot_health(hour).unwrap();
    assert_eq!(store.failing_at(None, hour).unwrap(), None, "no snapshot before the hour");
    assert_eq!(store.failing_at(None, hour + 1).unwrap(), Some((hour, 3)));
    assert_eq!(store.failing_at(Some("demand"), hour + 1).unwrap(), Some((hour, 2)));
    let weeks = store.drift_weeks(None, "data_drift", 0, hour + 1).unwrap();
    assert_eq!(weeks.len(), 1);
    assert_eq!((weeks[0].family.as_str(), weeks[0].week, weeks[0].models), ("demand", (hour / WEEK_MS) * WEEK_MS, 2));
    assert!(store.drift_weeks(Some("demand"), "prediction_drift", 0, hour + 1).unwrap().is_empty());
}

fn schedule(name: &str, next_run: i64) -> NewSchedule {
    NewSchedule {
        name: name.into(),
        every: "daily".into(),
        query: "family=demand".into(),
        family: "demand".into(),
        webhook_url: "http://127.0.0.1:9/hook".into(),
        secret: "s".into(),
        origin: "api".into(),
        created_by: "ana".into(),
        next_run,
    }
}

pub fn report_schedules_and_their_reports(store: &dyn Store) {
    let daily = store.create_schedule(&schedule("daily", 1_000)).unwrap();
    assert_eq!((daily.name.as_str(), daily.origin.as_str(), daily.next_run), ("daily", "api", 1_000));
    assert_eq!(kind(store.create_schedule(&schedule("daily", 5))), flotilla_core::ErrorKind::AlreadyExists);
    // A server flag's rule: made when new; when not, its settings replaced and the sooner next run kept.
    let flag = NewSchedule { origin: "flag".into(), every: "weekly".into(), ..schedule("weekly", 3_000) };
    let weekly = store.upsert_flag_schedule(&flag).unwrap();
    let again = store.upsert_flag_schedule(&NewSchedule { query: "tag=a=b".into(), next_run: 9_000, ..flag }).unwrap();
    assert_eq!((again.id, again.query.as_str(), again.next_run), (weekly.id, "tag=a=b", 3_000));
    assert_eq!(store.schedules().unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), [daily.id, weekly.id]);
    assert_eq!(store.get_schedule(weekly.id).unwrap(), again);

    let due: Vec<i64> = store.due_schedules(5_000, 10).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(due, [daily.id, weekly.id]);
    assert!(store.due_schedules(999, 10).unwrap().is_empty());
    let run = ReportRun {
        id: 0,
        schedule_id: Some(daily.id),
        name: "daily".into(),
        query: "family=demand".into(),
        family: "demand".into(),
        time: 1_000,
        path: "reports/1.html".into(),
        bytes: 42,
        error: None,
        notified: None,
    };
    let first = store.record_report_run(&run, 1_000 + DAY_MS).unwrap();
    assert_eq!(store.get_schedule(daily.id).unwrap().next_run, 1_000 + DAY_MS, "the rule's next run moved");
    assert_eq!(store.due_schedules(5_000, 10).unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), [weekly.id]);
    let failed = ReportRun { path: String::new(), bytes: 0, error: Some("no such family".into()), ..run.clone() };
    let second = store.record_report_run(&failed, 1_000 + 2 * DAY_MS).unwrap();
    store.set_report_notified(first, "200").unwrap();
    let runs = store.report_runs(10).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [second, first], "newest first");
    assert_eq!(runs[1], ReportRun { id: first, notified: Some("200".into()), ..run });
    assert_eq!(runs[0].error.as_deref(), Some("no such family"));

    // A rule deleted keeps its reports, no longer linked to it.
    store.delete_schedule(daily.id).unwrap();
    assert_eq!(kind(store.get_schedule(daily.id)), flotilla_core::ErrorKind::NotFound);
    assert_eq!(kind(store.delete_schedule(daily.id)), flotilla_core::ErrorKind::NotFound);
    assert_eq!(store.report_run(first).unwrap().schedule_id, None);
    assert_eq!(kind(store.report_run(second + 100)), flotilla_core::ErrorKind::NotFound);
}
