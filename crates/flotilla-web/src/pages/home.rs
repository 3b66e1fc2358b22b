//! The fleet home: how many models, families and versions, the largest
//! families, aliases in use, and the latest alias changes — of what the
//! caller may read (the alias changes only for a caller who reads every
//! model: the log names models).

use axum::Extension;
use axum::extract::State;
use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Kind};
use flotilla_core::fleet::FleetQuery;
use flotilla_store::PageRequest;
use flotilla_store::fleet::AuditQuery;
use maud::{Markup, html};

use super::search::FACET_BOUND;
use super::{audit, readable};
use crate::format;
use crate::layout::{PageResult, Section, shell, stats};

pub async fn page(State(s): State<AppState>, caller: Option<Extension<Caller>>) -> PageResult {
    let visible = readable(&s, &caller, Kind::RegisteredModel);
    let everything = visible.is_everything();
    let ((facets, capped), changes) = s
        .call(move |st| {
            // Unfiltered, or whole families: read from the counters; else counted, bounded.
            let facets = st.bounded_facets(&FleetQuery { visible, ..FleetQuery::default() }, &[], FACET_BOUND)?;
            let changes = match everything {
                true => {
                    st.audit_log(&AuditQuery {
                        page: PageRequest { max_results: Some(10), page_token: None },
                        ..AuditQuery::default()
                    })?
                    .items
                }
                false => Vec::new(),
            };
            Ok((facets, changes))
        })
        .await?;
    let plus = if capped { "+" } else { "" };
    let versions: i64 = facets.stages.iter().map(|(_, n)| n).sum();
    let body = html! {
        h1 { "Fleet" }
        (stats(&[
            ("models", format!("{}{plus}", format::count(facets.total))),
            ("families", format::count(facets.families.len() as i64)),
            ("versions", format::count(versions)),
            ("aliases set", format::count(facets.aliases.iter().map(|(_, n)| n).sum())),
        ]))
        div.columns {
            section {
                h2 { "Families" }
                @if facets.families.is_empty() {
                    p.muted { "No families yet. Create one with the fleet API or " code { "flotilla fleet generate" } "." }
                } @else {
                    table.nav-rows {
                        thead { tr { th { "family" } th.num { "models" } } }
                        tbody {
                            @for (name, n) in facets.families.iter().take(20) {
                                tr {
                                    td { a href=(format!("/families/{}", format::segment(name))) { (name) } }
                                    td.num { (format::count(*n)) }
                                }
                            }
                        }
                    }
                    @if facets.families.len() > 1 {
                        p { a href="/families" { "All families ›" } }
                    }
                }
            }
            section {
                h2 { "Aliases" }
                table {
                    thead { tr { th { "alias" } th.num { "models" } } }
                    tbody {
                        @for (alias, n) in &facets.aliases {
                            tr {
                                td { a href=(format!("/models{}", format::query([("alias", alias.as_str())]))) { (alias) } }
                                td.num { (format::count(*n)) }
                            }
                        }
                    }
                }
                h2 { "Stages" }
                table {
                    thead { tr { th { "stage" } th.num { "versions" } } }
                    tbody {
                        @for (stage, n) in &facets.stages {
                            tr { td { (stage) } td.num { (format::count(*n)) } }
                        }
                    }
                }
            }
        }
        @if everything {
            section {
                h2 { "Recent alias changes" }
                (audit::events_table(&changes))
                p { a href="/audit" { "Whole audit log ›" } }
            }
        }
        (quick_links())
    };
    Ok(shell("Fleet", Section::Fleet, &[], body))
}

fn quick_links() -> Markup {
    html! {
        section.help {
            h2 { "Keyboard" }
            p { kbd { "/" } " search · " kbd { "j" } " / " kbd { "k" } " move through rows · " kbd { "Enter" } " open · " kbd { "n" } " next page" }
            p.muted { "Model APIs: " a href="/api/fleet/v1/openapi.json" { "fleet API (OpenAPI)" } " · MLflow REST under " code { "/api/2.0/mlflow" } " · inference under " code { "/v2" } "." }
        }
    }
}
