//! The health checks one version's figures decide (issue 15, point 4):
//! traffic, error rate and p99 latency from a window's counts, data and
//! prediction drift from its drift counts, performance from its labeled
//! predictions (against the version's own earlier days, or a configured
//! objective), and staleness from the version's age and its training data.

use flotilla_drift::{DriftConfig, Verdict, Window};
use flotilla_store::health::{Check, CheckResult, Status};
use flotilla_store::monitor::{DAY_MS, ErrorCounts, FactDataset};

use crate::monitor::drift::VersionReference;
use crate::monitor::drift_read::verdict_of;
use crate::monitor::telemetry::stats::{Performance, latency_quantile_ms};

/// What the checks are judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objectives {
    /// Error rate at or above which a model warns, and fails.
    pub error_warn: f64,
    pub error_fail: f64,
    /// The p99 latency objective: above it a model warns, above twice it fails.
    pub p99_ms: f64,
    /// Performance worse than the version's earlier days by this share warns, and fails.
    pub performance_warn: f64,
    pub performance_fail: f64,
    /// Configured objectives: an RMSE above it fails; an accuracy below it fails.
    pub rmse_max: Option<f64>,
    pub accuracy_min: Option<f64>,
}

impl Default for Objectives {
    fn default() -> Self {
        Self {
            error_warn: 0.01,
            error_fail: 0.05,
            p99_ms: 1000.0,
            performance_warn: 0.1,
            performance_fail: 0.25,
            rmse_max: None,
            accuracy_min: None,
        }
    }
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

pub fn latency_check(latency: &[u64], objectives: &Objectives) -> CheckResult {
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

pub fn drift_status(v: Verdict) -> Status {
    match v {
        Verdict::Drift => Status::Fail,
        Verdict::NoDrift => Status::Ok,
        Verdict::NotEnoughData | Verdict::Incomparable => Status::Unknown,
    }
}

/// Data and prediction drift of a merged window (inputs, then outputs),
/// against the version's baseline traffic if it has one, else its reference.
pub fn drift_checks(
    reference: &VersionReference,
    window: &Window,
    outputs: &[String],
    config: &DriftConfig,
) -> Vec<CheckResult> {
    let Ok(drift) = reference.judge(window, config) else { return Vec::new() };
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

/// How much worse `now` is than `before` (a share; positive is worse):
/// RMSE up, or accuracy down.
fn worse_by(now: f64, before: f64, lower_is_better: bool) -> Option<f64> {
    if !(before.is_finite() && before > 0.0 && now.is_finite()) {
        return None;
    }
    Some(if lower_is_better { now / before - 1.0 } else { 1.0 - now / before })
}

/// The performance check of a day's labeled predictions: `None` without
/// labels. A configured objective decides when set; else the version's
/// own earlier days (`earlier`): worse by `performance_warn` warns, by
/// `performance_fail` fails; with neither, unknown (the value still shown).
pub fn performance_check(now: &Performance, earlier: Option<&Performance>, o: &Objectives) -> Option<CheckResult> {
    let (value, objective_met, change) = if let Some(rmse) = now.rmse() {
        let met = o.rmse_max.map(|max| rmse <= max);
        (rmse, met, earlier.and_then(Performance::rmse).and_then(|b| worse_by(rmse, b, true)))
    } else if let Some(accuracy) = now.accuracy() {
        let met = o.accuracy_min.map(|min| accuracy >= min);
        (accuracy, met, earlier.and_then(Performance::accuracy).and_then(|b| worse_by(accuracy, b, false)))
    } else {
        return None;
    };
    let status = match (objective_met, change) {
        (Some(false), _) => Status::Fail,
        (_, Some(c)) if c >= o.performance_fail => Status::Fail,
        (_, Some(c)) if c >= o.performance_warn => Status::Warn,
        (Some(true), _) | (None, Some(_)) => Status::Ok,
        (None, None) => Status::Unknown,
    };
    Some(CheckResult { check: Check::Performance, status, value: Some(value) })
}

/// Staleness: the version's age (warn past 180 days, fail past a year),
/// and its training data: a version trained on a dataset that has a newer
/// digest is stale by data (at least a warning).
pub fn staleness_check(created_ms: i64, now_ms: i64, datasets: &[FactDataset]) -> CheckResult {
    let days = (now_ms - created_ms) as f64 / DAY_MS as f64;
    let by_age = match days {
        d if d > 365.0 => Status::Fail,
        d if d > 180.0 => Status::Warn,
        _ => Status::Ok,
    };
    let by_data = if datasets.iter().any(|d| d.training && d.superseded) { Status::Warn } else { Status::Ok };
    CheckResult { check: Check::Staleness, status: by_age.max(by_data), value: Some(days) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regression(rmse: f64) -> Performance {
        Performance { regression: 10, sq_error: 10.0 * rmse * rmse, abs_error: 10.0 * rmse, ..Performance::default() }
    }

    fn classification(accuracy: f64) -> Performance {
        Performance { classified: 100, correct: (accuracy * 100.0) as u64, ..Performance::default() }
    }

    #[test]
    fn performance_against_history_and_objectives() {
        let o = Objectives::default();
        let status = |now: &Performance, before: Option<&Performance>, o: &Objectives| {
            performance_check(now, before, o).map(|c| c.status)
        };
        assert_eq!(status(&Performance::default(), None, &o), None, "no labels");
        assert_eq!(status(&regression(1.0), None, &o), Some(Status::Unknown), "nothing to compare with");
        assert_eq!(status(&regression(1.05), Some(&regression(1.0)), &o), Some(Status::Ok));
        assert_eq!(status(&regression(1.15), Some(&regression(1.0)), &o), Some(Status::Warn));
        assert_eq!(status(&regression(1.3), Some(&regression(1.0)), &o), Some(Status::Fail));
        assert_eq!(status(&regression(0.5), Some(&regression(1.0)), &o), Some(Status::Ok), "better");
        assert_eq!(status(&classification(0.85), Some(&classification(0.9)), &o), Some(Status::Ok));
        assert_eq!(status(&classification(0.7), Some(&classification(0.9)), &o), Some(Status::Warn));
        assert_eq!(status(&classification(0.6), Some(&classification(0.9)), &o), Some(Status::Fail));
        let objective = Objectives { rmse_max: Some(2.0), accuracy_min: Some(0.8), ..o };
        assert_eq!(status(&regression(1.9), None, &objective), Some(Status::Ok));
        assert_eq!(status(&regression(2.1), None, &objective), Some(Status::Fail));
        assert_eq!(status(&classification(0.75), Some(&classification(0.76)), &objective), Some(Status::Fail));
    }

    #[test]
    fn staleness_by_age_and_by_training_data() {
        let now = 1000 * DAY_MS;
        let data = |superseded: bool, training: bool| FactDataset {
            name: "d".into(),
            digest: "1".into(),
            training,
            profiled: false,
            superseded,
        };
        assert_eq!(staleness_check(now - 10 * DAY_MS, now, &[data(false, true)]).status, Status::Ok);
        assert_eq!(staleness_check(now - 10 * DAY_MS, now, &[data(true, true)]).status, Status::Warn, "by data");
        assert_eq!(staleness_check(now - 10 * DAY_MS, now, &[data(true, false)]).status, Status::Ok, "not training");
        assert_eq!(staleness_check(now - 200 * DAY_MS, now, &[]).status, Status::Warn);
        assert_eq!(staleness_check(now - 400 * DAY_MS, now, &[data(true, true)]).status, Status::Fail);
    }
}
