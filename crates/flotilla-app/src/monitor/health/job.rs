//! The health job: when a telemetry window closes (after the flush that
//! writes it), every version with telemetry in it is judged — traffic,
//! error rate and p99 latency from the window, data and prediction drift
//! when the window's drift counts are enough to judge — and the statuses
//! recorded, which moves the roll-ups and judges the alert rules in the
//! same transaction; new alert events wake the delivery task. Once a day
//! the previous day's windows are judged for drift and baseline at the day
//! grain, with staleness and idle models ([`judge`] with [`Pass::Daily`]); once an hour the roll-ups are
//! copied into their history. The fleet is walked a page of versions at a
//! time ([`MAX_VERSIONS_PER_CALL`]), one store transaction per page, each
//! page's versions judged on two threads with the references read once per
//! job ([`ReferenceCache`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_core::VersionNumber;
use flotilla_drift::{DriftConfig, Verdict, Window, window_drift};
use flotilla_store::health::{Check, CheckResult, HealthUpdate, Status};
use flotilla_store::monitor::{
    ActiveQuery, DAY_MS, ErrorCounts, Grain, HOUR_MS, MAX_VERSIONS_PER_CALL, MonitoredVersion, WindowRow,
};
use flotilla_store::{Store, StoreResult};
use tokio::sync::Notify;

use crate::monitor::alerts_delivery::now_ms;
use crate::monitor::drift::{ReferenceCache, VersionReference};
use crate::monitor::drift_read::verdict_of;
use crate::monitor::telemetry::stats::{WindowStats, latency_quantile_ms};

/// What the checks are judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objectives {
    /// Error rate at or above which a model warns, and fails.
    pub error_warn: f64,
    pub error_fail: f64,
    /// The p99 latency objective: above it a model warns, above twice it fails.
    pub p99_ms: f64,
}

impl Default for Objectives {
    fn default() -> Self {
        Self { error_warn: 0.01, error_fail: 0.05, p99_ms: 1000.0 }
    }
}

/// How far back the daily pass looks for versions that went silent.
pub const IDLE_LOOKBACK_MS: i64 = 7 * DAY_MS;

/// Which checks a pass judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// A base window just closed: traffic, errors, latency, and drift when judged.
    Window,
    /// A day closed: drift (judged or not), baseline, staleness (the
    /// version's age), and traffic for the
    /// versions served in the week before and silent all day (idle).
    Daily,
}

/// The checks one window's counts decide.
pub fn traffic_checks(requests: u64, errors: &ErrorCounts, objectives: &Objectives) -> Vec<CheckResult> {
    let traffic = CheckResult {
        check: Check::Traffic,
        status: if requests > 0 { Status::Ok } else { Status::Warn },
        value: Some(requests as f64),
    };
    let error_rate = if requests == 0 {
        CheckResult { check: Check::ErrorRate, status: Status::Unknown, value: None }
    } else {
        let rate = errors.total() as f64 / requests as f64;
        let status = if rate >= objectives.error_fail {
            Status::Fail
        } else if rate >= objectives.error_warn {
            Status::Warn
        } else {
            Status::Ok
        };
        CheckResult { check: Check::ErrorRate, status, value: Some(rate) }
    };
    vec![traffic, error_rate]
}

fn latency_check(latency: &[u64], objectives: &Objectives) -> CheckResult {
    match latency_quantile_ms(latency, 0.99) {
        None => CheckResult { check: Check::LatencyP99, status: Status::Unknown, value: None },
        Some(p99) => {
            let status = if p99 > 2.0 * objectives.p99_ms {
                Status::Fail
            } else if p99 > objectives.p99_ms {
                Status::Warn
            } else {
                Status::Ok
            };
            CheckResult { check: Check::LatencyP99, status, value: Some(p99) }
        }
    }
}

fn drift_status(v: Verdict) -> Status {
    match v {
        Verdict::Drift => Status::Fail,
        Verdict::NoDrift => Status::Ok,
        Verdict::NotEnoughData | Verdict::Incomparable => Status::Unknown,
    }
}

