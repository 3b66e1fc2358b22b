//! Fleet reports in the UI: `/reports` (a form for the scope and period,
//! the report, a link that reproduces it) and `/reports/document` (the
//! self-contained HTML document, which `GET /api/reports/v1/report?format=html`
//! redirects to). Both compute the report with `flotilla_app::report` over
//! what the caller reads; a family scope needs READ on the family.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::report::{Report, report_query};
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
    };
    Ok((csp(), shell("Reports", Section::Reports, &[("Reports".into(), None)], body)).into_response())
}
