//! Versions of one model side by side: their metrics in a table and, per
//! metric, a bar for each version.

use axum::extract::{Path, State};
use axum::http::Uri;
use flotilla_app::{AppState, fleet_query};
use flotilla_core::VersionNumber;
use flotilla_core::model::ModelVersion;
use flotilla_store::insights::VersionMetrics;
use maud::html;

use super::{raw_query, run_link};
use crate::format;
use crate::layout::{PageError, PageResult, Section, shell};
use crate::svg;

const MAX_COMPARED: usize = 10;

pub async fn page(State(s): State<AppState>, Path(name): Path<String>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let mut numbers = Vec::new();
    for v in fleet_query::all(&raw, "v") {
        let n: i64 = v.trim().parse().map_err(|_| PageError::bad_request(format!("version '{v}' is not a number")))?;
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    if numbers.is_empty() {
        return Err(PageError::bad_request("choose at least one version to compare (?v=1&v=2)"));
    }
    if numbers.len() > MAX_COMPARED {
        return Err(PageError::bad_request(format!("at most {MAX_COMPARED} versions can be compared at once")));
    }
    let n = name.clone();
    let wanted = numbers.clone();
    let (versions, metrics): (Vec<ModelVersion>, Vec<VersionMetrics>) = s
        .call(move |st| {
            // Each in turn, as the store would refuse it: the first bad or
            // missing version is the answer.
            let mut versions = Vec::with_capacity(wanted.len());
            for &v in &wanted {
                versions.push(st.get_version(&n, VersionNumber::from_param(v)?)?);
            }
            let numbers: Vec<VersionNumber> = versions.iter().map(|v| v.version).collect();
            Ok((versions, st.version_metrics(&n, &numbers)?))
        })
        .await?;
    let mut keys: Vec<&str> = metrics.iter().flat_map(|m| m.metrics.iter().map(|(k, _)| k.as_str())).collect();
    keys.sort_unstable();
    keys.dedup();
    let value = |version: VersionNumber, key: &str| VersionMetrics::find(&metrics, version, key);
    let seg = format::segment(&name);
    let crumbs = [
        ("Models".to_string(), Some("/models".to_string())),
        (name.clone(), Some(format!("/models/{seg}"))),
        ("compare".to_string(), None),
    ];
    let body = html! {
        h1 { "Compare versions of " (name) }
        table.compare {
            thead { tr { th { "" } @for v in &versions { th { a href=(format!("/models/{seg}#v{}", v.version)) { "v" (v.version) } } } } }
            tbody {
                tr { th { "aliases" } @for v in &versions { td { (v.aliases.join(", ")) } } }
                tr { th { "stage" } @for v in &versions { td { (v.current_stage) } } }
                tr { th { "created (UTC)" } @for v in &versions { td.nowrap { (format::time(v.creation_timestamp)) } } }
                tr { th { "run" } @for v in &versions { td { @if let Some(r) = v.run_id.as_deref().filter(|r| !r.is_empty()) { (run_link(r, &r[..r.len().min(8)])) } } } }
                tr { th { "source" } @for v in &versions { td { code { (v.source) } } } }
                @for k in &keys {
                    tr.metric { th { (k) } @for v in &versions { td.num { @if let Some(x) = value(v.version, k) { (format::metric(x)) } @else { "–" } } } }
                }
            }
        }
        @if keys.is_empty() { p.muted { "These versions have no metrics." } }
        div.small-multiples {
            @for k in &keys {
                figure.plot {
                    figcaption { (k) }
                    @let rows: Vec<(String, f64)> = versions.iter().filter_map(|v| value(v.version, k).map(|x| (format!("v{}", v.version), x))).collect();
                    (svg::bars(&format!("{k} by version"), &rows))
                }
            }
        }
    };
    Ok(shell(&format!("Compare {name}"), Section::Models, &crumbs, body))
}
