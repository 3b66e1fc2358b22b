//! One module per page. Handlers read the URL, make a few bounded store
//! calls through [`AppState::call`](flotilla_app::AppState::call) and render.

pub mod alerts;
pub mod audit;
pub mod compare;
pub mod datasets;
pub mod experiments;
pub mod family;
pub mod home;
pub mod lineage;
pub mod login;
pub mod model;
pub mod monitor;
pub mod monitor_model;
pub mod monitor_plots;
pub mod report;
pub mod report_html;
pub mod run;
pub mod search;

use axum::Extension;
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Kind};
use flotilla_core::fleet::AliasTarget;
use flotilla_core::visible::Visible;
use maud::{Markup, html};

use crate::format;

/// Rows per page in every list.
pub const PAGE_SIZE: i64 = 50;

/// What the signed-in caller may read of `kind`, for a list to show only
/// that (everything with `--auth none` and for admins).
pub fn readable(s: &AppState, caller: &Option<Extension<Caller>>, kind: Kind) -> Visible {
    s.readable(caller.as_ref().map(|Extension(c)| c), kind)
}

/// A link to a model's page.
pub fn model_link(name: &str) -> Markup {
    html! { a href=(format!("/models/{}", format::segment(name))) { (name) } }
}

/// Alias badges, each linking to its version.
pub fn alias_badges(model: &str, aliases: &[AliasTarget]) -> Markup {
    html! {
        @for a in aliases {
            a.badge href=(format!("/models/{}#v{}", format::segment(model), a.version)) title=(format!("{} → version {}", a.alias, a.version)) {
                (a.alias) " v" (a.version)
            }
            " "
        }
    }
}

/// A link to a run's page.
pub fn run_link(run_id: &str, text: &str) -> Markup {
    html! { a href=(format!("/runs/{}", format::segment(run_id))) { (text) } }
}

/// The `?…` of a request, without the `?`.
pub fn raw_query(uri: &axum::http::Uri) -> String {
    uri.query().unwrap_or("").to_string()
}

/// The first value of a query parameter.
pub fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string())
}
