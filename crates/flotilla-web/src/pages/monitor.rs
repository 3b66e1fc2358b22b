//! Fleet health (`/monitor`): a families × checks matrix (models per status,
//! each cell a link to that family's worst models with the check marked),
//! the worst models of the scope (paged), and trend lines of the failing
//! models per check from the hourly health history. The scope is the query
//! string (`family=`, `partition=key=value`, `tag=key=value`), so a link
//! reproduces the view. Every figure is the health API's own answer
//! (`flotilla_app::monitor::health`), counted over what the caller reads.

use axum::Extension;
use axum::extract::State;
use axum::http::Uri;
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::monitor::health;
use flotilla_store::PageRequest;
use flotilla_store::health::{Check, HealthScope, Status};
use maud::{Markup, html};
use serde_json::Value;

use super::{PAGE_SIZE, model_link, param, raw_query, readable};
use crate::format;
use crate::layout::{PageResult, Section, pager, shell};
use crate::svg::{self, Axis, Series};

/// Families shown in the matrix (the rest behind its pager).
const MATRIX_FAMILIES: i64 = 25;
/// Hours of history drawn as trends.
const TREND_MS: i64 = 7 * 86_400_000;

/// The page's scope and paging, read from its query string.
struct Ask {
    family: Option<String>,
    partition: Option<String>,
    tag: Option<String>,
    check: Option<Check>,
    page_token: Option<String>,
    families_token: Option<String>,
}

impl Ask {
    fn read(raw: &str) -> Ask {
        let some = |k: &str| param(raw, k).filter(|v| !v.is_empty());
        Ask {
            family: some("family"),
            partition: some("partition"),
            tag: some("tag"),
            check: some("check").and_then(|c| Check::ALL.into_iter().find(|k| k.as_str() == c)),
            page_token: some("page_token"),
            families_token: some("families_token"),
        }
    }

    /// The scope's pairs, for links and the health API's query string.
    fn scope_pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = Vec::new();
        for (k, v) in [("family", &self.family), ("partition", &self.partition), ("tag", &self.tag)] {
            if let Some(v) = v {
                pairs.push((k, v.as_str()));
            }
        }
        pairs
    }
}

/// A link to this page for a family with a check marked.
fn cell_href(family: &str, check: Check) -> String {
    format!("/monitor{}#worst", format::query([("family", family), ("check", check.as_str())]))
}

struct View {
    answer: Value,
    families: Vec<(String, Value)>,
    families_next: Option<String>,
    history: Option<Value>,
}

pub async fn page(State(s): State<AppState>, caller: Option<Extension<Caller>>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let ask = Ask::read(&raw);
    let mut pairs = ask.scope_pairs();
    let size = PAGE_SIZE.to_string();
    pairs.push(("max_results", &size));
    if let Some(t) = &ask.page_token {
        pairs.push(("page_token", t));
    }
    let health_raw = format::query(pairs).trim_start_matches('?').to_string();
    let (scope, page) = health::health_query(&health_raw)?;
    let models = readable(&s, &caller, Kind::RegisteredModel);
    let families_visible = readable(&s, &caller, Kind::Family);
    // Trends: a family's with READ on it, the fleet's to whoever reads it all.
    let history_scope = match &scope {
        HealthScope::Family(f) | HealthScope::Partition { family: f, .. } => {
            (families_visible.admits(f, Some(f)) || models.family_wholly(f)).then(|| HealthScope::Family(f.clone()))
        }
        HealthScope::Fleet | HealthScope::Tag { .. } => models.is_everything().then_some(HealthScope::Fleet),
    };
    let matrix_token = ask.families_token.clone();
    let only_family = ask.family.clone();
    let view = s
        .call(move |st| {
            let answer = health::health_answer(st, scope, page, models.clone())?;
            let (names, families_next) = match only_family {
                Some(f) => (vec![f], None),
                None => {
                    let request = PageRequest { max_results: Some(MATRIX_FAMILIES), page_token: matrix_token };
                    let page = st.list_families(&request, &families_visible)?;
                    (page.items.into_iter().map(|f| f.name).collect(), page.next_page_token)
                }
            };
            let mut families = Vec::with_capacity(names.len());
            for name in names {
                let counts = health::health_answer(
                    st,
                    HealthScope::Family(name.clone()),
                    PageRequest { max_results: Some(1), page_token: None },
                    models.clone(),
                )?;
                families.push((name, counts["counts"].clone()));
            }
            let history = match history_scope {
                Some(scope) => {
                    let to = flotilla_app::monitor::telemetry::now_ms();
                    Some(health::history_answer(st, scope, to - TREND_MS, to)?)
                }
                None => None,
            };
            Ok(View { answer, families, families_next, history })
        })
        .await?;
    Ok(render(&ask, &view))
}

fn count(counts: &Value, check: Check, status: Status) -> u64 {
    counts[check.as_str()][status.as_str()].as_u64().unwrap_or(0)
}

/// One cell: the failing and warning models, else the healthy ones.
fn cell(counts: &Value, check: Check) -> Markup {
    let (fail, warn, ok) =
        (count(counts, check, Status::Fail), count(counts, check, Status::Warn), count(counts, check, Status::Ok));
    let unknown = count(counts, check, Status::Unknown);
    html! {
        @if fail > 0 { span.s-fail title="fail" { (fail) " fail" } " " }
        @if warn > 0 { span.s-warn title="warn" { (warn) " warn" } " " }
        @if fail == 0 && warn == 0 && ok > 0 { span.s-ok title="ok" { (ok) " ok" } }
        @if fail + warn + ok == 0 {
            @if unknown > 0 { span.muted title="unknown" { (unknown) " unknown" } } @else { span.muted { "—" } }
        }
    }
}

