//! A run: its info, params, latest metrics, metric-history plots, tags,
//! datasets, and an artifact browser whose files download as attachments.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::AppState;
use flotilla_app::error::from_artifact;
use flotilla_artifacts::{ArtifactPath, FileInfo, SourceUri, parse_source_uri};
use flotilla_core::Error;
use flotilla_core::model::{Metric, Run};
use flotilla_store::PageRequest;
use maud::{Markup, html};

use super::{param, raw_query};
use crate::format;
use crate::layout::{PageError, PageResult, Section, shell};
use crate::svg::{self, Axis, Series};

/// Metrics plotted per run page, and points read per metric.
const PLOTTED_METRICS: usize = 6;
const HISTORY_POINTS: i64 = 2_000;
/// Entries listed per artifact directory.
const LISTED_FILES: usize = 500;

/// The run's artifact root in the store, if it lives there.
fn artifact_root(run: &Run) -> Result<ArtifactPath, Error> {
    match parse_source_uri(&run.info.artifact_uri) {
        Ok(SourceUri::Artifacts(root)) => Ok(root),
        Ok(_) | Err(_) => Err(Error::invalid(format!(
            "the run's artifact location '{}' is not served by this server",
            run.info.artifact_uri
        ))),
    }
}

pub async fn page(State(s): State<AppState>, Path(id): Path<String>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let dir = ArtifactPath::parse_dir(&param(&raw, "path").unwrap_or_default()).map_err(from_artifact)?;
    let rid = id.clone();
    let (run, histories) = s
        .call(move |st| {
            let run = st.get_run(&rid)?;
            let mut keys: Vec<String> = run.data.metrics.iter().map(|m| m.key.clone()).collect();
            keys.sort();
            keys.truncate(PLOTTED_METRICS);
            let page = PageRequest { max_results: Some(HISTORY_POINTS), page_token: None };
            let histories = keys
                .into_iter()
                .map(|k| {
                    let h = st.metric_history(&rid, &k, &page)?;
                    Ok((k, h.items, h.next_page_token.is_some()))
                })
                .collect::<Result<Vec<_>, flotilla_store::StoreError>>()?;
            Ok((run, histories))
        })
        .await?;
    let listing = match artifact_root(&run) {
        Ok(root) => {
            let listed = root.join(&dir).map_err(from_artifact)?;
            let files = s.artifacts.list(&listed).await.map_err(from_artifact)?;
            Some((root, files.into_iter().filter(|f| f.path != listed).take(LISTED_FILES).collect::<Vec<_>>()))
        }
        Err(_) => None,
    };
    Ok(render(&run, &histories, &dir, listing.as_ref()))
}

