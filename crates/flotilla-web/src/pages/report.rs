//! Fleet reports in the UI: `/reports` (a form for the scope and period,
//! the report, a link that reproduces it) and `/reports/document` (the
//! self-contained HTML document, which `GET /api/reports/v1/report?format=html`
//! redirects to). Both compute the report with `flotilla_app::report` over
//! what the caller reads; a family scope needs READ on the family.
//! `/reports` also lists the scheduled reports the caller may read, each
//! served from the artifact store at `/reports/scheduled/{id}` (READ on the
//! scope's family; the fleet's and tags' are an admin's) under a sandboxing
//! policy: a stored file is never trusted to run in this origin.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::report::schedule;
use flotilla_app::report::{Report, report_query};
use flotilla_artifacts::ArtifactPath;
use flotilla_core::Error;
use maud::html;

use super::{param, readable, report_html};
use crate::layout::{Section, shell};

/// The pages' policy, with the report's one inline stylesheet allowed (a
/// constant: nothing a user wrote is ever spliced into it; still no script).
const REPORT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn csp() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_SECURITY_POLICY, REPORT_CSP)]
}

/// A stored report: its inline stylesheet and nothing else, in a sandbox.
const STORED_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

/// Scheduled reports listed on the page at most.
const LISTED_RUNS: usize = 20;

fn caller_of(caller: &Option<Extension<Caller>>) -> Option<&Caller> {
    caller.as_ref().map(|Extension(c)| c)
}

/// `GET /reports/scheduled/{id}`: a scheduled report's HTML, from the artifact store.
pub async fn scheduled(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, crate::error::PageError> {
    let id: i64 = id.parse().map_err(|_| Error::invalid(format!("a report id is an integer, got '{id}'")))?;
    let run = s.call(move |st| st.report_run(id)).await?;
    if !schedule::may_read(s.auth.as_deref(), caller_of(&caller), &run.family) {
        return Err(flotilla_app::auth::denied().into());
    }
    if run.path.is_empty() {
        let why = run.error.unwrap_or_default();
        return Err(Error::not_found(format!("scheduled report {id} was not made: {why}")).into());
    }
    let path = ArtifactPath::parse(&run.path).map_err(flotilla_app::error::from_artifact)?;
    let object = s.artifacts.get(&path).await.map_err(flotilla_app::error::from_artifact)?;
    Ok((
        [(header::CONTENT_SECURITY_POLICY, STORED_CSP), (header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from_stream(object.body),
    )
        .into_response())
}

/// The scheduled reports the caller may read, newest first.
async fn scheduled_list(s: &AppState, caller: &Option<Extension<Caller>>) -> Result<maud::Markup, Error> {
    let runs = s.call(|st| st.report_runs(200)).await?;
    let shown: Vec<_> = runs
        .into_iter()
        .filter(|r| schedule::may_read(s.auth.as_deref(), caller_of(caller), &r.family))
        .take(LISTED_RUNS)
        .collect();
    Ok(html! {
        section #scheduled-reports {
            h2 { "Scheduled reports" }
            @if shown.is_empty() {
                p.muted { "No scheduled report made yet (rules: flotilla server --report, or /api/reports/v1/schedules)." }
            } @else {
                table {
                    thead { tr { th { "made" } th { "schedule" } th { "scope" } th { "report" } th { "webhook" } } }
                    tbody {
                        @for r in &shown {
                            tr {
                                td { (flotilla_app::report::request::date(r.time)) }
                                td { (r.name) }
                                td { @if r.query.is_empty() { "fleet" } @else { (r.query) } }
                                td {
                                    @if r.path.is_empty() { "failed: " (r.error.clone().unwrap_or_default()) }
                                    @else { a href=(schedule::run_link(r.id)) { "open (" (r.bytes) " bytes)" } }
                                }
                                td { (r.notified.clone().unwrap_or_else(|| "—".into())) }
                            }
                        }
                    }
                }
            }
        }
    })
}

fn now_ms() -> i64 {
    flotilla_app::monitor::alerts_delivery::now_ms()
}

/// Computes the report `raw` asks for, as the caller sees it.
async fn compute(s: &AppState, caller: &Option<Extension<Caller>>, raw: &str) -> Result<Report, Error> {
    let now = now_ms();
    let req = report_query(raw, now)?;
    let visible = readable(s, caller, Kind::RegisteredModel);
    flotilla_app::report::may_read(&req.scope, &readable(s, caller, Kind::Family), &visible)?;
    s.call(move |st| flotilla_app::report::build(st, &req, visible, now)).await
}

/// `GET /reports/document`: the self-contained HTML document.
pub async fn document(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, crate::error::PageError> {
    let report = compute(&s, &caller, raw.as_deref().unwrap_or("")).await?;
    let html = report_html::document(&report);
    Ok((csp(), [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

fn field(query: &str, name: &str, label: &str, hint: &str) -> maud::Markup {
    html! {
        label { (label) " "
            input type="text" name=(name) value=[param(query, name)] placeholder=(hint);
        }
        " "
    }
}

/// `GET /reports`: the form, and the report once one is asked for.
pub async fn page(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, crate::error::PageError> {
    let query = raw.unwrap_or_default();
    let shown = match query.is_empty() {
        true => None,
        false => Some(compute(&s, &caller, &query).await?),
    };
    let scheduled = scheduled_list(&s, &caller).await?;
    let without_format: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(query.as_bytes()).filter(|(k, v)| k != "format" && !v.is_empty()))
        .finish();
    let body = html! {
        h1 { "Fleet reports" }
        form.report-form action="/reports" method="get" {
            (field(&query, "family", "Family", "all families"))
            (field(&query, "partition", "Partition", "key=value"))
            (field(&query, "tag", "Tag", "key=value"))
            (field(&query, "from", "From", "YYYY-MM-DD"))
            (field(&query, "to", "To", "YYYY-MM-DD"))
            (field(&query, "last", "Or last", "7d"))
            (field(&query, "compare_to", "Compare to", "FROM..TO (default: the period before)"))
            (field(&query, "metric", "Key metric", "first champion metric"))
            button type="submit" { "Show report" }
        }
        @if let Some(report) = &shown {
            p.links {
                a href=(format!("/reports?{without_format}")) { "Link to this report" }
                " · "
                a href=(format!("/reports/document?{without_format}")) download="report.html" { "Download as HTML" }
                " · "
                a href=(format!("/api/reports/v1/report?{without_format}&format=json")) { "JSON" }
            }
            (report_html::style())
            (report_html::body(report))
        } @else {
            p.muted { "Choose a scope and a period (default: the whole fleet over the last 7 days)." }
        }
        (scheduled)
    };
    Ok((csp(), shell("Reports", Section::Reports, &[("Reports".into(), None)], body)).into_response())
}
