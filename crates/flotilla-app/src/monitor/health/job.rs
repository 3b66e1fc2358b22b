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
//! job ([`ReferenceCache`]), while the next page is read and the previous
//! one's statuses recorded on their own threads ([`judge_timed`]). What a page's versions are judged by beside
//! their windows (age, family, baseline, upstream datasets) is read for
//! the whole page in one call (`MonitorStore::version_facts`), so the
//! daily pass over 10⁶ versions makes no store call per version (but for
//! the few whose day has labels: their earlier days, for performance).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_core::VersionNumber;
use flotilla_store::health::{Check, CheckResult, HealthUpdate, Status};
use flotilla_store::monitor::{
    ActiveQuery, DAY_MS, ErrorCounts, FactDataset, Grain, HOUR_MS, MAX_VERSIONS_PER_CALL, MonitoredVersion,
    VersionFacts, WindowRow,
};
use flotilla_store::{Store, StoreResult};
use tokio::sync::Notify;

pub use super::checks::Objectives;
use super::checks::{drift_checks, latency_check, performance_check, staleness_check, traffic_checks};
use crate::monitor::alerts_delivery::now_ms;
use crate::monitor::drift::{ReferenceCache, VersionReference};
use crate::monitor::telemetry::stats::{Performance, WindowStats};

/// How far back the daily pass looks for versions that went silent.
pub const IDLE_LOOKBACK_MS: i64 = 7 * DAY_MS;
/// The earlier days a day's performance is compared with.
pub const PERFORMANCE_LOOKBACK_MS: i64 = 7 * DAY_MS;

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

/// A model's checks from one of its versions.
type Judged = (String, Vec<CheckResult>);

/// A version's age, family, upstream datasets and reference: from its
/// batched facts, or (a backend without them) one call at a time.
struct Known {
    created_ms: i64,
    family: Option<String>,
    datasets: Vec<FactDataset>,
    reference: Option<VersionReference>,
}

fn known(
    store: &dyn Store,
    v: &MonitoredVersion,
    facts: Option<&VersionFacts>,
    pass: Pass,
    references: &Mutex<ReferenceCache>,
) -> StoreResult<Known> {
    let mut cache = references.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = facts {
        let reference = cache.from_facts(store, f)?;
        return Ok(Known {
            created_ms: f.created_ms,
            family: f.family.clone(),
            datasets: f.datasets.clone(),
            reference,
        });
    }
    let reference = cache.get(store, &v.model, v.version)?;
    drop(cache);
    let (created_ms, datasets) = if pass == Pass::Daily {
        let created = store.get_version(&v.model, v.version)?.creation_timestamp;
        let upstream = store.upstream(&v.model, v.version, &flotilla_store::Readable::everything())?;
        let datasets = upstream
            .datasets
            .into_iter()
            .map(|d| FactDataset {
                training: d.context.as_deref() == Some("training"),
                name: d.name,
                digest: d.digest,
                profiled: false,
                superseded: d.superseded,
            })
            .collect();
        (created, datasets)
    } else {
        (0, Vec::new())
    };
    Ok(Known { created_ms, family: family_of(store, &v.model)?, datasets, reference })
}

/// The performance of the version's days before `from` (the daily pass's
/// comparison), read only for a version whose day has labeled predictions.
fn earlier_performance(store: &dyn Store, v: &MonitoredVersion, from: i64) -> StoreResult<Option<Performance>> {
    let rows = store.windows_of(&[(v.rm_id, v.version)], Grain::Day, from - PERFORMANCE_LOOKBACK_MS, from)?;
    let mut out: Option<Performance> = None;
    for r in &rows.rows {
        if let Ok(WindowStats { performance: Some(p), .. }) = WindowStats::from_bytes(&r.stats) {
            match &mut out {
                Some(o) => o.add(&p),
                None => out = Some(p),
            }
        }
    }
    Ok(out)
}

