//! The web UI: server-rendered HTML pages over the fleet registry, the model
//! registry and tracking, served by `flotilla server` itself.
//!
//! Shape: every page is one handler that makes a few bounded store calls and
//! renders [maud] markup; plots are SVG drawn here ([`svg`]); a small script
//! (`static/app.js`) adds search-as-you-type and keyboard navigation, and
//! every page works without it. Search state lives in the URL, in the fleet
//! API's own query parameters, so a page is a deep link.
//!
//! Invariants:
//! - no page reads unbounded data: lists are keyset pages, plots read
//!   bounded samples ([`flotilla_store::InsightStore`]);
//! - everything user-supplied is escaped (maud escapes every splice);
//! - state-changing forms carry a CSRF token ([`csrf`]), the session's when
//!   signed in (`--auth basic`: `/login`, [`session`]);
//! - artifacts are served as attachments, never rendered inline.

mod assets;
mod csrf;
mod error;
mod format;
mod layout;
mod pages;
mod session;
mod svg;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use flotilla_app::AppState;

/// Who changes something from the UI, for the audit log: the authenticated
/// caller when authentication is on, else the unverified name "web".
fn actor(
    caller: Option<axum::Extension<flotilla_app::auth::Caller>>,
    reason: String,
) -> flotilla_store::fleet::ChangeContext {
    match caller {
        Some(axum::Extension(c)) => {
            flotilla_store::fleet::ChangeContext { actor: c.username, actor_verified: true, reason }
        }
        None => flotilla_store::fleet::ChangeContext::claimed("web", reason),
    }
}

/// A fleet report as one self-contained HTML document (the CLI writes it).
pub fn report_document(report: &flotilla_app::report::Report) -> String {
    pages::report_html::document(report)
}

/// Every page of the UI, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::home::page))
        .route("/models", get(pages::search::page))
        .route("/models/{name}", get(pages::model::page))
        .route("/models/{name}/compare", get(pages::compare::page))
        .route("/models/{name}/monitor", get(pages::monitor_model::page))
        .route("/monitor", get(pages::monitor::page))
        .route("/alerts", get(pages::alerts::page))
        .route("/models/{name}/aliases", post(pages::model::set_alias))
        .route("/families", get(pages::family::list))
        .route("/families/{name}", get(pages::family::page))
        .route("/experiments", get(pages::experiments::list))
        .route("/experiments/{id}", get(pages::experiments::page))
        .route("/datasets", get(pages::datasets::list))
        .route("/datasets/{name}/{digest}", get(pages::datasets::page))
        .route("/runs/{id}", get(pages::run::page))
        .route("/runs/{id}/artifacts/{*path}", get(pages::run::download))
        .route("/audit", get(pages::audit::page))
        .route("/reports", get(pages::report::page))
        .route("/reports/document", get(pages::report::document))
        .route("/reports/scheduled/{id}", get(pages::report::scheduled))
        .route("/audit/events", get(pages::audit::all_events))
        .route("/audit/batches/{id}/rollback", post(pages::audit::rollback))
        .route("/login", get(pages::login::form).post(pages::login::login))
        .route("/logout", post(pages::login::logout))
        .layer(axum::middleware::from_fn(csrf::token_cookie))
        .layer(axum::middleware::map_response(security_headers));
    pages.merge(assets::routes())
}

/// Headers for every page: no inline script or foreign resources, no framing,
/// no MIME sniffing.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
