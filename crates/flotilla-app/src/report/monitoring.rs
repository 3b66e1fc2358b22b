//! The sections read from lineage and telemetry: staleness (age of
//! champions and of their training data, models never served), serving
//! (traffic and errors from the day roll-ups, latency against the health
//! job's objective), drift (families × weeks of failing drift checks, the
//! most drifted models and their features), data (datasets in use,
//! champions on superseded data), and the quality section's regressions and
//! improvements after promotions. Each is shown only to a caller who reads
//! the scope whole (they name models), else says so.

use flotilla_store::report::{FamilyStaleness, ReportFilter, STALE_DAYS};
use flotilla_store::{Store, StoreResult, Visible};

use super::sections::{MAX_BUCKETS, TOP_FAMILIES, table};
use super::{Cell, Headline, Plot, ReportRequest, ReportScope, Section};
use crate::monitor::drift_read::{DriftAsk, version_drift};
use crate::monitor::health::job::Objectives;
use crate::report::request::date;
use flotilla_store::report::WEEK_MS;

/// Models named in a list at most.
pub const TOP_MODELS: usize = 10;
/// Models whose features' drift is read for the drift section.
pub const DRIFT_FEATURE_MODELS: usize = 5;
/// Features listed per drifted model at most.
pub const FEATURES_PER_MODEL: usize = 5;
/// Datasets listed at most.
pub const TOP_DATASETS: usize = 20;

/// The store's filter for a scope.
pub fn filter(scope: &ReportScope) -> ReportFilter {
    match scope {
        ReportScope::Fleet => ReportFilter::default(),
        ReportScope::Family { family } => ReportFilter { family: Some(family.clone()), ..ReportFilter::default() },
        ReportScope::Partition { family, key, value } => {
            ReportFilter { family: Some(family.clone()), partition: Some((key.clone(), value.clone())), tag: None }
        }
        ReportScope::Tag { key, value } => {
            ReportFilter { tag: Some((key.clone(), value.clone())), ..ReportFilter::default() }
        }
    }
}

/// Whether the caller reads every model of the scope.
pub fn reads_whole(scope: &ReportScope, visible: &Visible) -> bool {
    visible.is_everything() || scope.family().is_some_and(|f| visible.family_wholly(f))
}

const NOT_WHOLE: &str = "Not shown: this section names models, and you do not read every model of this scope.";

fn family_label(f: &str) -> String {
    if f.is_empty() { "(no family)".into() } else { f.to_string() }
}

fn section(id: &str, title: &str, text: Vec<String>, plot: Option<Plot>, tables: Vec<super::Table>) -> Section {
    Section { id: id.into(), title: title.into(), text, plot, tables }
}

