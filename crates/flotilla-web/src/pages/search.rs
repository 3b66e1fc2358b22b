//! Search over every registered model: the fleet API's filters as a form,
//! facet counts that narrow the search, keyset paging. The URL carries the
//! whole state (the fleet API's own parameters); `fragment=results` answers
//! only the results, for search-as-you-type.

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use flotilla_app::auth::{Caller, Kind};
use flotilla_app::{AppState, fleet_query};
use flotilla_core::fleet::{self, Facets, FleetModel, FleetOrder, FleetQuery};
use flotilla_store::insights::FacetBound;
use maud::{Markup, html};

use super::{PAGE_SIZE, alias_badges, model_link, raw_query, readable};
use crate::format;
use crate::layout::{PageError, PageResult, Section, pager, shell};

/// A filtered search's facets count at most 1,000 matches, and only those
/// read within 5 ms, so a page stays fast however many models match and
/// however rare the matches are in the walk (a metric bound far from the
/// sort: 25-56 ms to read 1,000 at 10^6 models without the time bound).
pub(crate) const FACET_BOUND: FacetBound = FacetBound { matches: 1_000, time: Duration::from_millis(5) };

/// The current search's parameters, to build links that change one of them.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Self {
        Self(form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
    fn get(&self, key: &str) -> &str {
        self.0.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }
    fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
    /// The search with `key=value` added (replacing a single-valued key), first page.
    fn with(&self, key: &str, value: &str, repeated: bool) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .0
            .iter()
            .filter(|(k, v)| k != "page_token" && k != "fragment" && (k != key || (repeated && v != value)))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push((key, value));
        format!("/models{}", format::query(pairs))
    }
    /// The search without one `key=value`.
    fn without(&self, key: &str, value: &str) -> String {
        let pairs = self
            .0
            .iter()
            .filter(|(k, v)| k != "page_token" && k != "fragment" && !(k == key && v == value))
            .map(|(k, v)| (k.as_str(), v.as_str()));
        format!("/models{}", format::query(pairs))
    }
    /// The query string without empty values.
    fn non_empty_query(&self) -> String {
        format::query(self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))).trim_start_matches('?').to_string()
    }
    fn pairs(&self) -> Vec<(&str, &str)> {
        self.0.iter().filter(|(k, _)| k != "fragment").map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

pub async fn page(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Result<Response, PageError> {
    // A form sends its empty fields too; they mean "no filter".
    let raw = Params::parse(&raw_query(&uri)).non_empty_query();
    let params = Params::parse(&raw);
    let mut q = fleet_query::parse(&raw, &["facet", "fragment"])?;
    q.max_results = Some(q.max_results.unwrap_or(PAGE_SIZE).min(200));
    q.visible = readable(&s, &caller, Kind::RegisteredModel);
    let tag_keys: Vec<String> =
        params.all("facet").into_iter().filter(|k| !k.is_empty()).take(5).map(str::to_string).collect();
    let search = q.clone();
    let facet_query = FleetQuery { page_token: None, ..q.clone() };
    // The page and its facets are read side by side, on two blocking threads.
    let (page, facets) = tokio::join!(
        s.call(move |st| {
            let models = st.search_fleet(&search)?;
            let metric = match &search.sort.by {
                FleetOrder::Metric(m) => {
                    let names: Vec<String> = models.items.iter().map(|m| m.name.clone()).collect();
                    Some((format!("{}:{}", m.alias, m.key), st.alias_metric_values(&names, &m.alias, &m.key)?))
                }
                FleetOrder::Name | FleetOrder::Created | FleetOrder::Updated => None,
            };
            Ok((models, metric))
        }),
        s.call(move |st| st.bounded_facets(&facet_query, &tag_keys, FACET_BOUND)),
    );
    let ((models, metric), facets) = (page?, facets?);
    let found = Found { models: &models.items, metric: metric.as_ref(), facets: &facets.0, capped: facets.1 };
    let results = results(&params, &q, &found, models.next_page_token.as_deref());
    if params.get("fragment") == "results" {
        return Ok(results.into_response());
    }
    Ok(page_markup(&params, results)?.into_response())
}

fn page_markup(params: &Params, results: Markup) -> PageResult {
    let sorts = [
        ("name", "name"),
        ("-updated", "recently updated"),
        ("-created", "newest"),
        ("champion:val_rmse", "champion val_rmse ↑"),
        ("-champion:val_rmse", "champion val_rmse ↓"),
    ];
    let current_sort = params.get("order_by");
    let body = html! {
        h1 { "Models" }
        form.filters id="search" method="get" action="/models" data-live="results" {
            label { "name contains " input type="search" name="contains" value=(params.get("contains")) autofocus placeholder="e.g. store=004"; }
            label { "family " input type="text" name="family" value=(params.get("family")) size="14"; }
            label { "partition " input type="text" name="partition" value=(params.get("partition")) placeholder="region=west" size="14"; }
            label { "alias " input type="text" name="alias" value=(params.get("alias")) placeholder="champion" size="10"; }
            label { "metric " input type="text" name="metric" value=(params.get("metric")) placeholder="champion:val_rmse < 3.2" size="20"; }
            label { "sort "
                select name="order_by" {
                    @for (value, text) in sorts {
                        option value=(value) selected[current_sort == value] { (text) }
                    }
                    @if !current_sort.is_empty() && !sorts.iter().any(|(v, _)| *v == current_sort) {
                        option value=(current_sort) selected { (current_sort) }
                    }
                }
            }
            @for (k, v) in params.0.iter().filter(|(k, _)| matches!(k.as_str(), "tag" | "no_alias" | "facet" | "prefix")) {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" { "Search" }
            a href="/models" { "clear" }
        }
        (results)
    };
    Ok(shell("Models", Section::Models, &[("Models".into(), None)], body))
}

/// What a search found: a page of models, the sort metric's value for each
/// (when sorting by one), and the facet counts.
struct Found<'a> {
    models: &'a [FleetModel],
    metric: Option<&'a (String, Vec<Option<f64>>)>,
    facets: &'a Facets,
    /// The facets stopped counting at [`FACET_BOUND`].
    capped: bool,
}

fn results(params: &Params, q: &FleetQuery, found: &Found<'_>, next: Option<&str>) -> Markup {
    let Found { models, metric, facets, capped } = *found;
    let filters: Vec<(&str, &str)> = params
        .0
        .iter()
        .filter(|(k, v)| {
            !v.is_empty() && !matches!(k.as_str(), "page_token" | "fragment" | "order_by" | "max_results" | "facet")
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    html! {
        div.with-facets id="results" {
            aside.facets aria-label="Facets" {
                @if capped {
                    // Cut short (in time, too): at least the models the page shows match.
                    p.total { strong { (format::count(facets.total.max(models.len() as i64))) "+" } " models match" }
                    p.muted { "Counts below are over the first " (format::count(facets.total)) "; narrow the search for exact counts." }
                } @else {
                    p.total { strong { (format::count(facets.total)) } " models match" }
                }
                @if !filters.is_empty() {
                    ul.chips {
                        @for (k, v) in &filters {
                            li { a.chip href=(params.without(k, v)) title="remove this filter" { (k) ": " (v) " ×" } }
                        }
                    }
                }
                (facet_list("Family", "family", &facets.families, params, false))
                (facet_list("Alias", "alias", &facets.aliases, params, true))
                @if !facets.stages.is_empty() {
                    h3 { "Stage (versions)" }
                    ul { @for (stage, n) in &facets.stages { li { (stage) " " span.n { (format::count(*n)) } } } }
                }
                @for (key, values) in &facets.tags {
                    @let title = format!("Tag {key}");
                    @let counts: Vec<(String, i64)> = values.iter().map(|(v, n)| (format!("{key}={v}"), *n)).collect();
                    (facet_list(&title, "tag", &counts, params, true))
                }
                form.facet-tag method="get" action="/models" {
                    @for (k, v) in params.pairs().into_iter().filter(|(k, _)| *k != "page_token") { input type="hidden" name=(k) value=(v); }
                    label { "count a tag " input type="text" name="facet" placeholder="tag key" size="8"; }
                }
            }
            div.list {
                @if models.is_empty() {
                    p.muted { "No model matches." }
                } @else {
                    table.nav-rows.models {
                        thead { tr {
                            th { "model" } th { "family" } th { "partition" } th { "aliases" } th.num { "latest" }
                            @if let Some((m, _)) = metric { th.num { (m) } }
                            th { "updated (UTC)" }
                        } }
                        tbody {
                            @for (i, m) in models.iter().enumerate() {
                                tr {
                                    td { (model_link(&m.name)) }
                                    td { @if let Some(f) = &m.family { a href=(format!("/families/{}", format::segment(f))) { (f) } } }
                                    td {
                                        @if let Some(f) = &m.family {
                                            @if !m.partition.is_empty() {
                                                @let path = fleet::path_string(&m.partition);
                                                a href=(format!("/families/{}{}", format::segment(f), format::query([("path", path.as_str())]))) { (path) }
                                            }
                                        }
                                    }
                                    td { (alias_badges(&m.name, &m.aliases)) }
                                    td.num { @if let Some(v) = m.latest_version { "v" (v) } }
                                    @if let Some((_, values)) = metric {
                                        td.num { @if let Some(Some(v)) = values.get(i) { (format::metric(*v)) } }
                                    }
                                    td.nowrap { (format::time(m.last_updated_timestamp)) }
                                }
                            }
                        }
                    }
                }
                (pager("/models", &params.pairs(), q.page_token.as_deref(), next))
            }
        }
    }
}

fn facet_list(title: &str, key: &str, counts: &[(String, i64)], params: &Params, repeated: bool) -> Markup {
    if counts.is_empty() {
        return html! {};
    }
    let chosen = params.all(key);
    html! {
        h3 { (title) }
        ul {
            @for (value, n) in counts.iter().take(15) {
                li {
                    @if chosen.contains(&value.as_str()) {
                        a.on href=(params.without(key, value)) aria-pressed="true" { (value) } " " span.n { (format::count(*n)) }
                    } @else {
                        a href=(params.with(key, value, repeated)) { (value) } " " span.n { (format::count(*n)) }
                    }
                }
            }
        }
    }
}
