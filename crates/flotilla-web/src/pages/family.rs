//! Families: the list, and a family's partition hierarchy as a navigable
//! table — the children of one partition, each with its champion's key
//! metric, sortable and filterable — plus the distribution of that metric
//! over (a sample of) the partition's champions.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::Uri;
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::{AppState, fleet_query};
use flotilla_core::fleet::{self, Family, FleetModel, FleetQuery, FleetSort, MetricFilter, PartitionValue};
use flotilla_core::model::Page;
use flotilla_store::PageRequest;
use flotilla_store::fleet::PartitionTarget;
use flotilla_store::insights::MetricSample;
use maud::{Markup, html};

use super::{PAGE_SIZE, alias_badges, model_link, param, raw_query, readable};
use crate::format;
use crate::layout::{Crumb, PageError, PageResult, Section, pager, shell};
use crate::svg;

/// Champions read for the distribution plot.
const SAMPLE: usize = 1_000;
const ALIAS: &str = "champion";

pub async fn list(State(s): State<AppState>, caller: Option<Extension<Caller>>, uri: Uri) -> PageResult {
    let q = raw_query(&uri);
    let visible = readable(&s, &caller, Kind::Family);
    let token = param(&q, "page_token").filter(|t| !t.is_empty());
    let request = PageRequest { max_results: Some(PAGE_SIZE), page_token: token.clone() };
    let families = s.call(move |st| st.list_families(&request, &visible)).await?;
    let body = html! {
        h1 { "Families" }
        @if families.items.is_empty() { p.muted { "No families yet." } }
        @else {
            table.nav-rows {
                thead { tr { th { "family" } th { "levels" } th.num { "models" } th { "created (UTC)" } th { "description" } } }
                tbody {
                    @for f in &families.items {
                        tr {
                            td { a href=(format!("/families/{}", format::segment(&f.name))) { (f.name) } }
                            td { (f.levels.join(" › ")) }
                            td.num { (format::count(f.models)) }
                            td.nowrap { (format::time(f.creation_timestamp)) }
                            td { (f.description) }
                        }
                    }
                }
            }
        }
        (pager("/families", &[], token.as_deref(), families.next_page_token.as_deref()))
    };
    Ok(shell("Families", Section::Families, &[("Families".into(), None)], body))
}

/// What the family page shows, gathered in one store call.
struct View {
    family: Family,
    children: Option<Page<FleetModel>>,
    keys: Vec<String>,
    key: String,
    values: Vec<Option<f64>>,
    sample: MetricSample,
    served_by: Option<PartitionTarget>,
}