/// Staleness; returns the per-family figures for the data section.
pub fn staleness(
    store: &dyn Store,
    req: &ReportRequest,
    whole: bool,
    summary: &mut Vec<Headline>,
    sections: &mut Vec<Section>,
) -> StoreResult<Vec<FamilyStaleness>> {
    let columns = [
        "family",
        "models",
        "never_served",
        "champions",
        "champion_age_avg_days",
        "champion_age_max_days",
        "stale_champions",
        "training_data_age_avg_days",
    ];
    let oldest_columns = ["model", "family", "version", "age_days", "training_data_age_days", "superseded_data"];
    if !whole {
        sections.push(section(
            "staleness",
            "Staleness",
            vec![NOT_WHOLE.into()],
            None,
            vec![
                table("staleness_families", &columns, Vec::new()),
                table("staleness_oldest", &oldest_columns, Vec::new()),
            ],
        ));
        return Ok(Vec::new());
    }
    let f = filter(&req.scope);
    let at = req.period.to;
    let per_family = store.staleness(&f, at)?;
    let sum = |g: fn(&FamilyStaleness) -> i64| per_family.iter().map(g).sum::<i64>();
    let (models, never, champions, stale) =
        (sum(|s| s.models), sum(|s| s.never_served), sum(|s| s.champions), sum(|s| s.champions_stale));
    let mut text = vec![
        format!(
            "{champions} champions; {stale} of them older than {STALE_DAYS} days at the end of the period ({}).",
            date(at)
        ),
        format!("{never} of {models} models have never been served (no telemetry recorded)."),
        "Ages are of the champion version (its registration) and of the newest dataset it was trained on (lineage)."
            .into(),
    ];
    if per_family.len() > TOP_FAMILIES {
        text.push(format!("The {TOP_FAMILIES} largest of {} families are listed; totals cover all.", per_family.len()));
    }
    summary.push(Headline { label: "stale champions".into(), now: stale, before: None });
    summary.push(Headline { label: "models never served".into(), now: never, before: None });
    let rows = per_family
        .iter()
        .take(TOP_FAMILIES)
        .map(|s| {
            vec![
                Cell::Text(family_label(&s.family)),
                Cell::Int(s.models),
                Cell::Int(s.never_served),
                Cell::Int(s.champions),
                Cell::Num(s.champion_age_avg),
                Cell::Num(s.champion_age_max),
                Cell::Int(s.champions_stale),
                Cell::Num(s.data_age_avg),
            ]
        })
        .collect();
    let oldest = store
        .oldest_champions(&f, at, TOP_MODELS)?
        .into_iter()
        .map(|c| {
            vec![
                Cell::Text(c.model),
                Cell::Text(family_label(&c.family)),
                Cell::Int(c.version),
                Cell::Num(Some(c.age_days)),
                Cell::Num(c.data_age_days),
                Cell::Text(if c.superseded { "yes" } else { "no" }.into()),
            ]
        })
        .collect();
    sections.push(section(
        "staleness",
        "Staleness",
        text,
        Some(Plot { label: 0, value: 4, column: None, caption: "Mean champion age per family, days".into() }),
        vec![table("staleness_families", &columns, rows), table("staleness_oldest", &oldest_columns, oldest)],
    ));
    Ok(per_family)
}

/// Serving: traffic and errors per family and per bucket, latency against the objective.
pub fn serving(
    store: &dyn Store,
    req: &ReportRequest,
    whole: bool,
    summary: &mut Vec<Headline>,
    sections: &mut Vec<Section>,
) -> StoreResult<()> {
    let columns = [
        "family",
        "models_served_peak_day",
        "requests",
        "rows",
        "errors",
        "error_rate",
        "latency_warn",
        "latency_fail",
        "p99_avg_ms",
    ];
    // A table of its own: with the traffic's, too wide for a printed page.
    let cache_columns = ["family", "cache_hits", "cache_misses", "cache_hit_rate", "model_memory_peak_mib"];
    if !whole {
        sections.push(section(
            "serving",
            "Serving",
            vec![NOT_WHOLE.into()],
            None,
            vec![
                table("serving_families", &columns, Vec::new()),
                table("serving_cache", &cache_columns, Vec::new()),
                table("serving_weeks", &["from", "requests", "rows", "errors"], Vec::new()),
            ],
        ));
        return Ok(());
    }
    let f = filter(&req.scope);
    let per_family = store.serving(&f, req.period.from, req.period.to)?;
    let before = store.serving(&f, req.compare.from, req.compare.to)?;
    let total = |v: &[flotilla_store::report::FamilyServing], g: fn(&flotilla_store::report::FamilyServing) -> i64| {
        v.iter().map(g).sum::<i64>()
    };
    let (requests, errors) = (total(&per_family, |s| s.requests), total(&per_family, |s| s.errors));
    let (requests_b, errors_b) = (total(&before, |s| s.requests), total(&before, |s| s.errors));
    let served = total(&per_family, |s| s.models_served);
    let rows_now = total(&per_family, |s| s.rows);
    summary.push(Headline { label: "requests served".into(), now: requests, before: Some(requests_b) });
    summary.push(Headline { label: "serving errors".into(), now: errors, before: Some(errors_b) });
    let p99 = Objectives::default().p99_ms;
    let mut text = vec![
        format!(
            "{requests} requests ({rows_now} rows predicted, posted predictions included) in the period ({requests_b} requests in the comparison period), {errors} errors; on each family's busiest day, {served} models were served in all."
        ),
        format!(
            "Latency is judged by the health job against its p99 objective ({p99} ms: warn above it, fail above twice it) for the models it judges (those with recent telemetry), as of its latest judgement."
        ),
        "Traffic is read from per-family sums of the daily serving roll-ups (UTC days starting in the period), kept as telemetry is written; pruning old telemetry leaves them.".into(),
        cache_text(&per_family),
    ];
    if per_family.len() > TOP_FAMILIES {
        text.push(format!("The {TOP_FAMILIES} busiest of {} families are listed; totals cover all.", per_family.len()));
    }
    let rows = per_family
        .iter()
        .take(TOP_FAMILIES)
        .map(|s| {
            vec![
                Cell::Text(family_label(&s.family)),
                Cell::Int(s.models_served),
                Cell::Int(s.requests),
                Cell::Int(s.rows),
                Cell::Int(s.errors),
                Cell::Num((s.requests > 0).then(|| s.errors as f64 / s.requests as f64)),
                Cell::Int(s.latency_warn),
                Cell::Int(s.latency_fail),
                Cell::Num(s.p99_avg_ms),
            ]
        })
        .collect();
    let cache = per_family
        .iter()
        .take(TOP_FAMILIES)
        .map(|s| {
            vec![
                Cell::Text(family_label(&s.family)),
                Cell::Int(s.cache_hits),
                Cell::Int(s.cache_misses),
                Cell::Num(hit_rate(s.cache_hits, s.cache_misses)),
                Cell::Num(Some(s.model_bytes_peak as f64 / MIB)),
            ]
        })
        .collect();
    let len = req.period.to - req.period.from;
    let width = WEEK_MS.max((len + MAX_BUCKETS - 1) / MAX_BUCKETS);
    let weeks = store
        .traffic(&f, req.period.from, req.period.to, width)?
        .into_iter()
        .map(|b| vec![Cell::Text(date(b.start)), Cell::Int(b.requests), Cell::Int(b.rows), Cell::Int(b.errors)])
        .collect();
    sections.push(section(
        "serving",
        "Serving",
        text,
        Some(Plot { label: 0, value: 3, column: None, caption: "Rows predicted per family".into() }),
        vec![
            table("serving_families", &columns, rows),
            table("serving_cache", &cache_columns, cache),
            table("serving_weeks", &["from", "requests", "rows", "errors"], weeks),
        ],
    ));
    Ok(())
}

