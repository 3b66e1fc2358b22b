//! Alerts (issue 15, point 5): the rules' JSON contract shared by the server
//! and the CLI, who may manage and read them (MANAGE on the scope: the
//! family for family and partition rules, the model for model rules, an
//! admin for the fleet), and the delivery of their events to webhooks
//! ([`super::alerts_delivery`]).

use flotilla_core::Error;
use flotilla_store::alerts::{Delivery, NewRule, Rule, RuleScope};
use flotilla_store::health::{Check, Status};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Authenticator, Caller, Permission, Resource, denied};

/// The most consecutive windows a rule may wait for.
pub const MAX_WINDOWS: i64 = 10_000;
const MAX_NAME: usize = 256;
const MAX_URL: usize = 2048;
const MAX_SECRET: usize = 1024;

/// A rule as `POST` and `PUT /api/monitor/v1/alerts/rules` take it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub name: String,
    /// fleet, family, partition or model.
    pub scope: String,
    #[serde(default)]
    pub family: Option<String>,
    /// `key=value`, with `family`.
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    pub check: String,
    /// warn or fail: the status at or above which a window counts.
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default = "default_windows")]
    pub windows: i64,
    pub webhook_url: String,
    pub secret: String,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_status() -> String {
    "fail".into()
}
fn default_windows() -> i64 {
    1
}
fn default_enabled() -> bool {
    true
}

fn required(v: Option<String>, what: &str, scope: &str) -> Result<String, Error> {
    v.filter(|v| !v.is_empty()).ok_or_else(|| Error::invalid(format!("a {scope} rule needs '{what}'")))
}

/// `key=value`, both non-empty.
pub fn key_value(s: &str, what: &str) -> Result<(String, String), Error> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        Some(_) | None => Err(Error::invalid(format!("'{what}' must be key=value, got '{s}'"))),
    }
}

/// The rule a body describes, checked.
pub fn parse_rule(body: RuleBody) -> Result<NewRule, Error> {
    let extra = |what: &str, v: &Option<String>| {
        if v.is_some() { Err(Error::invalid(format!("a {} rule takes no '{what}'", body.scope))) } else { Ok(()) }
    };
    let scope = match body.scope.as_str() {
        "fleet" => {
            extra("family", &body.family)?;
            extra("partition", &body.partition)?;
            extra("model", &body.model)?;
            RuleScope::Fleet
        }
        "family" => {
            extra("partition", &body.partition)?;
            extra("model", &body.model)?;
            RuleScope::Family(required(body.family.clone(), "family", "family")?)
        }
        "partition" => {
            extra("model", &body.model)?;
            let family = required(body.family.clone(), "family", "partition")?;
            let (key, value) = key_value(&required(body.partition.clone(), "partition", "partition")?, "partition")?;
            RuleScope::Partition { family, key, value }
        }
        "model" => {
            extra("family", &body.family)?;
            extra("partition", &body.partition)?;
            RuleScope::Model(required(body.model.clone(), "model", "model")?)
        }
        other => {
            return Err(Error::invalid(format!("'scope' must be fleet, family, partition or model, got '{other}'")));
        }
    };
    let check = Check::parse(&body.check).ok_or_else(|| {
        let known: Vec<_> = Check::ALL.iter().map(|c| c.as_str()).collect();
        Error::invalid(format!("unknown check '{}'; known: {}", body.check, known.join(", ")))
    })?;
    let status = match Status::parse(&body.status) {
        Some(s @ (Status::Warn | Status::Fail)) => s,
        Some(Status::Ok | Status::Unknown) | None => {
            return Err(Error::invalid(format!("'status' must be warn or fail, got '{}'", body.status)));
        }
    };
    if !(1..=MAX_WINDOWS).contains(&body.windows) {
        return Err(Error::invalid(format!("'windows' must be 1 to {MAX_WINDOWS}, got {}", body.windows)));
    }
    if body.name.trim().is_empty() || body.name.len() > MAX_NAME {
        return Err(Error::invalid(format!("'name' must be 1 to {MAX_NAME} bytes")));
    }
    let url = body.webhook_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url.len() > MAX_URL
        || url.contains(char::is_whitespace)
    {
        return Err(Error::invalid(format!(
            "'webhook_url' must be an http:// or https:// URL of at most {MAX_URL} bytes"
        )));
    }
    if body.secret.is_empty() || body.secret.len() > MAX_SECRET {
        return Err(Error::invalid(format!("'secret' must be 1 to {MAX_SECRET} bytes")));
    }
    Ok(NewRule {
        name: body.name,
        scope,
        check,
        status,
        windows: body.windows,
        webhook_url: url.to_string(),
        secret: body.secret,
        enabled: body.enabled,
    })
}

