//! A registered model: its aliases (with a form to move one), tags, fleet
//! place, versions paged newest first with each version's metrics, its run
//! and the datasets it was trained on, the lineage of its aliased versions
//! (through their runs or given with the version) drawn as a graph, and a
//! plot of versions over time.

use axum::Form;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Redirect;
use flotilla_app::auth::Caller;
use flotilla_app::{AppState, search};
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{FAMILY_TAG, PARTITION_TAG};
use flotilla_core::lineage::{Upstream, UpstreamDataset};
use flotilla_core::model::{ModelVersion, Page, RegisteredModel};
use flotilla_store::PageRequest;
use flotilla_store::fleet::AliasChange;
use flotilla_store::insights::{TimelinePoint, VersionMetrics};
use maud::{Markup, html};
use serde::Deserialize;

use super::{PAGE_SIZE, param, raw_query, run_link};
use crate::csrf::{self, CsrfToken};
use crate::format;
use crate::layout::{PageError, PageResult, Section, pager, shell};
use crate::svg::{self, Axis, Series};

/// Points of the versions-over-time plot.
const TIMELINE_POINTS: usize = 200;
/// Aliased versions whose datasets are listed.
const DATASET_ALIASES: usize = 5;

struct View {
    model: RegisteredModel,
    versions: Page<ModelVersion>,
    metrics: Vec<VersionMetrics>,
    timeline: Vec<TimelinePoint>,
    /// Each aliased version's lineage, by alias.
    upstreams: Vec<(String, Upstream)>,
    /// The datasets behind each version on the page.
    trained_on: Vec<(VersionNumber, Vec<UpstreamDataset>)>,
}

/// A filter naming one model exactly, quoted for MLflow's filter grammar.
pub fn name_filter(name: &str) -> String {
    if name.contains('\'') { format!("name = \"{name}\"") } else { format!("name = '{name}'") }
}

pub async fn page(
    State(s): State<AppState>,
    Extension(token): Extension<CsrfToken>,
    caller: Option<Extension<Caller>>,
    Path(name): Path<String>,
    uri: Uri,
) -> PageResult {
    let readable = super::datasets::readable(&s, caller.as_ref().map(|c| &c.0));
    let raw = raw_query(&uri);
    let page_token = param(&raw, "page_token").filter(|t| !t.is_empty());
    let (n, t) = (name.clone(), page_token.clone());
    let view = s
        .call(move |st| {
            let model = st.get_registered_model(&n)?;
            let page = PageRequest { max_results: Some(PAGE_SIZE), page_token: t };
            let query = search::model_versions(&name_filter(&n), &["version_number DESC".into()], page)?;
            let versions = st.search_model_versions(&query)?;
            let numbers: Vec<VersionNumber> = versions.items.iter().map(|v| v.version).collect();
            let metrics = st.version_metrics(&n, &numbers)?;
            let timeline = st.version_timeline(&n, TIMELINE_POINTS)?;
            let mut upstreams = Vec::new();
            for alias in model.aliases.iter().take(DATASET_ALIASES) {
                upstreams.push((alias.alias.clone(), st.upstream(&n, alias.version, &readable)?));
            }
            let mut trained_on = Vec::with_capacity(versions.items.len());
            for v in &versions.items {
                trained_on.push((v.version, st.upstream(&n, v.version, &readable)?.datasets));
            }
            Ok(View { model, versions, metrics, timeline, upstreams, trained_on })
        })
        .await?;
    Ok(render(&view, &token, page_token.as_deref()))
}

fn tag<'a>(model: &'a RegisteredModel, key: &str) -> Option<&'a str> {
    model.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

