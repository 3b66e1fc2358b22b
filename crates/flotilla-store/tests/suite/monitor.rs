//! Telemetry windows: batch merges roll up into hours and days, retention
//! per grain, fleet walks by version, kept predictions capped and claimed.

use flotilla_core::{ErrorKind, VersionNumber};
use flotilla_store::monitor::{
    ActiveQuery, CacheCounts, DAY_MS, ErrorCounts, Grain, HOUR_MS, KeptPrediction, Retention, StatsMerge, WindowDelta,
    WindowQuery,
};
use flotilla_store::{NewModelVersion, Store};

use super::kind;

/// Concatenates: the merged blob shows every delta that went into it.
struct Concat;

impl StatsMerge for Concat {
    fn merge(&self, _grain: Grain, stored: Option<&[u8]>, delta: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = stored.unwrap_or_default().to_vec();
        out.extend_from_slice(delta);
        Ok(out)
    }
}

fn delta(model: &str, v: VersionNumber, start_ms: i64, requests: u64, tag: u8) -> WindowDelta {
    WindowDelta {
        model: model.into(),
        version: v,
        start_ms,
        length_ms: 60_000,
        requests,
        rows: requests * 2,
        errors: ErrorCounts { client: 1, ..ErrorCounts::default() },
        // One miss per delta, the rest hits; the model's bytes grow with the tag.
        cache: CacheCounts { hits: requests - 1, misses: 1, model_bytes: 1000 * tag as u64 },
        fingerprint: Some(7),
        stats: vec![tag],
        columns: Some((1, vec!["x".into(), "y".into()])),
    }
}

fn query(model: &str, v: Option<VersionNumber>, grain: Grain) -> WindowQuery {
    WindowQuery { model: model.into(), version: v, grain, from_ms: 0, to_ms: i64::MAX }
}

pub fn windows_roll_up_prune_and_page(store: &dyn Store) {
    store.create_registered_model("m", &[], None).unwrap();
    let v1 = store
        .create_model_version(&NewModelVersion { name: "m".into(), source: "s".into(), ..Default::default() })
        .unwrap()
        .version;
    let v2 = store
        .create_model_version(&NewModelVersion { name: "m".into(), source: "s".into(), ..Default::default() })
        .unwrap()
        .version;
    let now = 100 * DAY_MS;
    let t0 = now - 2 * HOUR_MS; // an hour boundary
    let batch = [
        delta("m", v1, t0, 3, 1),
        delta("m", v1, t0 + 60_000, 4, 2),
        delta("m", v1, t0 + HOUR_MS, 5, 3),
        delta("m", v2, t0, 1, 4),
        delta("gone", v1, t0, 1, 5),
    ];
    let out = store.merge_windows(&batch, &Retention::default(), now, &Concat).unwrap();
    assert_eq!((out.windows, out.skipped), (12, 1));

    let base = store.windows(&query("m", Some(v1), Grain::Base)).unwrap().rows;
    assert_eq!(
        base.iter().map(|w| (w.start_ms, w.requests)).collect::<Vec<_>>(),
        [(t0, 3), (t0 + 60_000, 4), (t0 + HOUR_MS, 5)]
    );
    let hours = store.windows(&query("m", Some(v1), Grain::Hour)).unwrap().rows;
    assert_eq!(
        hours.iter().map(|w| (w.start_ms, w.requests, w.stats.clone())).collect::<Vec<_>>(),
        [(t0, 7, vec![1, 2]), (t0 + HOUR_MS, 5, vec![3])]
    );
    let days = store.windows(&query("m", None, Grain::Day)).unwrap().rows;
    assert_eq!(days.len(), 2, "one day per version");
    assert_eq!((days[0].requests, days[0].rows, days[0].errors.client, days[0].fingerprint), (12, 24, 3, Some(7)));
    assert_eq!(days[0].length_ms, DAY_MS);
    // Cache hits and misses add up; a model's bytes are the largest seen.
    assert_eq!(days[0].cache, CacheCounts { hits: 9, misses: 3, model_bytes: 3000 });
    assert_eq!(hours[0].cache, CacheCounts { hits: 5, misses: 2, model_bytes: 2000 });

    // Unknown model or version: not found.
    assert_eq!(kind(store.windows(&query("nope", None, Grain::Day))), ErrorKind::NotFound);
    let v9 = VersionNumber::new(9).unwrap();
    assert_eq!(kind(store.windows(&query("m", Some(v9), Grain::Day))), ErrorKind::NotFound);

    let kept = store.monitored_version("m", v1).unwrap().unwrap();
    assert_eq!((kept.first_ms, kept.last_ms, kept.inputs), (t0, t0 + HOUR_MS + 60_000, 1));
    assert_eq!(kept.columns, ["x", "y"]);

    // Fleet walk: one version a page, then nothing outside the span.
    let mut q = ActiveQuery { from_ms: t0, to_ms: now, after: None, limit: 1 };
    let p1 = store.active_versions(&q).unwrap();
    assert_eq!(p1.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [v1]);
    q.after = p1.next;
    let p2 = store.active_versions(&q).unwrap();
    assert_eq!((p2.versions.iter().map(|v| v.version).collect::<Vec<_>>(), p2.next), (vec![v2], None));
    let idle = ActiveQuery { from_ms: now + HOUR_MS, to_ms: now + 2 * HOUR_MS, after: None, limit: 10 };
    assert!(store.active_versions(&idle).unwrap().versions.is_empty());
    let of = store.windows_of(&[(p1.versions[0].rm_id, v1), (p2.versions[0].rm_id, v2)], Grain::Hour, 0, now).unwrap();
    assert_eq!(of.rows.len(), 3);

    // A late delta older than the base retention lands in its hour and day only.
    let late = t0 - 3 * DAY_MS;
    let out = store.merge_windows(&[delta("m", v1, late, 2, 6)], &Retention::default(), now, &Concat).unwrap();
    assert_eq!(out.windows, 2);
    // Older than every retention: skipped.
    let ancient = now - 500 * DAY_MS;
    let out = store.merge_windows(&[delta("m", v1, ancient, 2, 6)], &Retention::default(), now, &Concat).unwrap();
    assert_eq!((out.windows, out.skipped), (0, 1));

    // Retention per grain: base windows go first.
    let short = Retention { base_ms: HOUR_MS, hour_ms: 2 * DAY_MS, day_ms: 400 * DAY_MS };
    let pruned = store.prune_windows(&short, now).unwrap();
    assert_eq!(pruned, 3 + 1, "two base windows of v1 and one of v2 before the cut, the late hour");
    assert_eq!(store.windows(&query("m", Some(v1), Grain::Base)).unwrap().rows.len(), 1);
    assert_eq!(store.windows(&query("m", Some(v1), Grain::Hour)).unwrap().rows.len(), 2);
}

