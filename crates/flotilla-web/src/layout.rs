//! The page shell (head, navigation, search box, breadcrumbs) and small
//! shared pieces of markup. Error pages are in `error.rs`.

use maud::{DOCTYPE, Markup, html};

pub use crate::error::{PageError, PageResult};
use crate::format;
use crate::session::signed_in;

/// Which top-level section a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Fleet,
    Models,
    Families,
    Experiments,
    Datasets,
    Health,
    Alerts,
    Reports,
    Audit,
}

const SECTIONS: [(Section, &str, &str); 9] = [
    (Section::Fleet, "/", "Fleet"),
    (Section::Models, "/models", "Models"),
    (Section::Families, "/families", "Families"),
    (Section::Experiments, "/experiments", "Experiments"),
    (Section::Datasets, "/datasets", "Datasets"),
    (Section::Health, "/monitor", "Health"),
    (Section::Alerts, "/alerts", "Alerts"),
    (Section::Reports, "/reports", "Reports"),
    (Section::Audit, "/audit", "Audit log"),
];

/// A breadcrumb: text, and a link unless it is the current page.
pub type Crumb = (String, Option<String>);

/// A whole page.
pub fn shell(title: &str, section: Section, crumbs: &[Crumb], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · flotilla" }
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "flotilla" }
                    nav {
                        @for (s, href, label) in SECTIONS {
                            a href=(href) aria-current=[(s == section).then_some("page")] { (label) }
                        }
                    }
                    form.quick action="/models" method="get" role="search" {
                        input type="search" name="contains" placeholder="Search models  ( / )" aria-label="Search models"
                            data-shortcut="/";
                    }
                    @if let Some(who) = signed_in() {
                        form.who action="/logout" method="post" {
                            span { "Signed in as " strong.user { (who.username) } }
                            input type="hidden" name="csrf" value=(who.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                @if !crumbs.is_empty() {
                    nav.crumbs aria-label="Breadcrumbs" {
                        @for (i, (text, href)) in crumbs.iter().enumerate() {
                            @if i > 0 { span.sep { "›" } }
                            @match href {
                                Some(h) => a href=(h) { (text) },
                                None => span aria-current="page" { (text) },
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// "Next page" (and "first page") links for a keyset-paged list. `base`
/// is the page's URL without the token; `params` its other query pairs.
pub fn pager(path: &str, params: &[(&str, &str)], current: Option<&str>, next: Option<&str>) -> Markup {
    let link = |token: &str| {
        let mut pairs: Vec<(&str, &str)> = params.iter().filter(|(k, _)| *k != "page_token").copied().collect();
        pairs.push(("page_token", token));
        format!("{path}{}", format::query(pairs))
    };
    html! {
        nav.pager aria-label="Pages" {
            @if current.is_some() {
                a href=(link("")) rel="first" { "« First page" }
            }
            @if let Some(token) = next {
                a href=(link(token)) rel="next" data-key="n" { "Next page ›" }
            }
        }
    }
}

/// A row of labelled numbers (the fleet home's counters).
pub fn stats(items: &[(&str, String)]) -> Markup {
    html! {
        dl.stats {
            @for (label, value) in items {
                div { dt { (label) } dd { (value) } }
            }
        }
    }
}