fn render(view: &View, token: &CsrfToken, page_token: Option<&str>) -> Markup {
    let m = &view.model;
    let name = m.name.as_str();
    let seg = format::segment(name);
    let family = tag(m, FAMILY_TAG);
    let partition = tag(m, PARTITION_TAG);
    let metric_keys: Vec<&str> = {
        let mut keys: Vec<&str> = view.metrics.iter().flat_map(|v| v.metrics.iter().map(|(k, _)| k.as_str())).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.truncate(8);
        keys
    };
    let metric_of = |version: VersionNumber, key: &str| VersionMetrics::find(&view.metrics, version, key);
    let mut crumbs = vec![("Models".to_string(), Some("/models".to_string()))];
    if let Some(f) = family {
        crumbs.push((f.to_string(), Some(format!("/families/{}", format::segment(f)))));
        if let Some(p) = partition.filter(|p| !p.is_empty()) {
            crumbs.push((
                p.to_string(),
                Some(format!("/families/{}{}", format::segment(f), format::query([("path", p)]))),
            ));
        }
    }
    crumbs.push((name.to_string(), None));
    let body = html! {
        h1 { "Model " (name) }
        p.muted {
            "created " (format::time(m.creation_timestamp)) " · updated " (format::time(m.last_updated_timestamp))
            @if let Some(f) = family { " · family " a href=(format!("/families/{}", format::segment(f))) { (f) } }
            @if let Some(p) = partition.filter(|p| !p.is_empty()) { " · partition " (p) }
            " · " a.monitor-link href=(format!("/models/{seg}/monitor")) { "Monitoring" }
        }
        @if !m.description.is_empty() { p { (m.description) } }
        div.columns {
            section {
                h2 { "Aliases" }
                @if m.aliases.is_empty() { p.muted { "No aliases." } }
                @else {
                    table { tbody {
                        @for a in &m.aliases {
                            tr { th { (a.alias) } td { a href=(format!("#v{}", a.version)) { "v" (a.version) } } }
                        }
                    } }
                }
                form.alias-form method="post" action=(format!("/models/{seg}/aliases")) {
                    input type="hidden" name="csrf" value=(token.0);
                    label { "alias " input type="text" name="alias" required size="10" placeholder="champion"; }
                    label { "version " input type="text" name="version" size="5" inputmode="numeric" placeholder="empty = remove"; }
                    label { "why " input type="text" name="reason" size="16"; }
                    button type="submit" { "Set alias" }
                }
            }
            section {
                h2 { "Tags" }
                @if m.tags.is_empty() { p.muted { "No tags." } }
                @else {
                    table { tbody { @for t in &m.tags { tr { th { (t.key) } td { (t.value) } } } } }
                }
            }
        }
        @if !view.upstreams.is_empty() {
            section {
                h2 { "Data behind the aliased versions" }
                @if let Some(graph) = super::lineage::graph(name, &view.upstreams) { (graph) }
                table {
                    thead { tr { th { "alias" } th { "version" } th { "dataset" } th { "digest" } th { "context" } th { "run" } } }
                    tbody {
                        @for (alias, up) in &view.upstreams {
                            @if up.datasets.is_empty() {
                                tr { td { (alias) } td { (up.version) } td.muted colspan="4" { "no datasets recorded" } }
                            }
                            @for d in &up.datasets {
                                tr {
                                    td { (alias) } td { (up.version) }
                                    td { a href=(format!("/datasets/{}/{}", format::segment(&d.name), format::segment(&d.digest))) { (d.name) } }
                                    td { code { (d.digest) } @if d.superseded { " " span.badge title="a newer digest of this name exists" { "superseded" } } }
                                    td { @if let Some(c) = &d.context { (c) } }
                                    td { @if let Some(r) = &d.run_id { (run_link(r, r)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if view.timeline.len() > 1 {
            section {
                h2 { "Versions over time" }
                (svg::line_chart("versions over time", &[Series {
                    name: "version".into(),
                    points: view.timeline.iter().map(|p| (p.time as f64, p.version.get() as f64)).collect(),
                }], Axis::Time, "created", "version"))
            }
        }
        section {
            h2 { "Versions" }
            form method="get" action=(format!("/models/{seg}/compare")) {
                table.nav-rows.versions {
                    thead { tr {
                        th { "compare" } th { "version" } th { "aliases" } th { "stage" } th { "created (UTC)" } th { "run" } th { "trained on" }
                        @for k in &metric_keys { th.num { (k) } }
                    } }
                    tbody {
                        @for v in &view.versions.items {
                            tr id=(format!("v{}", v.version)) {
                                td { input type="checkbox" name="v" value=(v.version) aria-label=(format!("compare version {}", v.version)); }
                                td { "v" (v.version) }
                                td { @for a in &v.aliases { span.badge { (a) } " " } }
                                td { (v.current_stage) }
                                td.nowrap { (format::time(v.creation_timestamp)) }
                                td { @if let Some(r) = v.run_id.as_deref().filter(|r| !r.is_empty()) { (run_link(r, &r[..r.len().min(8)])) } }
                                td.datasets {
                                    @for d in view.trained_on.iter().find(|(n, _)| *n == v.version).map_or(&[][..], |(_, ds)| ds.as_slice()) {
                                        a href=(format!("/datasets/{}/{}", format::segment(&d.name), format::segment(&d.digest))) title=(format!("{} {}", d.digest, d.context.as_deref().unwrap_or(""))) { (d.name) }
                                        " "
                                    }
                                }
                                @for k in &metric_keys {
                                    td.num { @if let Some(x) = metric_of(v.version, k) { (format::metric(x)) } }
                                }
                            }
                        }
                    }
                }
                button type="submit" { "Compare selected" }
            }
            (pager(&format!("/models/{seg}"), &[], page_token, view.versions.next_page_token.as_deref()))
        }
    };
    shell(&format!("Model {name}"), Section::Models, &crumbs, body)
}

#[derive(Deserialize)]
pub struct AliasForm {
    csrf: String,
    alias: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    reason: String,
}

/// Sets (or, with an empty version, removes) an alias; recorded in the audit log.
pub async fn set_alias(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Option<axum::Extension<flotilla_app::auth::Caller>>,
    session: Option<axum::Extension<flotilla_app::auth::UiSession>>,
    Form(form): Form<AliasForm>,
) -> PageResult<Redirect> {
    csrf::verify(&headers, session.as_ref().map(|s| &s.0), &form.csrf).map_err(PageError::forbidden)?;
    let version = match form.version.trim() {
        "" => None,
        v => Some(v.parse::<i64>().map_err(|_| PageError::bad_request(format!("version '{v}' is not a number")))?),
    };
    let change = AliasChange { model: name.clone(), alias: form.alias.trim().to_string(), version };
    let ctx = crate::actor(caller, form.reason);
    s.call(move |st| st.set_aliases(&[change], &ctx)).await?;
    Ok(Redirect::to(&format!("/models/{}", format::segment(&name))))
}