fn kept(id: &str, start_ms: i64, score: f64) -> KeptPrediction {
    KeptPrediction { id: id.into(), start_ms, length_ms: 60_000, score: Some(score), class: None }
}

pub fn predictions_are_capped_and_claimed(store: &dyn Store) {
    store.create_registered_model("p", &[], None).unwrap();
    let v = store
        .create_model_version(&NewModelVersion { name: "p".into(), source: "s".into(), ..Default::default() })
        .unwrap()
        .version;
    let rows = [kept("a", 1, 0.5), kept("b", 2, 0.6), kept("c", 3, 0.7)];
    assert_eq!(store.keep_predictions("p", v, &rows, 2).unwrap(), 2, "the oldest went over the cap");
    let ids = ["a", "c", "zz"].map(String::from);
    let claimed = store.claim_predictions("p", v, &ids).unwrap();
    assert_eq!(claimed, [None, Some(kept("c", 3, 0.7)), None]);
    assert_eq!(store.claim_predictions("p", v, &ids[1..2]).unwrap(), [None], "claimed once");
    let v9 = VersionNumber::new(9).unwrap();
    assert_eq!(kind(store.keep_predictions("p", v9, &rows, 2)), ErrorKind::NotFound);
    assert_eq!(kind(store.claim_predictions("nope", v, &ids)), ErrorKind::NotFound);
    // Kept predictions go with the base windows' retention.
    let pruned = store.prune_windows(&Retention { base_ms: 1, hour_ms: 1, day_ms: 1 }, 1_000).unwrap();
    assert_eq!(pruned, 1);
}