const MIB: f64 = 1024.0 * 1024.0;

/// The share of hits, as the telemetry read answers it (sums are never negative).
fn hit_rate(hits: i64, misses: i64) -> Option<f64> {
    let counts = flotilla_store::monitor::CacheCounts { hits: hits as u64, misses: misses as u64, model_bytes: 0 };
    counts.hit_rate()
}

/// The cache's paragraph: the scope's hit rate and the heaviest family's memory.
fn cache_text(per_family: &[flotilla_store::report::FamilyServing]) -> String {
    let (hits, misses) = per_family.iter().fold((0, 0), |(h, m), s| (h + s.cache_hits, m + s.cache_misses));
    let rate = match hit_rate(hits, misses) {
        Some(r) => format!(
            "{:.2} % of requests found their model in memory ({hits} hits, {misses} waited for a load)",
            r * 100.0
        ),
        None => "No request went through the model cache in the period".into(),
    };
    let heaviest = per_family.iter().max_by_key(|s| s.model_bytes_peak).filter(|s| s.model_bytes_peak > 0);
    let memory = match heaviest {
        Some(s) => format!(
            "; the heaviest family, {}, served {:.1} MiB of models on its heaviest day",
            family_label(&s.family),
            s.model_bytes_peak as f64 / MIB
        ),
        None => String::new(),
    };
    format!(
        "{rate}{memory}. A family's model memory on a day is the measured bytes (as loaded) of each version it served that day, each counted once: what serving that day without a reload needs, an upper bound of what it held at once; its heaviest day is shown."
    )
}

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Drift: families × weeks of models failing data drift, the most drifted models and their features.
pub fn drift(store: &dyn Store, req: &ReportRequest, whole: bool, sections: &mut Vec<Section>) -> StoreResult<()> {
    let heat_columns = ["family", "week", "models_failing"];
    let model_columns = ["model", "family", "check", "status", "value"];
    let feature_columns = ["model", "feature", "method", "score", "threshold", "verdict"];
    if !whole {
        sections.push(section(
            "drift",
            "Drift",
            vec![NOT_WHOLE.into()],
            None,
            vec![
                table("drift_weeks", &heat_columns, Vec::new()),
                table("drift_models", &model_columns, Vec::new()),
                table("drift_features", &feature_columns, Vec::new()),
            ],
        ));
        return Ok(());
    }
    let f = filter(&req.scope);
    let cells = store.drift_weeks(req.scope.family(), "data_drift", req.period.from, req.period.to)?;
    let mut families: Vec<(String, i64)> = Vec::new();
    for c in &cells {
        match families.iter_mut().find(|(n, _)| *n == c.family) {
            Some((_, m)) => *m = (*m).max(c.models),
            None => families.push((c.family.clone(), c.models)),
        }
    }
    families.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    families.truncate(TOP_FAMILIES);
    let mut text = vec![
        "The heatmap counts, per family and week, the most models failing the data drift check at any hourly health snapshot of that week.".into(),
    ];
    if matches!(req.scope, ReportScope::Partition { .. } | ReportScope::Tag { .. }) {
        text.push(format!(
            "The heatmap is of the whole {} (health history is kept per family).",
            req.scope.family().map_or("fleet", |_| "family")
        ));
    }
    let heat = cells
        .into_iter()
        .filter(|c| families.iter().any(|(n, _)| *n == c.family))
        .map(|c| vec![Cell::Text(c.family), Cell::Text(date(c.week)), Cell::Int(c.models)])
        .collect();
    let drifted = store.drifted_models(&f, TOP_MODELS)?;
    text.push(format!(
        "{} models listed with a warning or failing drift check as of the latest judgement; features of the first {DRIFT_FEATURE_MODELS} judged over the period.",
        drifted.len()
    ));
    let ask = DriftAsk { version: None, from: req.period.from, to: req.period.to };
    let mut features = Vec::new();
    for m in drifted.iter().filter(|m| m.check == "data_drift").take(DRIFT_FEATURE_MODELS) {
        let Ok(d) = version_drift(store, &m.model, &ask) else { continue };
        let Some(judged) = d.drift else { continue };
        let mut fs: Vec<_> = judged.features.iter().collect();
        fs.sort_by(|a, b| {
            let drifted = |x: &flotilla_drift::FeatureDrift| x.verdict == flotilla_drift::Verdict::Drift;
            drifted(b).cmp(&drifted(a)).then_with(|| a.feature.cmp(&b.feature))
        });
        for x in fs.into_iter().take(FEATURES_PER_MODEL) {
            features.push(vec![
                Cell::Text(m.model.clone()),
                Cell::Text(x.feature.clone()),
                Cell::Text(x.method.as_ref().map(enum_text).unwrap_or_default()),
                Cell::Num(x.score),
                Cell::Num(x.threshold),
                Cell::Text(enum_text(&x.verdict)),
            ]);
        }
    }
    let models = drifted
        .into_iter()
        .map(|m| {
            vec![
                Cell::Text(m.model),
                Cell::Text(family_label(&m.family)),
                Cell::Text(m.check),
                Cell::Text(m.status),
                Cell::Num(m.value),
            ]
        })
        .collect();
    sections.push(section(
        "drift",
        "Drift",
        text,
        Some(Plot {
            label: 0,
            value: 2,
            column: Some(1),
            caption: "Models failing data drift, families × weeks".into(),
        }),
        vec![
            table("drift_weeks", &heat_columns, heat),
            table("drift_models", &model_columns, models),
            table("drift_features", &feature_columns, features),
        ],
    ));
    Ok(())
}

