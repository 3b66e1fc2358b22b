//! Datasets: the list (by name or prefix, paged) and one dataset's page —
//! its source and schema, its profile per feature (missing values, a CDF
//! drawn from the quantile sketch for numbers, the top categories), and the
//! model versions trained on it, aliased ones marked, with counts per
//! family. Every read is the data API's own (`flotilla_app::data::answer`),
//! filtered to what the caller may read.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::Uri;
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::data::{self, DataRoute};
use flotilla_store::{Readable, StoreError};
use maud::{Markup, html};
use serde_json::Value;

use super::{PAGE_SIZE, model_link, param, raw_query, run_link};
use crate::format;
use crate::layout::{PageResult, Section, pager, shell, stats};
use crate::svg::{self, Axis, Series};

/// Versions listed on a dataset's page.
const DOWNSTREAM_ROWS: i64 = 50;

/// What the caller may read, as the data API's answers filter it.
pub fn readable(s: &AppState, caller: Option<&Caller>) -> Readable {
    Readable { experiments: s.readable(caller, Kind::Experiment), models: s.readable(caller, Kind::RegisteredModel) }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)) => other.to_string(),
    }
}

fn dataset_href(name: &str, digest: &str) -> String {
    format!("/datasets/{}/{}", format::segment(name), format::segment(digest))
}

pub async fn list(State(s): State<AppState>, caller: Option<Extension<Caller>>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let prefix = param(&raw, "prefix").unwrap_or_default();
    let token = param(&raw, "page_token").filter(|t| !t.is_empty());
    let mut query = vec![("max_results", PAGE_SIZE.to_string())];
    if !prefix.is_empty() {
        query.push(("prefix", prefix.clone()));
    }
    if let Some(t) = &token {
        query.push(("page_token", t.clone()));
    }
    // The data API's query string, as its route reads it (no leading `?`).
    let query = format::query(query.iter().map(|(k, v)| (*k, v.as_str()))).trim_start_matches('?').to_string();
    let readable = readable(&s, caller.as_ref().map(|c| &c.0));
    let answer = s.call(move |st| data::answer(st, &DataRoute::Datasets, &query, readable)).await?;
    let none = Vec::new();
    let rows = answer["datasets"].as_array().unwrap_or(&none);
    let body = html! {
        h1 { "Datasets" }
        form.filters method="get" action="/datasets" {
            label { "name starts with " input type="search" name="prefix" value=(prefix) size="30" placeholder="sales"; }
            button type="submit" { "Search" }
        }
        @if rows.is_empty() { p.muted { "No datasets." } }
        @else {
            table.nav-rows.datasets {
                thead { tr { th { "dataset" } th { "digest" } th { "source" } th.num { "runs" } th.num { "versions" } th { "first seen (UTC)" } th { "" } } }
                tbody {
                    @for d in rows {
                        @let (name, digest) = (text(&d["name"]), text(&d["digest"]));
                        tr {
                            td { a href=(dataset_href(&name, &digest)) { (name) } }
                            td { code { (digest) } }
                            td { (text(&d["source_type"])) }
                            td.num { (format::count(d["run_count"].as_i64().unwrap_or(0))) }
                            td.num { (format::count(d["version_count"].as_i64().unwrap_or(0))) }
                            td.nowrap { (format::time(d["creation_time"].as_i64().unwrap_or(0))) }
                            td { @if d["superseded"] == true { span.badge title="a newer digest of this name exists" { "superseded" } } }
                        }
                    }
                }
            }
        }
        (pager("/datasets", &[("prefix", &prefix)], token.as_deref(), answer["next_page_token"].as_str()))
    };
    Ok(shell("Datasets", Section::Datasets, &[("Datasets".into(), None)], body))
}