/// One version's windows judged.
#[allow(clippy::too_many_arguments)]
fn judge_version(
    store: &dyn Store,
    v: &MonitoredVersion,
    facts: Option<&VersionFacts>,
    rows: &[&WindowRow],
    (from, pass): (i64, Pass),
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
    let known = known(store, v, facts, pass, references)?;
    if pass == Pass::Daily && rows.is_empty() {
        // Served within the week, silent all day: idle.
        checks.push(CheckResult { check: Check::Traffic, status: Status::Warn, value: Some(0.0) });
    }
    if pass == Pass::Daily {
        checks.push(staleness_check(known.created_ms, now_ms(), &known.datasets));
        let status = if known.reference.is_some() { Status::Ok } else { Status::Warn };
        checks.push(CheckResult { check: Check::Baseline, status, value: None });
        if let Some(now) = &stats.performance {
            let earlier = earlier_performance(store, v, from)?;
            checks.extend(performance_check(now, earlier.as_ref(), objectives));
        }
    }
    let reference = &known.reference;
    let fingerprints_match = rows.iter().all(|r| r.fingerprint == reference.as_ref().map(|r| r.reference.fingerprint));
    if let (Some(reference), Some(window), true) = (reference, &stats.drift, fingerprints_match) {
        let config = references.lock().unwrap_or_else(|p| p.into_inner()).config(store, known.family.as_deref())?;
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

/// A page of versions with what they are judged by, read ahead of the judging.
struct ReadPage {
    versions: Vec<MonitoredVersion>,
    windows: Vec<WindowRow>,
    facts: Vec<Option<VersionFacts>>,
}

/// What a pass did, and where its time went (each stage runs on its own
/// thread, so the stages overlap and their times add to more than the wall).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PassReport {
    /// Models whose statuses were recorded, and alert events made.
    pub models: usize,
    pub events: usize,
    /// Reading pages of versions, their windows and facts.
    pub read: Duration,
    /// Decoding windows and judging the checks (drift included), per page on two threads.
    pub judge: Duration,
    /// Recording the statuses (the roll-ups and alert rules with them).
    pub record: Duration,
}

fn read_page(
    store: &dyn Store,
    query: &ActiveQuery,
    grain: Grain,
    (from, to): (i64, i64),
) -> StoreResult<(ReadPage, Option<(i64, VersionNumber)>)> {
    let page = store.active_versions(query)?;
    if page.versions.is_empty() {
        return Ok((ReadPage { versions: Vec::new(), windows: Vec::new(), facts: Vec::new() }, None));
    }
    let keys: Vec<_> = page.versions.iter().map(|v| (v.rm_id, v.version)).collect();
    // The windows and the facts on two reader connections at once: the
    // read stage bounds the pass (at 10⁶ models it was busy the whole run).
    let (windows, facts) = std::thread::scope(|scope| {
        let facts = scope.spawn(|| store.version_facts(&keys));
        let windows = store.windows_of(&keys, grain, from, to);
        (windows, facts.join())
    });
    let facts = facts.map_err(|_| flotilla_core::Error::internal("reading the versions' facts panicked"))??;
    Ok((ReadPage { versions: page.versions, windows: windows?.rows, facts }, page.next))
}

/// One page judged on two threads (this machine's cores), its models'
/// checks merged: a model served by several versions gets the worst
/// status of each check.
fn judge_page(
    store: &dyn Store,
    page: &ReadPage,
    (from, pass): (i64, Pass),
    objectives: &Objectives,
    references: &Mutex<ReferenceCache>,
) -> StoreResult<Vec<HealthUpdate>> {
    let mut by_version: HashMap<(i64, VersionNumber), Vec<&WindowRow>> = HashMap::with_capacity(page.versions.len());
    for w in &page.windows {
        by_version.entry((w.rm_id, w.version)).or_default().push(w);
    }
    let half = page.versions.len().div_ceil(2).max(1);
    let judged_page: Vec<StoreResult<Vec<Judged>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = page
            .versions
            .chunks(half)
            .zip(page.facts.chunks(half))
            .map(|(chunk, facts)| {
                let by_version = &by_version;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .zip(facts)
                        .map(|(v, f)| {
                            let rows = by_version.get(&(v.rm_id, v.version)).map(Vec::as_slice).unwrap_or(&[]);
                            judge_version(store, v, f.as_ref(), rows, (from, pass), objectives, references)
                                .map(|c| (v.model.clone(), c))
                        })
                        .collect::<StoreResult<Vec<_>>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))).collect()
    });
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
    Ok(per_model
        .into_iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(model, checks)| HealthUpdate { model, checks: checks.into_values().collect() })
        .collect())
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
    judge_timed(store, from, to, pass, objectives, references).map(|r| (r.models, r.events))
}

/// As [`judge`], with the time of each stage. The fleet flows through
/// three stages on their own threads, a page at a time: a reader reads
/// the next page (a pooled read connection) while this thread judges the
/// current one and a recorder writes the previous one's statuses (the
/// writer connection), so the store's single-threaded reads and writes
/// overlap the judging rather than wait for it.
pub fn judge_timed(
    store: &dyn Store,
    from: i64,
    to: i64,
    pass: Pass,
    objectives: &Objectives,
    references: &Mutex<ReferenceCache>,
) -> StoreResult<PassReport> {
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
    std::thread::scope(|scope| {
        let (pages_in, pages) = std::sync::mpsc::sync_channel::<StoreResult<ReadPage>>(1);
        let reader = scope.spawn(move || {
            let (mut after, mut busy) = (None, Duration::ZERO);
            loop {
                let started = Instant::now();
                let query = ActiveQuery { from_ms: active_from, to_ms: to, after, limit: MAX_VERSIONS_PER_CALL };
                let read = read_page(store, &query, grain, (from, to));
                busy += started.elapsed();
                let next = match read {
                    Ok((page, next)) if !page.versions.is_empty() => {
                        if pages_in.send(Ok(page)).is_err() {
                            break;
                        }
                        next
                    }
                    Ok(_) => None,
                    Err(e) => {
                        let _ = pages_in.send(Err(e));
                        None
                    }
                };
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            busy
        });
        let (updates_in, updates) = std::sync::mpsc::sync_channel::<Vec<HealthUpdate>>(1);
        let recorder = scope.spawn(move || -> StoreResult<(usize, usize, Duration)> {
            let (mut models, mut events, mut busy) = (0, 0, Duration::ZERO);
            for batch in updates {
                let started = Instant::now();
                events += store.record_health(&batch, to)?;
                busy += started.elapsed();
                models += batch.len();
            }
            Ok((models, events, busy))
        });
        let mut judging = Duration::ZERO;
        let mut failed = None;
        for page in pages {
            let started = Instant::now();
            let judged = page.and_then(|p| judge_page(store, &p, (from, pass), objectives, references));
            judging += started.elapsed();
            match judged {
                // A closed channel: the recorder failed; its error is answered below.
                Ok(batch) => {
                    if updates_in.send(batch).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(updates_in);
        let recorded = recorder.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let read = reader.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        if let Some(e) = failed {
            return Err(e);
        }
        let (models, events, record) = recorded?;
        Ok(PassReport { models, events, read, judge: judging, record })
    })
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
