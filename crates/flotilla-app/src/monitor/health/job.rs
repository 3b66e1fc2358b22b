//! The health job: when a telemetry window closes (after the flush that
//! writes it), every version with telemetry in it is judged — traffic and
//! error rate from the window's counts — and the statuses recorded, which
//! moves the roll-ups and judges the alert rules in the same transaction;
//! new alert events wake the delivery task. Once an hour the roll-ups are
//! copied into their history. The fleet is walked a page of versions at a
//! time on the blocking pool, one store transaction per page.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use flotilla_store::Store;
use flotilla_store::StoreResult;
use flotilla_store::health::{Check, CheckResult, HealthUpdate, Status};
use flotilla_store::monitor::{ActiveQuery, ErrorCounts, Grain, HOUR_MS, MAX_VERSIONS_PER_CALL};
use tokio::sync::Notify;

use crate::monitor::alerts_delivery::now_ms;

/// What the checks are judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objectives {
    /// Error rate at or above which a model warns, and fails.
    pub error_warn: f64,
    pub error_fail: f64,
}

impl Default for Objectives {
    fn default() -> Self {
        Self { error_warn: 0.01, error_fail: 0.05 }
    }
}

/// The checks one window's counts decide.
pub fn window_checks(requests: u64, errors: &ErrorCounts, objectives: &Objectives) -> Vec<CheckResult> {
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

/// Judges every version with telemetry in the base windows of `[from, to)`
/// and records the statuses; answers (models judged, alert events made).
pub fn judge_windows(store: &dyn Store, from: i64, to: i64, objectives: &Objectives) -> StoreResult<(usize, usize)> {
    let mut after = None;
    let (mut judged, mut events) = (0, 0);
    loop {
        let page =
            store.active_versions(&ActiveQuery { from_ms: from, to_ms: to, after, limit: MAX_VERSIONS_PER_CALL })?;
        if page.versions.is_empty() {
            break;
        }
        let keys: Vec<_> = page.versions.iter().map(|v| (v.rm_id, v.version)).collect();
        let windows = store.windows_of(&keys, Grain::Base, from, to)?;
        // Per model, every version's traffic together.
        let mut per_model: BTreeMap<i64, (String, u64, ErrorCounts)> = BTreeMap::new();
        for v in &page.versions {
            per_model.entry(v.rm_id).or_insert_with(|| (v.model.clone(), 0, ErrorCounts::default()));
        }
        for w in &windows.rows {
            if let Some(m) = per_model.get_mut(&w.rm_id) {
                m.1 += w.requests;
                m.2.add(&w.errors);
            }
        }
        let updates: Vec<HealthUpdate> = per_model
            .into_values()
            .map(|(model, requests, errors)| HealthUpdate {
                model,
                checks: window_checks(requests, &errors, objectives),
            })
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

/// Runs the job until the runtime stops: `grace` after each base window of
/// `window_ms` closes (time for the telemetry flush), and the hourly snapshot.
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
        loop {
            let now = now_ms();
            let end = now.div_euclid(window_ms) * window_ms + window_ms;
            let wait = (end - now).max(0) as u64 + grace.as_millis() as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let s = Arc::clone(&store);
            let judged =
                tokio::task::spawn_blocking(move || judge_windows(s.as_ref(), end - window_ms, end, &objectives)).await;
            match judged {
                Ok(Ok((models, events))) => {
                    tracing::debug!(models, events, window_end = end, "health judged");
                    if events > 0 {
                        wake.notify_one();
                    }
                }
                Ok(Err(e)) => tracing::error!(error = %e, "health job failed"),
                Err(e) => tracing::error!(error = %e, "health job panicked"),
            }
            let hour = end.div_euclid(HOUR_MS) * HOUR_MS;
            if hour > last_hour {
                last_hour = hour;
                let s = Arc::clone(&store);
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.snapshot_health(hour)).await {
                    tracing::error!(error = %e, "health history snapshot failed");
                }
            }
        }
    })
}