pub async fn page(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((name, digest)): Path<(String, String)>,
) -> PageResult {
    let readable = readable(&s, caller.as_ref().map(|c| &c.0));
    let (n, d) = (name.clone(), digest.clone());
    let (downstream, profile) = s
        .call(move |st| {
            let query = format::query([
                ("dataset", n.as_str()),
                ("digest", d.as_str()),
                ("max_results", &DOWNSTREAM_ROWS.to_string()),
            ])
            .trim_start_matches('?')
            .to_string();
            let downstream = data::answer(st, &DataRoute::Downstream, &query, readable)?;
            let profile = data::profile::kept(st, &n, &d).ok();
            Ok::<_, StoreError>((downstream, profile))
        })
        .await?;
    let ds = &downstream["dataset"];
    let none = Vec::new();
    let versions = downstream["versions"].as_array().unwrap_or(&none);
    let families = downstream["families"].as_array().unwrap_or(&none);
    let crumbs = [("Datasets".to_string(), Some("/datasets".to_string())), (format!("{name} @ {digest}"), None)];
    let body = html! {
        h1 { "Dataset " (name) " " code { (digest) } }
        @if ds["superseded"] == true { p { span.badge { "superseded" } " a newer digest of this name was recorded since" } }
        (stats(&[
            ("runs", format::count(ds["run_count"].as_i64().unwrap_or(0))),
            ("model versions", format::count(ds["version_count"].as_i64().unwrap_or(0))),
            ("first seen", format::time(ds["creation_time"].as_i64().unwrap_or(0))),
        ]))
        p { "source " (text(&ds["source_type"])) ": " code { (text(&ds["source"])) } }
        @if let Some(schema) = ds["schema"].as_str() { details { summary { "schema" } pre { (schema) } } }
        h2 { "Profile" }
        @match &profile {
            Some(p) => (profile_section(&p["summary"])),
            None => p.muted { "No profile yet: " code { "flotilla data profile FILE --dataset " (name) " --digest " (digest) } ", or POST the data to " code { "/api/data/v1/datasets/…/profile" } "." },
        }
        h2 { "Trained on it" }
        @if !families.is_empty() {
            p { @for f in families { span.badge { (text(&f["family"])) ": " (format::count(f["versions"].as_i64().unwrap_or(0))) } " " } }
        }
        @if versions.is_empty() { p.muted { "No model version you may read was trained on it." } }
        @else {
            table.nav-rows.lineage {
                thead { tr { th { "model" } th { "version" } th { "aliases" } th { "context" } th { "run" } } }
                tbody {
                    @for v in versions {
                        @let model = text(&v["model"]);
                        tr {
                            td { (model_link(&model)) }
                            td { a href=(format!("/models/{}#v{}", format::segment(&model), text(&v["version"]))) { (text(&v["version"])) } }
                            td { @for a in v["aliases"].as_array().unwrap_or(&none) { span.badge { (text(a)) } " " } }
                            td { (text(&v["context"])) }
                            td { @if let Some(run) = v["run_id"].as_str() { (run_link(run, run)) } }
                        }
                    }
                }
            }
            @if downstream["next_page_token"].is_string() {
                p.muted { "The first " (DOWNSTREAM_ROWS) " of " (format::count(downstream["total_versions"].as_i64().unwrap_or(0))) "; all of them: " code { "flotilla data downstream " (name) " " (digest) } }
            }
        }
    };
    Ok(shell(&format!("Dataset {name}"), Section::Datasets, &crumbs, body))
}

/// A profile's features: a table, then a CDF per number and the top values per category.
fn profile_section(summary: &Value) -> Markup {
    let none = Vec::new();
    let features = summary["features"].as_array().unwrap_or(&none);
    let rows = summary["rows"].as_u64().unwrap_or(0);
    let share = |n: u64| if rows == 0 { "–".to_string() } else { format!("{:.1} %", n as f64 * 100.0 / rows as f64) };
    html! {
        p.muted { (format::count(rows as i64)) " rows, " (features.len()) " features" }
        table.features {
            thead { tr { th { "feature" } th { "type" } th.num { "missing" } th.num { "NaN" } th.num { "min" } th.num { "mean" } th.num { "max" } th.num { "distinct" } } }
            tbody {
                @for f in features {
                    @let num = &f["numeric"];
                    tr {
                        td { (text(&f["name"])) }
                        td { (text(&f["type"])) }
                        td.num { (share(f["nulls"].as_u64().unwrap_or(0))) }
                        td.num { (f["nans"].as_u64().unwrap_or(0)) }
                        td.num { @if let Some(x) = num["min"].as_f64() { (format::metric(x)) } }
                        td.num { @if let Some(x) = num["mean"].as_f64() { (format::metric(x)) } }
                        td.num { @if let Some(x) = num["max"].as_f64() { (format::metric(x)) } }
                        td.num { @if let Some(x) = f["category"]["distinct"].as_f64() { "≈" (format!("{x:.0}")) } }
                    }
                }
            }
        }
        div.charts {
            @for f in features {
                @let name = text(&f["name"]);
                @if let Some(quantiles) = f["numeric"]["quantiles"].as_array().filter(|q| !q.is_empty()) {
                    @let points: Vec<(f64, f64)> = quantiles.iter().filter_map(|q| Some((q["value"].as_f64()?, q["rank"].as_f64()?))).collect();
                    figure.feature {
                        figcaption { (name) " — cumulative share of rows" }
                        (svg::line_chart(&format!("{name} CDF"), &[Series { name: name.clone(), points }], Axis::Number, &name, "share of rows"))
                    }
                }
                @if let Some(top) = f["category"]["top"].as_array().filter(|t| !t.is_empty()) {
                    @let bars: Vec<(String, f64)> = top.iter().take(10).map(|t| (text(&t["value"]), t["estimate"].as_f64().unwrap_or(0.0))).collect();
                    figure.feature {
                        figcaption { (name) " — most frequent values" }
                        (svg::bars(&format!("{name} top values"), &bars))
                    }
                }
            }
        }
    }
}