fn render(
    run: &Run,
    histories: &[(String, Vec<Metric>, bool)],
    dir: &ArtifactPath,
    listing: Option<&(ArtifactPath, Vec<FileInfo>)>,
) -> Markup {
    let info = &run.info;
    let id_seg = format::segment(&info.run_id);
    let title = if info.run_name.is_empty() { info.run_id.clone() } else { info.run_name.clone() };
    let crumbs = [
        ("Experiments".to_string(), Some("/experiments".to_string())),
        (
            format!("experiment {}", info.experiment_id),
            Some(format!("/experiments/{}", format::segment(&info.experiment_id))),
        ),
        (title.clone(), None),
    ];
    let mut metrics: Vec<&Metric> = run.data.metrics.iter().collect();
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    let body = html! {
        h1 { "Run " (title) }
        p.muted {
            "id " code { (info.run_id) } " · " (info.status.as_str()) " · started " (format::time(info.start_time))
            @if let Some(end) = info.end_time { " · took " (format::duration(end - info.start_time)) }
            @if !info.user_id.is_empty() { " · by " (info.user_id) }
        }
        section.plots {
            h2 { "Metric history" }
            @if histories.is_empty() { p.muted { "No metrics logged." } }
            div.small-multiples {
                @for (key, points, more) in histories {
                    figure.plot.metric-history data-metric=(key) {
                        figcaption { (key) @if *more { " (first " (format::count(HISTORY_POINTS)) " points)" } }
                        (svg::line_chart(&format!("history of {key}"), &[Series {
                            name: key.clone(),
                            points: points.iter().map(|m| (m.step as f64, m.value)).collect(),
                        }], Axis::Number, "step", key))
                    }
                }
            }
            @if run.data.metrics.len() > PLOTTED_METRICS { p.muted { "Plotted the first " (PLOTTED_METRICS) " metrics by name." } }
        }
        div.columns {
            section {
                h2 { "Metrics (latest)" }
                table { tbody { @for m in &metrics { tr { th { (m.key) } td.num { (format::metric(m.value)) } td.muted { "step " (m.step) } } } } }
                h2 { "Parameters" }
                @if run.data.params.is_empty() { p.muted { "None." } }
                table { tbody { @for p in &run.data.params { tr { th { (p.key) } td { (p.value) } } } } }
            }
            section {
                h2 { "Tags" }
                table { tbody { @for t in &run.data.tags { tr { th { (t.key) } td { (t.value) } } } } }
                h2 { "Datasets" }
                @if run.inputs.dataset_inputs.is_empty() { p.muted { "None logged." } }
                @else {
                    table {
                        thead { tr { th { "name" } th { "digest" } th { "source" } th { "context" } } }
                        tbody { @for d in &run.inputs.dataset_inputs {
                            tr { td { (d.dataset.name) } td { code { (d.dataset.digest) } } td { (d.dataset.source_type) } td { @for t in &d.tags { (t.key) "=" (t.value) " " } } }
                        } }
                    }
                }
            }
        }
        section id="artifacts" {
            h2 { "Artifacts" @if !dir.is_root() { " / " (dir.as_str()) } }
            @match listing {
                None => p.muted { "Stored outside this server: " code { (info.artifact_uri) } },
                Some((root, files)) => {
                    @if !dir.is_root() {
                        @let up = dir.parent().map(|p| p.as_str().to_string()).unwrap_or_default();
                        p { a href=(format!("/runs/{id_seg}{}#artifacts", format::query([("path", up.as_str())]))) { "↑ up" } }
                    }
                    @if files.is_empty() { p.muted { "No artifacts here." } }
                    @else {
                        table.nav-rows.artifacts {
                            thead { tr { th { "name" } th.num { "size" } } }
                            tbody {
                                @for f in files {
                                    @let rel = f.path.as_str().strip_prefix(root.as_str()).unwrap_or(f.path.as_str()).trim_start_matches('/');
                                    @let name = f.path.segments().next_back().unwrap_or("");
                                    tr {
                                        @if f.is_dir {
                                            td { a href=(format!("/runs/{id_seg}{}#artifacts", format::query([("path", rel)]))) { (name) "/" } }
                                            td {}
                                        } @else {
                                            td { a href=(format!("/runs/{id_seg}/artifacts/{}", rel.split('/').map(format::segment).collect::<Vec<_>>().join("/"))) download=(name) { (name) } }
                                            td.num { (f.size.map(format::bytes).unwrap_or_default()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    shell(&format!("Run {title}"), Section::Experiments, &crumbs, body)
}

/// A run's artifact as a download: always an attachment of an opaque type,
/// so a stored HTML or SVG file is never rendered in this site's origin.
pub async fn download(
    State(s): State<AppState>,
    Path((id, path)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let rel = ArtifactPath::parse(&path).map_err(from_artifact)?;
    let run = s.call(move |st| st.get_run(&id)).await?;
    let full = artifact_root(&run)?.join(&rel).map_err(from_artifact)?;
    let object = s.artifacts.get(&full).await.map_err(from_artifact)?;
    let name: String = rel
        .segments()
        .next_back()
        .unwrap_or("artifact")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect();
    let mut response = Body::from_stream(object.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    Ok(response)
}
