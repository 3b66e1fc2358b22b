//! Versions across the fleet: the fleet API's version search as a form
//! (family, name prefix, partition, alias, the version's own metrics,
//! creation time) with keyset paging; the URL carries the search.

use axum::extract::State;
use axum::http::Uri;
use flotilla_core::fleet_versions::FleetVersion;
use flotilla_http::{AppState, fleet_query};
use maud::{Markup, html};

use super::{PAGE_SIZE, model_link, param, raw_query, run_link};
use crate::format;
use crate::layout::{PageResult, Section, pager, shell};

/// Metric columns shown for a page of versions.
const METRIC_COLUMNS: usize = 4;

pub async fn page(State(s): State<AppState>, uri: Uri) -> PageResult {
    // A form sends its empty fields too; they mean "no filter".
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw_query(&uri).as_bytes())
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let raw = format::query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).trim_start_matches('?').to_string();
    let mut q = fleet_query::parse_versions(&raw)?;
    q.max_results = Some(q.max_results.unwrap_or(PAGE_SIZE).min(200));
    let search = q.clone();
    let versions = s.call(move |st| st.search_versions(&search)).await?;
    let get = |k: &str| param(&raw, k).unwrap_or_default();
    let sorts = [
        ("version", "model, version"),
        ("-created", "newest"),
        ("metric:val_rmse", "val_rmse ↑"),
        ("-metric:val_rmse", "val_rmse ↓"),
    ];
    let order = get("order_by");
    let pair_refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = html! {
        h1 { "Versions" }
        form.filters id="version-search" method="get" action="/versions" {
            label { "family " input type="text" name="family" value=(get("family")) size="14"; }
            label { "name prefix " input type="search" name="prefix" value=(get("prefix")) size="18"; }
            label { "partition " input type="text" name="partition" value=(get("partition")) placeholder="region=west" size="14"; }
            label { "alias " input type="text" name="alias" value=(get("alias")) placeholder="champion" size="10"; }
            label { "metric " input type="text" name="metric" value=(get("metric")) placeholder="val_rmse < 3.2" size="16"; }
            label { "sort "
                select name="order_by" {
                    @for (value, text) in sorts { option value=(value) selected[order == value] { (text) } }
                    @if !order.is_empty() && !sorts.iter().any(|(v, _)| *v == order) { option value=(order) selected { (order) } }
                }
            }
            button type="submit" { "Search" }
            a href="/versions" { "clear" }
        }
        (table(&versions.items))
        (pager("/versions", &pair_refs, q.page_token.as_deref(), versions.next_page_token.as_deref()))
    };
    Ok(shell("Versions", Section::Versions, &[("Versions".into(), None)], body))
}

fn table(versions: &[FleetVersion]) -> Markup {
    if versions.is_empty() {
        return html! { p.muted { "No version matches." } };
    }
    let mut keys: Vec<&str> = versions.iter().flat_map(|v| v.metrics.iter().map(|(k, _)| k.as_str())).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.truncate(METRIC_COLUMNS);
    html! {
        table.nav-rows.fleet-versions {
            thead { tr {
                th { "model" } th { "version" } th { "partition" } th { "aliases" } th { "stage" } th { "created (UTC)" } th { "run" }
                @for k in &keys { th.num { (k) } }
            } }
            tbody {
                @for v in versions {
                    tr {
                        td { (model_link(&v.model)) }
                        td { a href=(format!("/models/{}#v{}", format::segment(&v.model), v.version)) { "v" (v.version) } }
                        td { (v.partition) }
                        td { @for a in &v.aliases { span.badge { (a) } " " } }
                        td { (v.current_stage) }
                        td.nowrap { (format::time(v.creation_time)) }
                        td { @if let Some(r) = v.run_id.as_deref().filter(|r| !r.is_empty()) { (run_link(r, &r[..r.len().min(8)])) } }
                        @for k in &keys {
                            td.num { @if let Some((_, x)) = v.metrics.iter().find(|(mk, _)| mk == k) { (format::metric(*x)) } }
                        }
                    }
                }
            }
        }
    }
}
