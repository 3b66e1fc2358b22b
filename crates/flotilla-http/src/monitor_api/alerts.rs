//! Alert rules (`/alerts/rules`, CRUD: MANAGE on the rule's scope, an admin
//! for the fleet's) and delivery attempts (`/alerts/deliveries`, of the
//! rules the caller may read). Who may is `flotilla_app::monitor::alerts`'s.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use flotilla_app::monitor::alerts::{self, RuleBody};
use flotilla_core::Error;
use flotilla_store::PageRequest;
use flotilla_store::alerts::DeliveryQuery;
use serde_json::{Value, json};

use super::CallerOf;
use crate::AppState;
use crate::error::ApiResult;
use crate::wire::Mlflow;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/monitor/v1/alerts/rules", get(list_rules).post(create_rule))
        .route("/api/monitor/v1/alerts/rules/{id}", get(get_rule).put(update_rule).delete(delete_rule))
        .route("/api/monitor/v1/alerts/deliveries", get(deliveries))
}

fn rule_id(raw: &str) -> Result<i64, Error> {
    raw.parse().map_err(|_| Error::invalid(format!("a rule id is an integer, got '{raw}'")))
}

async fn readable_rules(s: &AppState, caller: &CallerOf) -> ApiResult<Vec<flotilla_store::alerts::Rule>> {
    let rules = s.call(|st| st.list_rules()).await?;
    let mut out = Vec::new();
    for r in rules {
        if alerts::may_read(s.auth.as_deref(), caller.0.as_ref(), &r.rule.scope).await? {
            out.push(r);
        }
    }
    Ok(out)
}

async fn list_rules(State(s): State<AppState>, caller: CallerOf) -> ApiResult<Json<Value>> {
    let rules = readable_rules(&s, &caller).await?;
    Ok(Json(json!({ "rules": rules.iter().map(alerts::rule_json).collect::<Vec<_>>() })))
}

async fn create_rule(
    State(s): State<AppState>,
    caller: CallerOf,
    Mlflow(body): Mlflow<RuleBody>,
) -> ApiResult<Json<Value>> {
    let rule = alerts::parse_rule(body)?;
    alerts::may_manage(s.auth.as_deref(), caller.0.as_ref(), &rule.scope).await?;
    let by = caller.0.as_ref().map(|c| c.username.clone()).unwrap_or_default();
    let made = s.call(move |st| st.create_rule(&rule, &by)).await?;
    Ok(Json(json!({ "rule": alerts::rule_json(&made) })))
}

async fn get_rule(State(s): State<AppState>, caller: CallerOf, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = rule_id(&id)?;
    let rule = s.call(move |st| st.get_rule(id)).await?;
    if !alerts::may_read(s.auth.as_deref(), caller.0.as_ref(), &rule.rule.scope).await? {
        return Err(flotilla_app::auth::denied().into());
    }
    Ok(Json(json!({ "rule": alerts::rule_json(&rule) })))
}

/// MANAGE on the rule's scope as it was and as it becomes.
async fn update_rule(
    State(s): State<AppState>,
    caller: CallerOf,
    Path(id): Path<String>,
    Mlflow(body): Mlflow<RuleBody>,
) -> ApiResult<Json<Value>> {
    let id = rule_id(&id)?;
    let rule = alerts::parse_rule(body)?;
    let old = s.call(move |st| st.get_rule(id)).await?;
    alerts::may_manage(s.auth.as_deref(), caller.0.as_ref(), &old.rule.scope).await?;
    alerts::may_manage(s.auth.as_deref(), caller.0.as_ref(), &rule.scope).await?;
    let made = s.call(move |st| st.update_rule(id, &rule)).await?;
    Ok(Json(json!({ "rule": alerts::rule_json(&made) })))
}

async fn delete_rule(State(s): State<AppState>, caller: CallerOf, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = rule_id(&id)?;
    let old = s.call(move |st| st.get_rule(id)).await?;
    alerts::may_manage(s.auth.as_deref(), caller.0.as_ref(), &old.rule.scope).await?;
    s.call(move |st| st.delete_rule(id)).await?;
    Ok(Json(json!({})))
}

/// `?rule=ID&max_results=&page_token=`, newest first.
async fn deliveries(State(s): State<AppState>, caller: CallerOf, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let mut q = DeliveryQuery { page: PageRequest::default(), ..DeliveryQuery::default() };
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "rule" => q.rule_id = Some(rule_id(&v)?),
            "max_results" => {
                let n: i64 =
                    v.parse().map_err(|_| Error::invalid(format!("'max_results' must be an integer, got '{v}'")))?;
                if !(1..=1000).contains(&n) {
                    return Err(Error::invalid(format!("'max_results' must be 1 to 1000, got {n}")).into());
                }
                q.page.max_results = Some(n);
            }
            "page_token" => q.page.page_token = Some(v.into_owned()),
            other => {
                return Err(Error::invalid(format!(
                    "unknown parameter '{other}'; known: rule, max_results, page_token"
                ))
                .into());
            }
        }
    }
    let everything = caller.0.as_ref().is_none_or(|c| c.is_admin) || s.auth.is_none();
    if !everything {
        q.rules = Some(readable_rules(&s, &caller).await?.iter().map(|r| r.id).collect());
    }
    let page = s.call(move |st| st.deliveries(&q)).await?;
    Ok(Json(json!({
        "deliveries": page.items.iter().map(alerts::delivery_json).collect::<Vec<_>>(),
        "next_page_token": page.next_page_token,
    })))
}