fn scope_json(scope: &RuleScope) -> Value {
    match scope {
        RuleScope::Fleet => json!({ "scope": "fleet" }),
        RuleScope::Family(f) => json!({ "scope": "family", "family": f }),
        RuleScope::Partition { family, key, value } => {
            json!({ "scope": "partition", "family": family, "partition": format!("{key}={value}") })
        }
        RuleScope::Model(m) => json!({ "scope": "model", "model": m }),
    }
}

/// A rule as answered (never its secret).
pub fn rule_json(rule: &Rule) -> Value {
    let mut v = scope_json(&rule.rule.scope);
    let r = &rule.rule;
    for (k, x) in [
        ("id", json!(rule.id)),
        ("name", json!(r.name)),
        ("check", json!(r.check.as_str())),
        ("status", json!(r.status.as_str())),
        ("windows", json!(r.windows)),
        ("webhook_url", json!(r.webhook_url)),
        ("enabled", json!(r.enabled)),
        ("created", json!(rule.created)),
        ("created_by", json!(rule.created_by)),
    ] {
        v[k] = x;
    }
    v
}

pub fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id, "event_id": d.event_id, "rule_id": d.rule_id, "model": d.model, "kind": d.kind,
        "dedup_key": d.dedup_key, "attempt": d.attempt, "time": d.time, "status_code": d.status_code,
        "error": d.error, "outcome": d.outcome, "duration_ms": d.duration_ms,
    })
}

/// The level `caller` holds on a rule's scope (MANAGE everywhere for
/// admins and without authentication; the fleet is an admin's alone).
pub async fn level(
    auth: Option<&Authenticator>,
    caller: Option<&Caller>,
    scope: &RuleScope,
) -> Result<Permission, Error> {
    let (Some(auth), Some(caller)) = (auth, caller) else { return Ok(Permission::Manage) };
    if caller.is_admin {
        return Ok(Permission::Manage);
    }
    Ok(match scope {
        RuleScope::Fleet => Permission::Read,
        RuleScope::Family(f) | RuleScope::Partition { family: f, .. } => auth.level(caller, Resource::Family(f)),
        RuleScope::Model(m) => auth.model_level(caller, m).await?,
    })
}

/// `Ok` when `caller` may create, change or delete a rule of `scope`.
pub async fn may_manage(auth: Option<&Authenticator>, caller: Option<&Caller>, scope: &RuleScope) -> Result<(), Error> {
    let (Some(_), Some(c)) = (auth, caller) else { return Ok(()) };
    if matches!(scope, RuleScope::Fleet) && !c.is_admin {
        return Err(Error::permission_denied("Permission denied: fleet-wide alert rules are an admin's"));
    }
    if level(auth, caller, scope).await?.allows(Permission::Manage) { Ok(()) } else { Err(denied()) }
}

/// Whether `caller` may see a rule of `scope` (and its deliveries): READ on
/// it (fleet rules are read by everyone authenticated).
pub async fn may_read(auth: Option<&Authenticator>, caller: Option<&Caller>, scope: &RuleScope) -> Result<bool, Error> {
    Ok(level(auth, caller, scope).await?.allows(Permission::Read))
}
