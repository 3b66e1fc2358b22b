//! Alerts (`/alerts`): the rules the caller may read (scope, check and
//! status, for how many windows, the webhook) and the recent delivery
//! attempts of those rules (outcome, attempt, response code), both paged.
//! Who reads which rule is `flotilla_app::monitor::alerts::may_read`, as
//! for the alerts API.

use axum::Extension;
use axum::extract::State;
use axum::http::Uri;
use flotilla_app::AppState;
use flotilla_app::auth::Caller;
use flotilla_app::monitor::alerts;
use flotilla_store::PageRequest;
use flotilla_store::alerts::{DeliveryQuery, Rule};
use maud::{Markup, html};
use serde_json::Value;

use super::{PAGE_SIZE, model_link, param, raw_query};
use crate::format;
use crate::layout::{PageError, PageResult, Section, pager, shell};

/// The rules the caller may read.
async fn readable_rules(s: &AppState, caller: Option<&Caller>) -> Result<Vec<Rule>, PageError> {
    let rules = s.call(|st| st.list_rules()).await?;
    let mut out = Vec::new();
    for r in rules {
        if alerts::may_read(s.auth.as_deref(), caller, &r.rule.scope).await? {
            out.push(r);
        }
    }
    Ok(out)
}

pub async fn page(State(s): State<AppState>, caller: Option<Extension<Caller>>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let caller = caller.map(|Extension(c)| c);
    let rules_from: usize = match param(&raw, "rules_from").filter(|v| !v.is_empty()) {
        Some(v) => {
            v.parse().map_err(|_| PageError::bad_request(format!("'rules_from' must be a number, got '{v}'")))?
        }
        None => 0,
    };
    let rule_filter: Option<i64> = match param(&raw, "rule").filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse().map_err(|_| PageError::bad_request(format!("'rule' must be a rule id, got '{v}'")))?),
        None => None,
    };
    let token = param(&raw, "page_token").filter(|t| !t.is_empty());
    let rules = readable_rules(&s, caller.as_ref()).await?;
    let everything = s.auth.is_none() || caller.as_ref().is_none_or(|c| c.is_admin);
    let mut q = DeliveryQuery {
        page: PageRequest { max_results: Some(PAGE_SIZE), page_token: token.clone() },
        ..DeliveryQuery::default()
    };
    q.rule_id = rule_filter;
    if !everything {
        q.rules = Some(rules.iter().map(|r| r.id).collect());
    }
    let deliveries = s.call(move |st| st.deliveries(&q)).await?;
    let shown: Vec<Value> = rules.iter().skip(rules_from).take(PAGE_SIZE as usize).map(alerts::rule_json).collect();
    let more_rules = rules.len() > rules_from + shown.len();
    let next = deliveries.next_page_token.clone();
    let deliveries: Vec<Value> = deliveries.items.iter().map(alerts::delivery_json).collect();
    let rule_param = rule_filter.map(|r| r.to_string());
    let mut pager_pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(r) = &rule_param {
        pager_pairs.push(("rule", r));
    }
    let body = html! {
        h1 { "Alerts" }
        section {
            h2 { "Rules" }
            @if shown.is_empty() { p.muted { "No alert rules you may read. Rules are made through the API (POST /api/monitor/v1/alerts/rules) or `flotilla monitor alerts`." } }
            @else {
                table.nav-rows.rules {
                    thead { tr { th { "rule" } th { "scope" } th { "check" } th { "status" } th.num { "for windows" } th { "target" } th { "enabled" } th { "created by" } th { "" } } }
                    tbody { @for r in &shown { (rule_row(r)) } }
                }
            }
            nav.pager aria-label="Rules" {
                @if rules_from > 0 { a href="/alerts" { "« First rules" } }
                @if more_rules {
                    a href=(format!("/alerts{}", format::query([("rules_from", (rules_from + shown.len()).to_string().as_str())]))) { "More rules ›" }
                }
            }
        }
        section id="deliveries" {
            h2 { "Recent deliveries" @if let Some(r) = rule_filter { " of rule " (r) " " a href="/alerts#deliveries" { "(all)" } } }
            @if deliveries.is_empty() { p.muted { "No deliveries yet." } }
            @else {
                table.nav-rows.deliveries {
                    thead { tr { th { "time (UTC)" } th { "rule" } th { "model" } th { "kind" } th { "outcome" } th.num { "attempt" } th.num { "response" } th.num { "ms" } th { "error" } } }
                    tbody {
                        @for d in &deliveries {
                            tr {
                                td.nowrap { (format::time(d["time"].as_i64().unwrap_or(0))) }
                                td { (d["rule_id"]) }
                                td { @if let Some(m) = d["model"].as_str() { (model_link(m)) } }
                                td { (text(&d["kind"])) }
                                td class=(outcome_class(d["outcome"].as_str().unwrap_or(""))) { (text(&d["outcome"])) }
                                td.num { (text(&d["attempt"])) }
                                td.num { (text(&d["status_code"])) }
                                td.num { (text(&d["duration_ms"])) }
                                td { (text(&d["error"])) }
                            }
                        }
                    }
                }
            }
            (pager("/alerts", &pager_pairs, token.as_deref(), next.as_deref()))
        }
    };
    Ok(shell("Alerts", Section::Alerts, &[("Alerts".into(), None)], body))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)) => other.to_string(),
    }
}

fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "delivered" | "ok" | "success" => "s-ok",
        "failed" | "gave_up" | "error" => "s-fail",
        _ => "s-warn",
    }
}

fn rule_row(r: &Value) -> Markup {
    let scope = match r["scope"].as_str().unwrap_or("") {
        "family" => format!("family {}", text(&r["family"])),
        "partition" => format!("family {} partition {}", text(&r["family"]), text(&r["partition"])),
        "model" => format!("model {}", text(&r["model"])),
        other => other.to_string(),
    };
    let id = r["id"].as_i64().unwrap_or(0);
    html! {
        tr {
            td { (text(&r["name"])) }
            td { (scope) }
            td { (text(&r["check"]).replace('_', " ")) }
            td { (text(&r["status"])) }
            td.num { (text(&r["windows"])) }
            td { code { (text(&r["webhook_url"])) } }
            td { @if r["enabled"].as_bool() == Some(true) { "yes" } @else { "no" } }
            td { (text(&r["created_by"])) }
            td { a href=(format!("/alerts{}#deliveries", format::query([("rule", id.to_string().as_str())]))) { "deliveries" } }
        }
    }
}
