//! Scheduled reports (issue 16, point 4): a rule says how often (`daily`,
//! `weekly`) a report of which scope is made; each report's HTML is put in
//! the artifact store and a webhook is told its link, signed like alert
//! deliveries (`X-Flotilla-Signature: t=..,v1=HMAC-SHA256(secret,
//! "t.body")`, the same [`signature`]). Rules come from `flotilla server
//! --report 'weekly: family=demand'` or from the native API.
//!
//! Who may: a scheduled report is computed over the whole scope (as the
//! server), so a rule on a family or partition needs MANAGE on the family
//! and its reports READ on it; fleet and tag rules and their reports are an
//! admin's.

use flotilla_core::Error;
use flotilla_store::report::{NewSchedule, ReportRun, Schedule};
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{ReportScope, date, report_query};
use crate::auth::{Authenticator, Caller, Permission, Resource, denied};
use crate::monitor::alerts_delivery::signature;

const DAY_MS: i64 = 86_400_000;
const MAX_NAME: usize = 200;
const MAX_URL: usize = 2048;
const MAX_SECRET: usize = 256;

/// How often a rule makes a report; the report covers the same length of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Daily,
    Weekly,
}

impl Every {
    pub fn parse(s: &str) -> Result<Every, Error> {
        match s.trim() {
            "daily" => Ok(Every::Daily),
            "weekly" => Ok(Every::Weekly),
            other => Err(Error::invalid(format!("a report schedule is 'daily' or 'weekly', got '{other}'"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Every::Daily => "daily",
            Every::Weekly => "weekly",
        }
    }

    /// The period between two reports, ms.
    pub fn period_ms(self) -> i64 {
        match self {
            Every::Daily => DAY_MS,
            Every::Weekly => 7 * DAY_MS,
        }
    }

    /// The report's `last=` value.
    pub fn last(self) -> &'static str {
        match self {
            Every::Daily => "1d",
            Every::Weekly => "7d",
        }
    }
}

/// A rule understood: how often, the scope's query string and its family.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub every: Every,
    pub query: String,
    pub scope: ReportScope,
    pub webhook_url: String,
}

fn check_url(url: &str) -> Result<(), Error> {
    if url.is_empty() {
        return Ok(());
    }
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url.len() > MAX_URL
        || url.contains(char::is_whitespace)
    {
        return Err(Error::invalid(format!(
            "'webhook_url' must be an http:// or https:// URL of at most {MAX_URL} bytes"
        )));
    }
    Ok(())
}

/// Understands a scope and a webhook into a rule (the scope checked as a report query).
pub fn rule(every: Every, scope: &[(&str, &str)], webhook_url: &str, now: i64) -> Result<Rule, Error> {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(scope.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    for (k, _) in scope {
        if !matches!(*k, "family" | "partition" | "tag") {
            return Err(Error::invalid(format!("a report schedule's scope is family=, partition= or tag=, got '{k}'")));
        }
    }
    let req = report_query(&format!("{query}&last={}", every.last()), now)?;
    check_url(webhook_url.trim())?;
    Ok(Rule { every, query, scope: req.scope, webhook_url: webhook_url.trim().to_string() })
}

/// `weekly: family=demand partition=store=s01 webhook=https://…` (the
/// server's `--report`): how often, then `key=value` words (spaces or commas).
pub fn parse_flag(text: &str, now: i64) -> Result<Rule, Error> {
    let (every, rest) = text
        .split_once(':')
        .ok_or_else(|| Error::invalid(format!("--report must look like 'weekly: family=demand', got '{text}'")))?;
    let every = Every::parse(every)?;
    let mut scope = Vec::new();
    let mut webhook = "";
    for word in rest.split([' ', ',']).filter(|w| !w.is_empty()) {
        let (k, v) =
            word.split_once('=').ok_or_else(|| Error::invalid(format!("--report: '{word}' is not key=value")))?;
        match k {
            "webhook" => webhook = v,
            _ => scope.push((k, v)),
        }
    }
    rule(every, &scope, webhook, now)
}

/// The name a `--report` rule is kept under (stable across restarts).
pub fn flag_name(r: &Rule) -> String {
    let scope = if r.query.is_empty() { "fleet".to_string() } else { r.query.clone() };
    format!("{}: {scope}", r.every.as_str())
}

/// The rule as the store keeps it, its first report due at `next_run`.
pub fn new_schedule(
    name: &str,
    r: &Rule,
    secret: &str,
    origin: &str,
    by: &str,
    next_run: i64,
) -> Result<NewSchedule, Error> {
    if name.trim().is_empty() || name.len() > MAX_NAME {
        return Err(Error::invalid(format!("'name' must be 1 to {MAX_NAME} bytes")));
    }
    if secret.len() > MAX_SECRET || (!r.webhook_url.is_empty() && secret.is_empty() && origin == "api") {
        return Err(Error::invalid(format!("'secret' must be 1 to {MAX_SECRET} bytes when a webhook is given")));
    }
    Ok(NewSchedule {
        name: name.trim().to_string(),
        every: r.every.as_str().to_string(),
        query: r.query.clone(),
        family: r.scope.family().unwrap_or_default().to_string(),
        webhook_url: r.webhook_url.clone(),
        secret: secret.to_string(),
        origin: origin.to_string(),
        created_by: by.to_string(),
        next_run,
    })
}

/// The API's body for a new rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    pub name: String,
    pub every: String,
    #[serde(default)]
    pub family: String,
    #[serde(default)]
    pub partition: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub webhook_url: String,
    #[serde(default)]
    pub secret: String,
}

/// A body understood into a rule to keep; its first report is due at once.
pub fn parse_body(b: &ScheduleBody, by: &str, now: i64) -> Result<NewSchedule, Error> {
    let every = Every::parse(&b.every)?;
    let scope = [("family", b.family.as_str()), ("partition", b.partition.as_str()), ("tag", b.tag.as_str())];
    let r = rule(every, &scope, &b.webhook_url, now)?;
    new_schedule(&b.name, &r, &b.secret, "api", by, now)
}

/// The level `caller` holds on the reports of a scope's family (`""`: the fleet or a tag, an admin's).
pub fn level(auth: Option<&Authenticator>, caller: Option<&Caller>, family: &str) -> Permission {
    let (Some(auth), Some(caller)) = (auth, caller) else { return Permission::Manage };
    if caller.is_admin {
        return Permission::Manage;
    }
    if family.is_empty() { Permission::Deny } else { auth.level(caller, Resource::Family(family)) }
}

/// `Ok` when `caller` may make or delete a rule on `family`'s scope.
pub fn may_manage(auth: Option<&Authenticator>, caller: Option<&Caller>, family: &str) -> Result<(), Error> {
    if level(auth, caller, family).allows(Permission::Manage) {
        return Ok(());
    }
    if family.is_empty() {
        return Err(Error::permission_denied("Permission denied: fleet-wide and tag report schedules are an admin's"));
    }
    Err(denied())
}

/// Whether `caller` may see a rule or report of `family`'s scope.
pub fn may_read(auth: Option<&Authenticator>, caller: Option<&Caller>, family: &str) -> bool {
    level(auth, caller, family).allows(Permission::Read)
}

/// A rule as the API shows it (never its secret).
pub fn schedule_json(s: &Schedule) -> Value {
    json!({
        "id": s.id, "name": s.name, "every": s.every, "query": s.query, "family": s.family,
        "webhook_url": s.webhook_url, "origin": s.origin, "created": s.created, "created_by": s.created_by,
        "next_run": s.next_run,
    })
}

/// Where a made report is read: the UI's link.
pub fn run_link(run: i64) -> String {
    format!("/reports/scheduled/{run}")
}

pub fn run_json(r: &ReportRun) -> Value {
    json!({
        "id": r.id, "schedule_id": r.schedule_id, "name": r.name, "query": r.query, "family": r.family,
        "time": r.time, "date": date(r.time), "artifact_path": r.path, "bytes": r.bytes, "error": r.error,
        "notified": r.notified, "link": run_link(r.id),
    })
}

/// The artifact path of a schedule's report made at `time`.
pub fn artifact_path(schedule: i64, time: i64) -> String {
    format!("reports/schedule-{schedule}/{}-{time}.html", date(time))
}

/// The webhook's body and headers for a made report: the absolute link.
pub fn notification(
    s: &Schedule,
    run: &ReportRun,
    base_url: &str,
    now_s: i64,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let body = json!({
        "kind": "report", "schedule_id": s.id, "schedule": s.name, "run_id": run.id, "query": s.query,
        "time": run.time, "link": format!("{}{}", base_url.trim_end_matches('/'), run_link(run.id)),
        "artifact_path": run.path, "bytes": run.bytes,
    })
    .to_string()
    .into_bytes();
    let headers = vec![
        ("content-type", "application/json".to_string()),
        (
            crate::monitor::alerts_delivery::SIGNATURE_HEADER,
            format!("t={now_s},v1={}", signature(s.secret.as_bytes(), now_s, &body)),
        ),
        (crate::monitor::alerts_delivery::DEDUP_HEADER, format!("report-{}", run.id)),
    ];
    (headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000;

    #[test]
    fn flags_are_understood_and_bad_ones_refused() {
        let r = parse_flag("weekly: family=demand partition=store=s01 webhook=http://h/x", NOW).unwrap();
        assert_eq!(r.every, Every::Weekly);
        assert_eq!(r.query, "family=demand&partition=store%3Ds01");
        assert_eq!(r.webhook_url, "http://h/x");
        assert_eq!(flag_name(&r), "weekly: family=demand&partition=store%3Ds01");
        assert_eq!(parse_flag("daily:", NOW).unwrap().scope, ReportScope::Fleet);
        assert!(parse_flag("hourly: family=x", NOW).is_err());
        assert!(parse_flag("weekly family=x", NOW).is_err());
        assert!(parse_flag("weekly: colour=red", NOW).is_err());
        assert!(parse_flag("weekly: partition=a=b", NOW).is_err());
        assert!(parse_flag("weekly: family=x webhook=ftp://h", NOW).is_err());
    }
}