/// A report's serving figures for a family or the fleet, read from the day
/// roll-ups (migration 24), equal the ones summed from the windows for the
/// same models (a tag on all of them makes the scan's scope), after windows
/// are written, merged into again and written for a second version.
pub fn report_serving_counters_match_the_windows(store: &dyn Store) {
    use flotilla_core::model::Tag;
    use flotilla_store::fleet::NewFamily;
    use flotilla_store::health::{Check, CheckResult, HealthUpdate, Status};
    use flotilla_store::report::ReportFilter;

    use super::health::member;

    store.create_family(&NewFamily { name: "demand".into(), levels: vec!["store".into()], description: None }).unwrap();
    let registered = store
        .register_versions(&[member("demand", "store=1"), member("demand", "store=2")], &super::fleet::ctx())
        .unwrap();
    let mut names: Vec<String> = registered.iter().map(|r| r.model.clone()).collect();
    store.create_registered_model("solo", &[], None).unwrap();
    store
        .create_model_version(&NewModelVersion { name: "solo".into(), source: "s".into(), ..Default::default() })
        .unwrap();
    names.push("solo".into());
    for name in &names {
        store.set_registered_model_tag(name, &Tag::new("all", "yes")).unwrap();
    }
    let v1 = VersionNumber::new(1).unwrap();
    let first = &names[0];
    let v2 = store
        .create_model_version(&NewModelVersion { name: first.clone(), source: "s".into(), ..Default::default() })
        .unwrap()
        .version;
    let now = 100 * DAY_MS;
    let (day1, day2) = (now - 2 * DAY_MS, now - DAY_MS);
    let batches = [
        vec![delta(first, v1, day1, 3, 1), delta(&names[1], v1, day1, 5, 2), delta("solo", v1, day1, 1, 3)],
        // Into the same day windows again (their update), a second version the same day, a second day.
        vec![delta(first, v1, day1 + HOUR_MS, 4, 4), delta(first, v2, day1, 2, 5), delta(first, v1, day2, 6, 6)],
    ];
    for batch in &batches {
        store.merge_windows(batch, &Retention::default(), now, &Concat).unwrap();
    }
    let latency = |model: &str, status, value| HealthUpdate {
        model: model.into(),
        checks: vec![CheckResult { check: Check::LatencyP99, status, value }],
    };
    store
        .record_health(&[latency(first, Status::Warn, Some(30.0)), latency(&names[1], Status::Ok, Some(10.0))], now)
        .unwrap();
    store.record_health(&[latency(first, Status::Fail, Some(50.0))], now).unwrap();
    let drift = |model: &str, check, status, value| HealthUpdate {
        model: model.into(),
        checks: vec![CheckResult { check, status, value: Some(value) }],
    };
    store
        .record_health(
            &[
                drift(first, Check::DataDrift, Status::Warn, 0.2),
                drift(&names[1], Check::DataDrift, Status::Fail, 0.3),
                drift(&names[1], Check::PredictionDrift, Status::Fail, 0.3),
                drift("solo", Check::DataDrift, Status::Fail, 0.9),
                drift(first, Check::PredictionDrift, Status::Ok, 0.01),
            ],
            now,
        )
        .unwrap();

    let scope = |family: Option<&str>, tag: bool| ReportFilter {
        family: family.map(str::to_string),
        partition: None,
        tag: tag.then(|| ("all".to_string(), "yes".to_string())),
    };
    let (from, to) = (0, now);
    for family in [Some("demand"), None] {
        let counted = store.serving(&scope(family, false), from, to).unwrap();
        let scanned = store.serving(&scope(family, true), from, to).unwrap();
        assert_eq!(counted, scanned, "family {family:?}");
        let counted = store.traffic(&scope(family, false), from, to, DAY_MS).unwrap();
        let scanned = store.traffic(&scope(family, true), from, to, DAY_MS).unwrap();
        assert_eq!(counted, scanned, "family {family:?}");
    }
    for family in [Some("demand"), None] {
        let counted = store.drifted_models(&scope(family, false), 10).unwrap();
        let scanned = store.drifted_models(&scope(family, true), 10).unwrap();
        assert_eq!(counted, scanned, "family {family:?}");
    }
    let drifted = store.drifted_models(&scope(None, false), 10).unwrap();
    let shown: Vec<(&str, &str, &str)> =
        drifted.iter().map(|d| (d.model.as_str(), d.check.as_str(), d.status.as_str())).collect();
    let (a, b) = (first.as_str(), names[1].as_str());
    assert_eq!(
        shown,
        [
            ("solo", "data_drift", "fail"),
            (b, "data_drift", "fail"),
            (b, "prediction_drift", "fail"),
            (a, "data_drift", "warn")
        ]
    );
    let demand = store.serving(&scope(Some("demand"), false), from, to).unwrap();
    assert_eq!(demand.len(), 1);
    let d = &demand[0];
    // Day 1: both members (the first with two versions counts once); day 2: one.
    assert_eq!((d.models_served, d.requests, d.rows), (2, 3 + 5 + 4 + 2 + 6, 2 * 20));
    assert_eq!((d.latency_warn, d.latency_fail, d.p99_avg_ms), (0, 1, Some(30.0)));
    let fleet = store.serving(&scope(None, false), from, to).unwrap();
    assert_eq!(fleet.iter().map(|s| s.family.as_str()).collect::<Vec<_>>(), ["demand", ""]);
    assert_eq!(store.serving(&scope(Some("demand"), false), day2, to).unwrap()[0].requests, 6);
}
