//! The audit log of alias changes (who, when, from, to, why), filterable by
//! model and batch, with rollback of a whole batch.

use axum::Form;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Redirect;
use flotilla_app::AppState;
use flotilla_core::VersionNumber;
use flotilla_store::PageRequest;
use flotilla_store::fleet::{AliasEvent, AuditQuery};
use maud::{Markup, html};
use serde::Deserialize;

use super::{PAGE_SIZE, model_link, param, raw_query};
use crate::csrf::{self, CsrfToken};
use crate::format;
use crate::layout::{PageError, PageResult, Section, pager, shell};

fn version(v: Option<VersionNumber>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("v{v}"))
}

/// Events, newest first.
pub fn events_table(events: &[AliasEvent]) -> Markup {
    if events.is_empty() {
        return html! { p.muted { "No alias changes recorded." } };
    }
    html! {
        table.nav-rows.audit {
            thead { tr { th { "time (UTC)" } th { "batch" } th { "kind" } th { "who" } th { "model" } th { "alias" } th { "from" } th { "to" } th { "why" } } }
            tbody {
                @for e in events {
                    tr {
                        td.nowrap { (format::time(e.time)) }
                        td { a href=(format!("/audit?batch={}", e.batch_id)) { "#" (e.batch_id) } }
                        td { (e.kind) }
                        td {
                            (e.actor)
                            @if !e.actor_verified { " " span.muted title="named by the caller, not established by authentication" { "(unverified)" } }
                        }
                        td { (model_link(&e.model)) }
                        td { (e.alias) }
                        td { (version(e.from)) }
                        td { (version(e.to)) }
                        td { (e.reason) }
                    }
                }
            }
        }
    }
}

pub async fn page(State(s): State<AppState>, Extension(token): Extension<CsrfToken>, uri: Uri) -> PageResult {
    let q = raw_query(&uri);
    let model = param(&q, "model").filter(|m| !m.is_empty());
    let batch = match param(&q, "batch").filter(|b| !b.is_empty()) {
        Some(b) => Some(b.parse::<i64>().map_err(|_| PageError::bad_request(format!("batch '{b}' is not a number")))?),
        None => None,
    };
    let token_param = param(&q, "page_token").filter(|t| !t.is_empty());
    let query = AuditQuery {
        model: model.clone(),
        batch_id: batch,
        page: PageRequest { max_results: Some(PAGE_SIZE), page_token: token_param.clone() },
    };
    let events = s.call(move |st| st.audit_log(&query)).await?;
    let batch_s = batch.map(|b| b.to_string()).unwrap_or_default();
    let model_s = model.clone().unwrap_or_default();
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Alias moves, promotions and rollbacks. " a href="/audit/events" { "All changes" } }
        form.filters method="get" action="/audit" {
            label { "model " input type="text" name="model" value=(model_s) placeholder="exact model name"; }
            label { "batch " input type="text" name="batch" value=(batch_s) inputmode="numeric" size="8"; }
            button type="submit" { "Filter" }
            @if model.is_some() || batch.is_some() { a href="/audit" { "clear" } }
        }
        @if let Some(b) = batch {
            @if events.items.iter().any(|e| e.kind != "rollback") {
                form.inline method="post" action=(format!("/audit/batches/{b}/rollback")) {
                    input type="hidden" name="csrf" value=(token.0);
                    input type="text" name="reason" placeholder="why roll back?" required;
                    button.danger type="submit" { "Roll back batch #" (b) }
                }
            }
        }
        (events_table(&events.items))
        (pager("/audit", &[("model", &model_s), ("batch", &batch_s)], token_param.as_deref(), events.next_page_token.as_deref()))
    };
    Ok(shell("Audit log", Section::Audit, &[("Audit log".into(), None)], body))
}

#[derive(Deserialize)]
pub struct RollbackForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn rollback(
    State(s): State<AppState>,
    Path(batch): Path<i64>,
    headers: HeaderMap,
    caller: Option<axum::Extension<flotilla_app::auth::Caller>>,
    session: Option<axum::Extension<flotilla_app::auth::UiSession>>,
    Form(form): Form<RollbackForm>,
) -> PageResult<Redirect> {
    csrf::verify(&headers, session.as_ref().map(|s| &s.0), &form.csrf).map_err(PageError::forbidden)?;
    let ctx = crate::actor(caller, form.reason);
    let report = s.call(move |st| st.rollback(batch, &ctx)).await?;
    let to = report.batch_id.map_or_else(|| format!("/audit?batch={batch}"), |b| format!("/audit?batch={b}"));
    Ok(Redirect::to(&to))
}

/// `/audit/events`: every recorded change (who, how, from where, under which
/// request id, what, before and after), newest first, with the API's filters
/// and keyset paging.
pub async fn all_events(State(s): State<AppState>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let query = flotilla_app::fleet_api::audit::parse_query(&raw).map_err(PageError::from)?;
    let mut query = query;
    query.page.max_results = Some(PAGE_SIZE);
    let current_token = query.page.page_token.clone();
    let filters: Vec<(&str, String)> =
        ["actor", "action", "resource_kind", "resource_id", "request_id", "since", "until"]
            .into_iter()
            .map(|k| (k, param(&raw, k).unwrap_or_default()))
            .collect();
    let page = s.call(move |st| st.audit_events(&query)).await?;
    let doc = |d: &Option<String>| d.clone().unwrap_or_else(|| "–".to_string());
    let body = html! {
        h1 { "All changes" }
        p.muted { "Every change made through the API, the UI or the CLI. " a href="/audit" { "Alias moves and rollbacks" } }
        form.filters method="get" action="/audit/events" {
            @for (k, v) in &filters {
                label { (k.replace('_', " ")) " " input type="text" name=(k) value=(v) size="12"; }
            }
            button type="submit" { "Filter" }
            @if filters.iter().any(|(_, v)| !v.is_empty()) { a href="/audit/events" { "clear" } }
        }
        @if page.items.is_empty() {
            p.muted { "No changes recorded." }
        } @else {
            table.nav-rows.audit {
                thead { tr { th { "time (UTC)" } th { "who" } th { "how" } th { "from" } th { "request" } th { "action" } th { "resource" } th { "before" } th { "after" } } }
                tbody {
                    @for e in &page.items {
                        tr {
                            td.nowrap { (format::time(e.time)) }
                            td { (e.actor) }
                            td { (e.method) @if let Some(t) = &e.token_id { " " code { (t) } } }
                            td { (e.client.clone().unwrap_or_default()) }
                            td { code { (e.request_id.clone().unwrap_or_default()) } }
                            td { (e.action) @if e.count > 1 { " ×" (e.count) } }
                            td { (e.resource_kind) " " code { (e.resource_id) } }
                            td { code { (doc(&e.before)) } }
                            td { code { (doc(&e.after)) } }
                        }
                    }
                }
            }
        }
        @let params: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
        (pager("/audit/events", &params, current_token.as_deref(), page.next_page_token.as_deref()))
    };
    Ok(shell(
        "All changes",
        Section::Audit,
        &[("Audit log".into(), Some("/audit".into())), ("All changes".into(), None)],
        body,
    ))
}