/// Data: training datasets of the champions; champions on superseded data.
pub fn data(
    store: &dyn Store,
    req: &ReportRequest,
    whole: bool,
    per_family: &[FamilyStaleness],
    summary: &mut Vec<Headline>,
    sections: &mut Vec<Section>,
) -> StoreResult<()> {
    let fam_columns = ["family", "champions", "with_training_data", "on_superseded_data"];
    let ds_columns = ["dataset", "digest", "champions", "families", "superseded"];
    if !whole {
        sections.push(section(
            "data",
            "Data",
            vec![NOT_WHOLE.into()],
            None,
            vec![table("data_families", &fam_columns, Vec::new()), table("data_datasets", &ds_columns, Vec::new())],
        ));
        return Ok(());
    }
    let (datasets, distinct) = store.datasets_in_use(&filter(&req.scope), TOP_DATASETS)?;
    let superseded: i64 = per_family.iter().map(|s| s.on_superseded).sum();
    let with_data: i64 = per_family.iter().map(|s| s.champions_with_data).sum();
    let champions: i64 = per_family.iter().map(|s| s.champions).sum();
    summary.push(Headline { label: "champions on superseded data".into(), now: superseded, before: None });
    let mut text = vec![
        format!("{distinct} datasets train the {with_data} champions that have lineage (of {champions} champions)."),
        format!("{superseded} champions were trained on a dataset of which a newer digest of the same name exists."),
    ];
    if distinct as usize > datasets.len() {
        text.push(format!("The {} most used datasets are listed.", datasets.len()));
    }
    let fam_rows = per_family
        .iter()
        .filter(|s| s.champions > 0)
        .take(TOP_FAMILIES)
        .map(|s| {
            vec![
                Cell::Text(family_label(&s.family)),
                Cell::Int(s.champions),
                Cell::Int(s.champions_with_data),
                Cell::Int(s.on_superseded),
            ]
        })
        .collect();
    let ds_rows = datasets
        .into_iter()
        .map(|d| {
            vec![
                Cell::Text(d.name),
                Cell::Text(d.digest),
                Cell::Int(d.champions),
                Cell::Int(d.families),
                Cell::Text(if d.superseded { "yes" } else { "no" }.into()),
            ]
        })
        .collect();
    sections.push(section(
        "data",
        "Data",
        text,
        Some(Plot {
            label: 0,
            value: 3,
            column: None,
            caption: "Champions on superseded training data per family".into(),
        }),
        vec![table("data_families", &fam_columns, fam_rows), table("data_datasets", &ds_columns, ds_rows)],
    ));
    Ok(())
}