/// Data and prediction drift of a merged window (inputs, then outputs).
fn drift_checks(
    reference: &VersionReference,
    window: &Window,
    outputs: &[String],
    config: &DriftConfig,
) -> Vec<CheckResult> {
    let Ok(drift) = window_drift(&reference.reference, window, config) else { return Vec::new() };
    let (outs, ins): (Vec<_>, Vec<_>) = drift.features.iter().partition(|f| outputs.contains(&f.feature));
    let data = verdict_of(&ins, config.drift_share);
    let prediction = verdict_of(&outs, config.drift_share);
    vec![
        CheckResult { check: Check::DataDrift, status: drift_status(data.verdict), value: Some(data.share) },
        CheckResult {
            check: Check::PredictionDrift,
            status: drift_status(prediction.verdict),
            value: Some(prediction.share),
        },
    ]
}

/// A model's checks from one of its versions.
type Judged = (String, Vec<CheckResult>);

/// One version's windows judged.
fn judge_version(
    store: &dyn Store,
    v: &MonitoredVersion,
    rows: &[&WindowRow],
    pass: Pass,
    objectives: &Objectives,
    references: &Mutex<ReferenceCache>,
) -> StoreResult<Vec<CheckResult>> {
    let mut checks = Vec::new();
    let (mut requests, mut errors) = (0, ErrorCounts::default());
    let mut stats = WindowStats::default();
    for r in rows {
        requests += r.requests;
        errors.add(&r.errors);
        if let Ok(s) = WindowStats::from_bytes(&r.stats) {
            stats.add(&s);
        }
    }
    if pass == Pass::Window {
        checks.extend(traffic_checks(requests, &errors, objectives));
        checks.push(latency_check(&stats.latency, objectives));
    }
    let reference = references.lock().unwrap_or_else(|p| p.into_inner()).get(store, &v.model, v.version)?;
    if pass == Pass::Daily && rows.is_empty() {
        // Served within the week, silent all day: idle.
        checks.push(CheckResult { check: Check::Traffic, status: Status::Warn, value: Some(0.0) });
    }
    if pass == Pass::Daily {
        // Staleness: the version's age (warn past 180 days, fail past a year).
        let created = store.get_version(&v.model, v.version)?.creation_timestamp;
        let days = (now_ms() - created) as f64 / DAY_MS as f64;
        let status = match days {
            d if d > 365.0 => Status::Fail,
            d if d > 180.0 => Status::Warn,
            _ => Status::Ok,
        };
        checks.push(CheckResult { check: Check::Staleness, status, value: Some(days) });
        let status = if reference.is_some() { Status::Ok } else { Status::Warn };
        checks.push(CheckResult { check: Check::Baseline, status, value: None });
    }
    let fingerprints_match = rows.iter().all(|r| r.fingerprint == reference.as_ref().map(|r| r.reference.fingerprint));
    if let (Some(reference), Some(window), true) = (&reference, &stats.drift, fingerprints_match) {
        let family = family_of(store, &v.model)?;
        let config = references.lock().unwrap_or_else(|p| p.into_inner()).config(store, family.as_deref())?;
        let outputs: Vec<String> = v.columns.iter().skip(v.inputs).cloned().collect();
        let drift = drift_checks(reference, window, &outputs, &config);
        // A window too small to judge leaves the last verdict standing.
        checks.extend(drift.into_iter().filter(|c| pass == Pass::Daily || c.status != Status::Unknown));
    }
    Ok(checks)
}