pub async fn page(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(name): Path<String>,
    uri: Uri,
) -> PageResult {
    let raw = raw_query(&uri);
    // A member vetoed on its own is left out of the family's table.
    let visible = readable(&s, &caller, Kind::RegisteredModel);
    let get = |k: &str| param(&raw, k).unwrap_or_default();
    let path = fleet_query::partition(Some(&get("path")).filter(|p| !p.is_empty()).map(String::as_str))?;
    let metrics = fleet_query::all(&raw, "metric")
        .iter()
        .filter(|m| !m.trim().is_empty())
        .map(|m| MetricFilter::parse(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PageError::bad_request(e.message))?;
    let order = get("order_by");
    let sort = if order.is_empty() {
        FleetSort::default()
    } else {
        FleetSort::parse(&order).map_err(|e| PageError::bad_request(e.message))?
    };
    let (contains, wanted_key, token) = (get("contains"), get("key"), get("page_token"));
    let family_name = name.clone();
    let shown = path.clone();
    let view = s
        .call(move |st| {
            let family = st.get_family(&family_name)?;
            let mut depth = 0;
            for p in &path {
                let level = family.levels.iter().position(|l| *l == p.key).ok_or_else(|| {
                    flotilla_core::Error::invalid(format!(
                        "family '{}' has no partition level '{}'; its levels are {}",
                        family.name,
                        p.key,
                        family.levels.join(", ")
                    ))
                })?;
                depth = depth.max(level as i64 + 1);
            }
            let keys = st.alias_metric_keys(ALIAS)?;
            let key = if !wanted_key.is_empty() {
                wanted_key
            } else if keys.iter().any(|k| k == "val_rmse") {
                "val_rmse".to_string()
            } else {
                keys.first().cloned().unwrap_or_default()
            };
            let children = if (depth as usize) < family.levels.len() {
                Some(st.search_fleet(&FleetQuery {
                    family: Some(family.name.clone()),
                    partition: path.clone(),
                    depth: Some(depth + 1),
                    name_contains: Some(contains).filter(|c| !c.is_empty()),
                    metrics,
                    sort,
                    max_results: Some(PAGE_SIZE),
                    page_token: Some(token).filter(|t| !t.is_empty()),
                    visible: visible.clone(),
                    ..FleetQuery::default()
                })?)
            } else {
                None
            };
            let names: Vec<String> = children.iter().flat_map(|p| p.items.iter().map(|m| m.name.clone())).collect();
            let values =
                if key.is_empty() { vec![None; names.len()] } else { st.alias_metric_values(&names, ALIAS, &key)? };
            let sample = if key.is_empty() {
                MetricSample::default()
            } else {
                // A member denied to the caller is not counted.
                st.metric_sample_visible(&family.name, &path, ALIAS, &key, SAMPLE, &visible)?
            };
            let served_by = st.resolve_partition(&family.name, &path, ALIAS).ok();
            Ok(View { family, children, keys, key, values, sample, served_by })
        })
        .await?;
    Ok(render(&view, &shown, &raw))
}

fn family_url(family: &str, path: &[PartitionValue], extra: &[(&str, &str)]) -> String {
    let path = fleet::path_string(path);
    let mut pairs = vec![("path", path.as_str())];
    pairs.extend_from_slice(extra);
    format!("/families/{}{}", format::segment(family), format::query(pairs))
}

fn render(view: &View, path: &[PartitionValue], raw: &str) -> Markup {
    let f = &view.family;
    let get = |k: &str| param(raw, k).unwrap_or_default();
    let mut crumbs: Vec<Crumb> = vec![
        ("Families".into(), Some("/families".into())),
        (f.name.clone(), (!path.is_empty()).then(|| family_url(&f.name, &[], &[]))),
    ];
    for i in 0..path.len() {
        let here = i + 1 == path.len();
        crumbs.push((path[i].to_string(), (!here).then(|| family_url(&f.name, &path[..=i], &[]))));
    }
    let level = f.levels.get(path.len()).cloned();
    let key = view.key.as_str();
    let metric_col = format!("{ALIAS}:{key}");
    let order = get("order_by");
    let flip = if order == metric_col { format!("-{metric_col}") } else { metric_col.clone() };
    let keep = |extra: &[(&'static str, String)]| -> String {
        let path_s = fleet::path_string(path);
        let mut pairs: Vec<(&str, String)> =
            vec![("path", path_s), ("key", key.to_string()), ("contains", get("contains"))];
        pairs.extend(fleet_query::all(raw, "metric").into_iter().map(|m| ("metric", m)));
        pairs.extend(extra.iter().cloned());
        format!("/families/{}{}", format::segment(&f.name), format::query(pairs.iter().map(|(k, v)| (*k, v.as_str()))))
    };
    let title = if path.is_empty() { f.name.clone() } else { format!("{} {}", f.name, fleet::path_string(path)) };
    let body = html! {
        h1 { "Family " (f.name) @if !path.is_empty() { " › " (fleet::path_string(path)) } }
        p.muted { "levels: " (f.levels.join(" › ")) " · " (format::count(f.models)) " models · created " (format::time(f.creation_timestamp)) }
        @if !f.description.is_empty() { p { (f.description) } }
        @if let Some(t) = &view.served_by {
            p.served {
                "Requests for " strong { @if path.is_empty() { "the family default" } @else { (fleet::path_string(path)) } }
                " are served by " (model_link(&t.model)) " v" (t.version)
                @if t.fallback { " (fallback from " (if t.partition.is_empty() { "the default".to_string() } else { fleet::path_string(&t.partition) }) ")" }
            }
        }
        @if !view.key.is_empty() {
            section {
                h2 { "Distribution of " (metric_col) }
                p.muted {
                    (format::count(view.sample.values.len() as i64)) " champions"
                    @if view.sample.truncated { " (a sample: the first " (format::count(view.sample.members_read)) " members)" }
                }
                (svg::histogram(&format!("histogram of {metric_col}"), &view.sample.values, 30, key))
            }
        }
        @if let (Some(children), Some(level)) = (&view.children, level) {
            section {
                h2 { "Partitions: " (level) }
                form.filters method="get" action=(format!("/families/{}", format::segment(&f.name))) {
                    input type="hidden" name="path" value=(fleet::path_string(path));
                    label { "name contains " input type="search" name="contains" value=(get("contains")); }
                    label { "metric filter " input type="text" name="metric" value=(fleet_query::all(raw, "metric").first().cloned().unwrap_or_default()) placeholder=(format!("{metric_col} < 1.0")); }
                    label { "key metric "
                        select name="key" {
                            @for k in &view.keys { option value=(k) selected[k == key] { (k) } }
                        }
                    }
                    label { "sort "
                        select name="order_by" {
                            option value="name" selected[order.is_empty() || order == "name"] { "name" }
                            option value=(metric_col) selected[order == metric_col] { (key) " ↑" }
                            option value=(format!("-{metric_col}")) selected[order == format!("-{metric_col}")] { (key) " ↓" }
                            option value="-updated" selected[order == "-updated"] { "recently updated" }
                        }
                    }
                    button type="submit" { "Apply" }
                }
                @if children.items.is_empty() { p.muted { "No partition matches." } }
                @else {
                    table.nav-rows.partitions {
                        thead { tr {
                            th { (level) } th { "model" } th { "aliases" } th.num { "latest" }
                            th.num { a href=(keep(&[("order_by", flip.clone())])) title="sort" { (metric_col) } }
                            th { "updated (UTC)" }
                        } }
                        tbody {
                            @for (i, m) in children.items.iter().enumerate() {
                                @let leaf = m.partition.last().map(|p| p.value.clone()).unwrap_or_default();
                                tr {
                                    td { a href=(family_url(&f.name, &m.partition, &[])) { (leaf) } }
                                    td { (model_link(&m.name)) }
                                    td { (alias_badges(&m.name, &m.aliases)) }
                                    td.num { @if let Some(v) = m.latest_version { "v" (v) } }
                                    td.num { @if let Some(Some(v)) = view.values.get(i) { (format::metric(*v)) } @else { "–" } }
                                    td.nowrap { (format::time(m.last_updated_timestamp)) }
                                }
                            }
                        }
                    }
                }
                @let pairs_owned: Vec<(&str, String)> = {
                    let mut v = vec![("path", fleet::path_string(path)), ("key", key.to_string()), ("contains", get("contains")), ("order_by", order.clone())];
                    v.extend(fleet_query::all(raw, "metric").into_iter().map(|m| ("metric", m)));
                    v
                };
                @let pairs: Vec<(&str, &str)> = pairs_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
                (pager(&format!("/families/{}", format::segment(&f.name)), &pairs, param(raw, "page_token").filter(|t| !t.is_empty()).as_deref(), children.next_page_token.as_deref()))
            }
        } @else {
            p { "This is a leaf partition: its model is " (model_link(&fleet::member_name(&f.name, path.last()))) "." }
        }
    };
    shell(&title, Section::Families, &crumbs, body)
}