fn status_class(status: &str) -> &'static str {
    match status {
        "fail" => "s-fail",
        "warn" => "s-warn",
        "ok" => "s-ok",
        _ => "muted",
    }
}

fn render(ask: &Ask, view: &View) -> Markup {
    let scope_pairs = ask.scope_pairs();
    let scope_text = scope_pairs.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let counts = &view.answer["counts"];
    let none = Vec::new();
    let worst = view.answer["worst"].as_array().unwrap_or(&none);
    let mut pager_pairs = scope_pairs.clone();
    if let Some(c) = ask.check {
        pager_pairs.push(("check", c.as_str()));
    }
    let mut crumbs = vec![("Health".to_string(), Some("/monitor".to_string()))];
    if !scope_text.is_empty() {
        crumbs.push((scope_text.clone(), None));
    }
    let body = html! {
        h1 { "Fleet health" @if !scope_text.is_empty() { " — " (scope_text) } }
        form.filters method="get" action="/monitor" {
            label { "family " input type="text" name="family" value=(ask.family.as_deref().unwrap_or("")) size="16"; }
            label { "partition (key=value) " input type="text" name="partition" value=(ask.partition.as_deref().unwrap_or("")) size="16"; }
            label { "tag (key=value) " input type="text" name="tag" value=(ask.tag.as_deref().unwrap_or("")) size="16"; }
            button type="submit" { "Show" }
            @if !scope_pairs.is_empty() { a href="/monitor" { "whole fleet" } }
        }
        @if view.answer["partial"].as_bool() == Some(true) {
            p.muted { "Counts include only the models you may read." }
        }
        section {
            h2 { "Checks" }
            table.health-matrix {
                thead { tr { th { "scope" } @for c in Check::ALL { th { (c.as_str().replace('_', " ")) } } } }
                tbody {
                    tr.scope-row {
                        th { @if scope_text.is_empty() { "whole fleet" } @else { (scope_text) } }
                        @for c in Check::ALL { td { (cell(counts, c)) } }
                    }
                    @for (family, fc) in &view.families {
                        tr {
                            th { a href=(format!("/monitor{}", format::query([("family", family.as_str())]))) { (family) } }
                            @for c in Check::ALL { td { a href=(cell_href(family, c)) { (cell(fc, c)) } } }
                        }
                    }
                }
            }
            @if ask.family.is_none() {
                @if let Some(next) = &view.families_next {
                    nav.pager aria-label="Families" {
                        a href=(format!("/monitor{}", format::query([("families_token", next.as_str())]))) { "More families ›" }
                    }
                }
            }
        }
        section id="worst" {
            h2 { "Worst models" @if let Some(c) = ask.check { " (" (c.as_str().replace('_', " ")) " marked)" } }
            @if worst.is_empty() { p.muted { "No model has been judged in this scope yet." } }
            @else {
                table.nav-rows.worst {
                    thead { tr {
                        th { "model" } th { "family" } th.num { "score" }
                        @for c in Check::ALL {
                            th.marked[ask.check == Some(c)] { (c.as_str().replace('_', " ")) }
                        }
                    } }
                    tbody {
                        @for w in worst {
                            @let name = w["model"].as_str().unwrap_or("");
                            tr {
                                td { (model_link(name)) " " a.muted href=(format!("/models/{}/monitor", format::segment(name))) { "monitor" } }
                                td { @if let Some(f) = w["family"].as_str() { (f) } }
                                td.num { (w["score"].as_i64().unwrap_or(0)) }
                                @for c in Check::ALL {
                                    @let st = w["checks"][c.as_str()]["status"].as_str().unwrap_or("");
                                    td class=(status_class(st)) { (st) }
                                }
                            }
                        }
                    }
                }
            }
            (pager("/monitor", &pager_pairs, ask.page_token.as_deref(), view.answer["next_page_token"].as_str()))
        }
        section {
            h2 { "Trends" }
            (trends(view.history.as_ref()))
        }
    };
    shell("Fleet health", Section::Health, &crumbs, body)
}

/// Failing models per check, one point an hour, with the table behind it.
fn trends(history: Option<&Value>) -> Markup {
    let Some(history) = history else {
        return html! { p.muted { "Trends need READ on the whole family (or the fleet)." } };
    };
    let none = Vec::new();
    let hours = history["hours"].as_array().unwrap_or(&none);
    if hours.is_empty() {
        return html! { p.muted { "No history yet: the roll-ups are kept once an hour." } };
    }
    let series: Vec<Series> = Check::ALL
        .into_iter()
        .map(|c| Series {
            name: c.as_str().to_string(),
            points: hours
                .iter()
                .map(|h| (h["hour"].as_f64().unwrap_or(0.0), count(&h["counts"], c, Status::Fail) as f64))
                .collect(),
        })
        .collect();
    html! {
        (svg::line_chart("models failing each check, per hour", &series, Axis::Time, "hour (UTC)", "models failing"))
        details {
            summary { "Table" }
            table.trend-table {
                thead { tr { th { "hour (UTC)" } @for c in Check::ALL { th.num { (c.as_str().replace('_', " ")) } } } }
                tbody {
                    @for h in hours.iter().rev().take(168) {
                        tr {
                            td.nowrap { (format::time(h["hour"].as_i64().unwrap_or(0))) }
                            @for c in Check::ALL { td.num { (count(&h["counts"], c, Status::Fail)) } }
                        }
                    }
                }
            }
        }
    }
}