fn family_of(store: &dyn Store, model: &str) -> StoreResult<Option<String>> {
    // Members are named `{family}` or `{family}.{partition}`; the family's own row says which.
    let head = model.split('.').next().unwrap_or(model);
    match store.get_family(head) {
        Ok(_) => Ok(Some(head.to_string())),
        Err(e) if e.kind() == flotilla_core::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Judges every version with telemetry in `[from, to)` at `grain` and
/// records the statuses; answers (models judged, alert events made).
pub fn judge(
    store: &dyn Store,
    from: i64,
    to: i64,
    pass: Pass,
    objectives: &Objectives,
    references: &Mutex<ReferenceCache>,
) -> StoreResult<(usize, usize)> {
    let grain = match pass {
        Pass::Window => Grain::Base,
        Pass::Daily => Grain::Day,
    };
    // The daily pass also visits versions served in the week before, so a
    // silent one is found idle.
    let active_from = match pass {
        Pass::Window => from,
        Pass::Daily => from - IDLE_LOOKBACK_MS,
    };
    let mut after = None;
    let (mut judged, mut events) = (0, 0);
    loop {
        let query = ActiveQuery { from_ms: active_from, to_ms: to, after, limit: MAX_VERSIONS_PER_CALL };
        let page = store.active_versions(&query)?;
        if page.versions.is_empty() {
            break;
        }
        let keys: Vec<_> = page.versions.iter().map(|v| (v.rm_id, v.version)).collect();
        let windows = store.windows_of(&keys, grain, from, to)?;
        let mut by_version: BTreeMap<(i64, VersionNumber), Vec<&WindowRow>> = BTreeMap::new();
        for w in &windows.rows {
            by_version.entry((w.rm_id, w.version)).or_default().push(w);
        }
        // Two threads (this machine's cores); a model's versions are judged together.
        let half = page.versions.len().div_ceil(2);
        let judged_page: Vec<StoreResult<Vec<Judged>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = page
                .versions
                .chunks(half.max(1))
                .map(|chunk| {
                    let by_version = &by_version;
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|v| {
                                let rows = by_version.get(&(v.rm_id, v.version)).map(Vec::as_slice).unwrap_or(&[]);
                                judge_version(store, v, rows, pass, objectives, references)
                                    .map(|c| (v.model.clone(), c))
                            })
                            .collect::<StoreResult<Vec<_>>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))).collect()
        });
        // A model served by several versions: the worst status of each check.
        let mut per_model: BTreeMap<String, BTreeMap<Check, CheckResult>> = BTreeMap::new();
        for part in judged_page {
            for (model, checks) in part? {
                let m = per_model.entry(model).or_default();
                for c in checks {
                    match m.get(&c.check) {
                        Some(old) if old.status >= c.status => {}
                        Some(_) | None => {
                            m.insert(c.check, c);
                        }
                    }
                }
            }
        }
        let updates: Vec<HealthUpdate> = per_model
            .into_iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(model, checks)| HealthUpdate { model, checks: checks.into_values().collect() })
            .collect();
        judged += updates.len();
        events += store.record_health(&updates, to)?;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok((judged, events))
}

async fn run(
    store: &Arc<dyn Store>,
    from: i64,
    to: i64,
    pass: Pass,
    objectives: Objectives,
    references: &Arc<Mutex<ReferenceCache>>,
    wake: &Notify,
) {
    let (s, r) = (Arc::clone(store), Arc::clone(references));
    let judged = tokio::task::spawn_blocking(move || judge(s.as_ref(), from, to, pass, &objectives, &r)).await;
    match judged {
        Ok(Ok((models, events))) => {
            tracing::debug!(models, events, window_end = to, pass = ?pass, "health judged");
            if events > 0 {
                wake.notify_one();
            }
        }
        Ok(Err(e)) => tracing::error!(error = %e, "health job failed"),
        Err(e) => tracing::error!(error = %e, "health job panicked"),
    }
}

/// Runs the job until the runtime stops: `grace` after each base window of
/// `window_ms` closes (time for the telemetry flush), the hourly snapshot
/// and the daily drift pass.
pub fn spawn(
    store: Arc<dyn Store>,
    window_ms: i64,
    grace: Duration,
    objectives: Objectives,
    wake: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let window_ms = window_ms.max(1);
        let mut last_hour = now_ms().div_euclid(HOUR_MS) * HOUR_MS;
        let mut last_day = now_ms().div_euclid(DAY_MS) * DAY_MS;
        loop {
            let now = now_ms();
            let end = now.div_euclid(window_ms) * window_ms + window_ms;
            let wait = (end - now).max(0) as u64 + grace.as_millis() as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            // References are read once per pass (a training profile may change between them).
            let references = Arc::new(Mutex::new(ReferenceCache::default()));
            run(&store, end - window_ms, end, Pass::Window, objectives, &references, &wake).await;
            let hour = end.div_euclid(HOUR_MS) * HOUR_MS;
            if hour > last_hour {
                last_hour = hour;
                let s = Arc::clone(&store);
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.snapshot_health(hour)).await {
                    tracing::error!(error = %e, "health history snapshot failed");
                }
            }
            let day = end.div_euclid(DAY_MS) * DAY_MS;
            if day > last_day {
                last_day = day;
                run(&store, day - DAY_MS, day, Pass::Daily, objectives, &references, &wake).await;
            }
        }
    })
}