/// Whether a smaller value of `key` is better (errors and losses), by its name.
pub fn lower_is_better(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["rmse", "mse", "mae", "mape", "loss", "error", "err", "wape", "smape"].iter().any(|w| k.contains(w))
}

/// The biggest regressions and improvements after champion replacements, as two tables.
pub fn promotion_effects(
    store: &dyn Store,
    req: &ReportRequest,
    key: &str,
    text: &mut Vec<String>,
) -> StoreResult<Vec<super::Table>> {
    let columns = ["model", "family", "date", "from_version", "to_version", "before", "after", "change"];
    let f = filter(&req.scope);
    let lower = lower_is_better(key);
    // A regression is a rise of a lower-is-better metric: sort by change descending.
    let (worst, n) = store.promotion_effects(&f, key, req.period.from, req.period.to, !lower, TOP_MODELS)?;
    let (best, _) = store.promotion_effects(&f, key, req.period.from, req.period.to, lower, TOP_MODELS)?;
    text.push(format!(
        "{n} champions were replaced in the period with '{key}' on both versions ({} is better); the {TOP_MODELS} largest regressions and improvements are listed.",
        if lower { "lower" } else { "higher" }
    ));
    let worse = |d: f64| if lower { d > 0.0 } else { d < 0.0 };
    let rows = |v: Vec<flotilla_store::report::PromotionEffect>, keep: &dyn Fn(f64) -> bool| -> Vec<Vec<Cell>> {
        v.into_iter()
            .filter(|e| keep(e.after - e.before))
            .map(|e| {
                vec![
                    Cell::Text(e.model),
                    Cell::Text(family_label(&e.family)),
                    Cell::Text(date(e.time)),
                    Cell::Int(e.from_version),
                    Cell::Int(e.to_version),
                    Cell::Num(Some(e.before)),
                    Cell::Num(Some(e.after)),
                    Cell::Num(Some(e.after - e.before)),
                ]
            })
            .collect()
    };
    let regressions = rows(worst, &|d| worse(d));
    let improvements = rows(best, &|d| d != 0.0 && !worse(d));
    Ok(vec![table("quality_regressions", &columns, regressions), table("quality_improvements", &columns, improvements)])
}
