//! Fleet reports in the UI (`/reports`: a form for the scope and period,
//! the report, a link that reproduces it and one to the self-contained
//! document) and the native endpoint `GET /api/reports/v1/report`
//! (`format=html|json`), which the CLI's `--server` reads. Both compute the
//! report with `flotilla_app::report` over what the caller reads; a family
//! scope needs READ on the family.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::report::request::Format;
use flotilla_app::report::{Report, ReportRequest, report_query};
use flotilla_core::Error;
use flotilla_http::error::ApiError;
use maud::html;

use super::{param, readable, report_html};
use crate::layout::{PageResult, Section, shell};

fn now_ms() -> i64 {
    flotilla_app::monitor::alerts_delivery::now_ms()
}

/// Computes the report `raw` asks for, as the caller sees it.
async fn compute(
    s: &AppState,
    caller: &Option<Extension<Caller>>,
    raw: &str,
) -> Result<(ReportRequest, Report), Error> {
    let now = now_ms();
    let req = report_query(raw, now)?;
    let visible = readable(s, caller, Kind::RegisteredModel);
    if let Some(f) = req.scope.family() {
        let families = readable(s, caller, Kind::Family);
        if !(families.admits(f, Some(f)) || visible.family_wholly(f)) {
            return Err(flotilla_app::auth::denied());
        }
    }
    let asked = req.clone();
    let report = s.call(move |st| flotilla_app::report::build(st, &asked, visible, now)).await?;
    Ok((req, report))
}

/// `GET /api/reports/v1/report`: the report as JSON or as the HTML document.
pub async fn api(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (req, report) = compute(&s, &caller, raw.as_deref().unwrap_or("")).await?;
    Ok(match req.format {
        Format::Json => axum::Json(report).into_response(),
        Format::Html => {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], report_html::document(&report)).into_response()
        }
    })
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
pub async fn page(State(s): State<AppState>, caller: Option<Extension<Caller>>, RawQuery(raw): RawQuery) -> PageResult {
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
        @if let Some((_, report)) = &shown {
            p.links {
                a href=(format!("/reports?{without_format}")) { "Link to this report" }
                " · "
                a href=(format!("/api/reports/v1/report?{without_format}&format=html")) download="report.html" { "Download as HTML" }
                " · "
                a href=(format!("/api/reports/v1/report?{without_format}&format=json")) { "JSON" }
            }
            (report_html::style())
            (report_html::body(report))
        } @else {
            p.muted { "Choose a scope and a period (default: the whole fleet over the last 7 days)." }
        }
    };
    Ok(shell("Reports", Section::Fleet, &[("Reports".into(), None)], body))
}
