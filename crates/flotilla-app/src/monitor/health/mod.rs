//! Fleet health (issue 15, point 4): the health API's query strings and
//! answers (shared by the server and the CLI), and the job that judges each
//! model's checks as its telemetry windows close ([`job`]). The roll-ups
//! themselves are the store's counters (`flotilla_store::health`), moved
//! as statuses change, so an answer is a read, not a count.

pub mod checks;
pub mod job;
#[cfg(test)]
mod job_tests;

use flotilla_core::Error;
use flotilla_store::health::{HealthCounts, HealthScope, HistoryPoint, WorstModel, WorstQuery};
use flotilla_store::{PageRequest, Store, StoreResult, Visible};
use serde_json::{Map, Value, json};

use super::alerts::key_value;

/// The longest history range one request reads.
pub const MAX_HISTORY_MS: i64 = 400 * 86_400_000;
/// The most history rows one answer holds (hours × checks × statuses).
pub const MAX_HISTORY_ROWS: usize = 50_000;

fn pairs(raw: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.trim().to_string()))
}

fn unknown(key: &str, known: &[&str]) -> Error {
    Error::invalid(format!("unknown parameter '{key}'; known: {}", known.join(", ")))
}

fn scope_of(family: Option<String>, partition: Option<String>, tag: Option<String>) -> Result<HealthScope, Error> {
    match (family, partition, tag) {
        (None, None, None) => Ok(HealthScope::Fleet),
        (Some(f), None, None) => Ok(HealthScope::Family(f)),
        (Some(family), Some(p), None) => {
            let (key, value) = key_value(&p, "partition")?;
            Ok(HealthScope::Partition { family, key, value })
        }
        (None, None, Some(t)) => {
            let (key, value) = key_value(&t, "tag")?;
            Ok(HealthScope::Tag { key, value })
        }
        (None, Some(_), _) => Err(Error::invalid("'partition' needs 'family'")),
        (Some(_), _, Some(_)) => Err(Error::invalid("give one scope: 'family' (with 'partition'), or 'tag'")),
    }
}

/// `GET /api/monitor/v1/health?family=&partition=key=value&tag=key=value&max_results=&page_token=`.
pub fn health_query(raw: &str) -> Result<(HealthScope, PageRequest), Error> {
    const KNOWN: &[&str] = &["family", "partition", "tag", "max_results", "page_token"];
    let (mut family, mut partition, mut tag) = (None, None, None);
    let mut page = PageRequest::default();
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "family" => family = Some(v).filter(|v| !v.is_empty()),
            "partition" => partition = Some(v).filter(|v| !v.is_empty()),
            "tag" => tag = Some(v).filter(|v| !v.is_empty()),
            "max_results" => {
                let n: i64 =
                    v.parse().map_err(|_| Error::invalid(format!("'max_results' must be an integer, got '{v}'")))?;
                if !(1..=flotilla_store::health::MAX_WORST).contains(&n) {
                    return Err(Error::invalid(format!(
                        "'max_results' must be 1 to {}, got {n}",
                        flotilla_store::health::MAX_WORST
                    )));
                }
                page.max_results = Some(n);
            }
            "page_token" => page.page_token = Some(v),
            other => return Err(unknown(other, KNOWN)),
        }
    }
    Ok((scope_of(family, partition, tag)?, page))
}

/// `GET /api/monitor/v1/health/history?family=&from=&to=` (ms since the epoch).
pub fn history_query(raw: &str) -> Result<(HealthScope, i64, i64), Error> {
    const KNOWN: &[&str] = &["family", "from", "to"];
    let (mut family, mut from, mut to) = (None, None, None);
    let ms = |k: &str, v: &str| {
        v.parse::<i64>().map_err(|_| Error::invalid(format!("'{k}' must be milliseconds since the epoch, got '{v}'")))
    };
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "family" => family = Some(v).filter(|v| !v.is_empty()),
            "from" => from = Some(ms(&k, &v)?),
            "to" => to = Some(ms(&k, &v)?),
            other => return Err(unknown(other, KNOWN)),
        }
    }
    let to = to.unwrap_or_else(super::alerts_delivery::now_ms);
    let from = from.unwrap_or(to - 7 * 86_400_000);
    check_range(from, to, MAX_HISTORY_MS)?;
    Ok((family.map_or(HealthScope::Fleet, HealthScope::Family), from, to))
}

