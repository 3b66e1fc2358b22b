//! Experiments (paged, filterable with MLflow's filter language) and one
//! experiment's runs, paged, with their latest metrics.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::Uri;
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::{AppState, search};
use flotilla_core::model::{Run, ViewType};
use flotilla_store::PageRequest;
use maud::html;

use super::{PAGE_SIZE, param, raw_query, readable, run_link};
use crate::format;
use crate::layout::{PageResult, Section, pager, shell};

/// Metric columns shown for a page of runs.
const METRIC_COLUMNS: usize = 6;

pub async fn list(State(s): State<AppState>, caller: Option<Extension<Caller>>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let visible = readable(&s, &caller, Kind::Experiment);
    let filter = param(&raw, "filter").unwrap_or_default();
    let token = param(&raw, "page_token").filter(|t| !t.is_empty());
    let page = PageRequest { max_results: Some(PAGE_SIZE), page_token: token.clone() };
    let f = filter.clone();
    let experiments = s
        .call(move |st| {
            let order_by = ["creation_time DESC".into()];
            let mut query = search::experiments(&f, &order_by, ViewType::default(), page)?;
            query.visible = visible;
            st.search_experiments(&query)
        })
        .await?;
    let body = html! {
        h1 { "Experiments" }
        form.filters method="get" action="/experiments" {
            label { "filter " input type="search" name="filter" value=(filter) size="40" placeholder="name LIKE '%demand%'"; }
            button type="submit" { "Filter" }
        }
        @if experiments.items.is_empty() { p.muted { "No experiments." } }
        @else {
            table.nav-rows {
                thead { tr { th { "experiment" } th { "id" } th { "created (UTC)" } th { "artifact location" } } }
                tbody {
                    @for e in &experiments.items {
                        tr {
                            td { a href=(format!("/experiments/{}", format::segment(&e.experiment_id))) { (e.name) } }
                            td { (e.experiment_id) }
                            td.nowrap { (format::time(e.creation_timestamp)) }
                            td { code { (e.artifact_location) } }
                        }
                    }
                }
            }
        }
        (pager("/experiments", &[("filter", &filter)], token.as_deref(), experiments.next_page_token.as_deref()))
    };
    Ok(shell("Experiments", Section::Experiments, &[("Experiments".into(), None)], body))
}

pub async fn page(State(s): State<AppState>, Path(id): Path<String>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let filter = param(&raw, "filter").unwrap_or_default();
    let token = param(&raw, "page_token").filter(|t| !t.is_empty());
    let page = PageRequest { max_results: Some(PAGE_SIZE), page_token: token.clone() };
    let (eid, f) = (id.clone(), filter.clone());
    let (experiment, runs) = s
        .call(move |st| {
            let experiment = st.get_experiment(&eid)?;
            let order_by = ["attributes.start_time DESC".into()];
            let query = search::runs(vec![eid], &f, &order_by, ViewType::default(), page)?;
            Ok((experiment, st.search_runs(&query)?))
        })
        .await?;
    let mut keys: Vec<&str> = runs.items.iter().flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str())).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.truncate(METRIC_COLUMNS);
    let latest = |run: &Run, key: &str| run.data.metrics.iter().find(|m| m.key == key).map(|m| m.value);
    let crumbs = [("Experiments".to_string(), Some("/experiments".to_string())), (experiment.name.clone(), None)];
    let body = html! {
        h1 { "Experiment " (experiment.name) }
        p.muted { "id " (experiment.experiment_id) " · created " (format::time(experiment.creation_timestamp)) " · " (experiment.lifecycle_stage.as_str()) }
        @if !experiment.tags.is_empty() {
            p { @for t in experiment.tags.iter().filter(|t| !t.key.starts_with("mlflow.")) { span.badge { (t.key) "=" (t.value) } " " } }
        }
        form.filters method="get" action=(format!("/experiments/{}", format::segment(&id))) {
            label { "filter runs " input type="search" name="filter" value=(filter) size="40" placeholder="metrics.rmse < 1 and params.alpha = '0.5'"; }
            button type="submit" { "Filter" }
        }
        @if runs.items.is_empty() { p.muted { "No runs." } }
        @else {
            table.nav-rows.runs {
                thead { tr {
                    th { "run" } th { "status" } th { "started (UTC)" } th { "duration" } th { "user" }
                    @for k in &keys { th.num { (k) } }
                } }
                tbody {
                    @for r in &runs.items {
                        tr {
                            td { (run_link(&r.info.run_id, if r.info.run_name.is_empty() { &r.info.run_id } else { &r.info.run_name })) }
                            td { (r.info.status.as_str()) }
                            td.nowrap { (format::time(r.info.start_time)) }
                            td { @if let Some(end) = r.info.end_time { (format::duration(end - r.info.start_time)) } }
                            td { (r.info.user_id) }
                            @for k in &keys { td.num { @if let Some(v) = latest(r, k) { (format::metric(v)) } } }
                        }
                    }
                }
            }
        }
        (pager(&format!("/experiments/{}", format::segment(&id)), &[("filter", &filter)], token.as_deref(), runs.next_page_token.as_deref()))
    };
    Ok(shell(&format!("Experiment {}", experiment.name), Section::Experiments, &crumbs, body))
}