/// A range `[from, to)` must be ordered and at most `max` long.
pub fn check_range(from: i64, to: i64, max: i64) -> Result<(), Error> {
    if from >= to {
        return Err(Error::invalid(format!("'from' ({from}) must be before 'to' ({to})")));
    }
    if to.saturating_sub(from) > max {
        return Err(Error::invalid(format!("the range is longer than {} days", max / 86_400_000)));
    }
    Ok(())
}

fn scope_json(scope: &HealthScope) -> Value {
    match scope {
        HealthScope::Fleet => json!({ "scope": "fleet" }),
        HealthScope::Family(f) => json!({ "scope": "family", "family": f }),
        HealthScope::Partition { family, key, value } => {
            json!({ "scope": "partition", "family": family, "partition": format!("{key}={value}") })
        }
        HealthScope::Tag { key, value } => json!({ "scope": "tag", "tag": format!("{key}={value}") }),
    }
}

/// `{check: {ok: n, warn: n, fail: n, unknown: n}}` with every check present.
fn counts_json(counts: &HealthCounts) -> Value {
    let mut out = Map::new();
    for check in flotilla_store::health::Check::ALL {
        let mut row = Map::new();
        for status in flotilla_store::health::Status::ALL {
            let n = counts.counts.iter().find(|c| c.check == check && c.status == status).map_or(0, |c| c.models);
            row.insert(status.as_str().into(), json!(n));
        }
        out.insert(check.as_str().into(), Value::Object(row));
    }
    Value::Object(out)
}

pub fn checks_json(checks: &[flotilla_store::health::CheckResult]) -> Value {
    let mut out = Map::new();
    for c in checks {
        out.insert(c.check.as_str().into(), json!({ "status": c.status.as_str(), "value": c.value }));
    }
    Value::Object(out)
}

fn worst_json(w: &WorstModel) -> Value {
    json!({ "model": w.name, "family": w.family, "score": w.score, "checks": checks_json(&w.checks) })
}

/// The health answer: counts per check and status, and a page of the worst models.
pub fn health_answer(store: &dyn Store, scope: HealthScope, page: PageRequest, visible: Visible) -> StoreResult<Value> {
    let counts = store.health_counts(&scope, &visible)?;
    let worst = store.worst_models(&WorstQuery { scope: Some(scope.clone()), page, visible })?;
    let mut answer = scope_json(&scope);
    answer["counts"] = counts_json(&counts);
    answer["partial"] = json!(counts.partial);
    answer["worst"] = Value::Array(worst.items.iter().map(worst_json).collect());
    if let Some(t) = worst.next_page_token {
        answer["next_page_token"] = json!(t);
    }
    Ok(answer)
}

/// The history answer: one point per hour with its counts.
pub fn history_answer(store: &dyn Store, scope: HealthScope, from: i64, to: i64) -> StoreResult<Value> {
    let points = store.health_history(&scope, from, to, MAX_HISTORY_ROWS)?;
    let truncated = points.len() >= MAX_HISTORY_ROWS;
    let mut hours: Vec<(i64, Vec<&HistoryPoint>)> = Vec::new();
    for p in &points {
        match hours.last_mut() {
            Some((h, v)) if *h == p.hour => v.push(p),
            Some(_) | None => hours.push((p.hour, vec![p])),
        }
    }
    let hours: Vec<Value> = hours
        .into_iter()
        .map(|(hour, ps)| {
            let counts = HealthCounts {
                counts: ps
                    .iter()
                    .map(|p| flotilla_store::health::HealthCount { check: p.check, status: p.status, models: p.models })
                    .collect(),
                partial: false,
            };
            json!({ "hour": hour, "counts": counts_json(&counts) })
        })
        .collect();
    let mut answer = scope_json(&scope);
    answer["from"] = json!(from);
    answer["to"] = json!(to);
    answer["hours"] = Value::Array(hours);
    answer["truncated"] = json!(truncated);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_strictly() {
        assert_eq!(health_query("").unwrap().0, HealthScope::Fleet);
        assert_eq!(health_query("family=demand").unwrap().0, HealthScope::Family("demand".into()));
        assert!(matches!(health_query("family=d&partition=region=west").unwrap().0, HealthScope::Partition { .. }));
        for bad in ["partition=a=b", "family=d&tag=a=b", "tag=nope", "max_results=0", "max_results=x", "fmaily=d"] {
            assert!(health_query(bad).is_err(), "{bad}");
        }
        assert!(history_query("from=10&to=5").is_err());
        assert!(history_query("from=0&to=99999999999999").is_err());
        assert_eq!(history_query("family=d&from=0&to=10").unwrap(), (HealthScope::Family("d".into()), 0, 10));
    }
}
