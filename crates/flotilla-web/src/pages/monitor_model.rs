//! A model's monitoring page (`/models/{name}/monitor?version=&from=&to=&grain=&feature=`):
//! traffic, errors by kind and latency p50/p99 per window, performance when
//! labels came, per-feature drift over the range cut into slices (a
//! features × slices table coloured by verdict), and one feature's
//! reference vs current distribution. Each plot has its table behind it.
//! Everything is the monitoring API's own reads (`telemetry::read`,
//! `drift_read`) for one version: asked, else the one serving picks.

use axum::extract::{Path, State};
use axum::http::Uri;
use flotilla_app::AppState;
use flotilla_app::monitor::drift_read::{self, DriftAsk, VersionDrift};
use flotilla_app::monitor::telemetry::read::{self, TelemetryAnswer, TelemetryAsk, WindowAnswer};
use flotilla_core::VersionNumber;
use flotilla_drift::FeatureDrift;
use maud::{Markup, html};

use super::monitor_plots::{distribution, distribution_against, paired_bars, verdict_class, verdict_str};
use super::{param, raw_query};
use crate::format;
use crate::layout::{PageResult, Section, shell};
use crate::svg::{self, Axis, Series};

/// Slices the range is cut into for drift over time.
const SLICES: i64 = 12;
/// Features shown in the drift table.
const MAX_FEATURES: usize = 50;

struct Drift {
    whole: VersionDrift,
    slices: Vec<(i64, i64, VersionDrift)>,
}

pub async fn page(State(s): State<AppState>, Path(name): Path<String>, uri: Uri) -> PageResult {
    let raw = raw_query(&uri);
    let some = |k: &str| param(&raw, k).filter(|v| !v.is_empty());
    let asked = some("version").map(|v| VersionNumber::parse_param(&v)).transpose()?;
    let n = name.clone();
    let version = s
        .call(move |st| {
            st.get_registered_model(&n)?;
            if asked.is_none() && st.get_latest_versions(&n, &[])?.is_empty() {
                return Ok(None);
            }
            drift_read::version_of(st, &n, asked).map(Some)
        })
        .await?;
    let ask = TelemetryAsk {
        version: version.map(|v| v.to_string()),
        from: some("from"),
        to: some("to"),
        grain: some("grain"),
    };
    let telemetry = read::telemetry(&s, &name, ask).await?;
    let drift = match version {
        Some(v) => {
            let (n, from, to) = (name.clone(), telemetry.from, telemetry.to.max(telemetry.from + 1));
            Some(
                s.call(move |st| {
                    let whole = drift_read::version_drift(st, &n, &DriftAsk { version: Some(v), from, to })?;
                    let mut slices = Vec::new();
                    if whole.source.is_some() {
                        let step = ((to - from) + SLICES - 1) / SLICES;
                        let mut a = from;
                        while a < to {
                            let b = (a + step).min(to);
                            slices.push((
                                a,
                                b,
                                drift_read::version_drift(st, &n, &DriftAsk { version: Some(v), from: a, to: b })?,
                            ));
                            a = b;
                        }
                    }
                    Ok(Drift { whole, slices })
                })
                .await?,
            )
        }
        None => None,
    };
    let feature = some("feature");
    Ok(render(&name, version, &telemetry, drift.as_ref(), feature.as_deref()))
}

fn link(name: &str, pairs: &[(&str, &str)]) -> String {
    format!("/models/{}/monitor{}", format::segment(name), format::query(pairs.iter().copied()))
}

fn render(
    name: &str,
    version: Option<VersionNumber>,
    t: &TelemetryAnswer,
    drift: Option<&Drift>,
    feature: Option<&str>,
) -> Markup {
    let seg = format::segment(name);
    let v = version.map(|v| v.to_string()).unwrap_or_default();
    let crumbs = vec![
        ("Models".to_string(), Some("/models".to_string())),
        (name.to_string(), Some(format!("/models/{seg}"))),
        ("Monitoring".to_string(), None),
    ];
    let (from, to) = (t.from.to_string(), t.to.to_string());
    let body = html! {
        h1 { "Monitoring " (name) @if version.is_some() { " v" (v) } }
        p.muted {
            (format::time(t.from)) " – " (format::time(t.to)) " · " (t.windows.len()) " windows of a " (t.grain)
            @if t.truncated { " (truncated)" }
        }
        form.filters method="get" action=(format!("/models/{seg}/monitor")) {
            label { "version " input type="text" name="version" value=(v) size="5" inputmode="numeric"; }
            label { "grain " select name="grain" {
                @for g in ["minute", "hour", "day"] { option value=(g) selected[g == t.grain] { (g) } }
            } }
            button type="submit" { "Show" }
            a href=(link(name, &[("version", &v), ("grain", "minute")])) { "last hour" }
            a href=(link(name, &[("version", &v), ("grain", "hour")])) { "last week" }
            a href=(link(name, &[("version", &v), ("grain", "day")])) { "last 90 days" }
        }
        @if version.is_none() {
            p.empty { "This model has no versions yet: nothing is served or monitored." }
        } @else if t.windows.is_empty() {
            p.empty { "No traffic in this period." }
        } @else {
            (serving(&t.windows))
        }
        @if let Some(d) = drift { (drift_section(name, &v, d, feature, (&from, &to, t.grain))) }
    };
    shell(&format!("Monitoring {name}"), Section::Models, &crumbs, body)
}

fn series(name: &str, windows: &[WindowAnswer], f: impl Fn(&WindowAnswer) -> Option<f64>) -> Series {
    Series { name: name.into(), points: windows.iter().filter_map(|w| Some((w.start as f64, f(w)?))).collect() }
}

fn opt(v: Option<f64>) -> String {
    v.map(format::metric).unwrap_or_default()
}

/// Traffic, errors, latency and performance over the windows.
fn serving(windows: &[WindowAnswer]) -> Markup {
    let traffic =
        [series("requests", windows, |w| Some(w.requests as f64)), series("rows", windows, |w| Some(w.rows as f64))];
    let errors = [
        series("client", windows, |w| Some(w.errors.client as f64)),
        series("unavailable", windows, |w| Some(w.errors.unavailable as f64)),
        series("too large", windows, |w| Some(w.errors.too_large as f64)),
        series("server", windows, |w| Some(w.errors.server as f64)),
    ];
    let latency = [series("p50", windows, |w| w.latency_ms.p50), series("p99", windows, |w| w.latency_ms.p99)];
    let labeled = windows.iter().any(|w| w.performance.is_some());
    let perf =
        |f: fn(&read::PerformanceAnswer) -> Option<f64>| move |w: &WindowAnswer| w.performance.as_ref().and_then(f);
    let performance: Vec<Series> = [
        series("rmse", windows, perf(|p| p.rmse)),
        series("mae", windows, perf(|p| p.mae)),
        series("accuracy", windows, perf(|p| p.accuracy)),
        series("log loss", windows, perf(|p| p.log_loss)),
        series("roc auc", windows, perf(|p| p.roc_auc)),
    ]
    .into_iter()
    .filter(|s| !s.points.is_empty())
    .collect();
    html! {
        div.columns {
            section.traffic {
                h2 { "Traffic" }
                (svg::line_chart("requests and rows per window", &traffic, Axis::Time, "window start (UTC)", "per window"))
            }
            section.errors {
                h2 { "Errors by kind" }
                (svg::line_chart("errors per window by kind", &errors, Axis::Time, "window start (UTC)", "errors"))
            }
            section.latency {
                h2 { "Latency" }
                @if latency.iter().all(|s| s.points.is_empty()) { p.muted { "No timed requests (posted predictions carry no latency)." } }
                @else { (svg::line_chart("latency p50 and p99 per window", &latency, Axis::Time, "window start (UTC)", "ms")) }
            }
            @if labeled && !performance.is_empty() {
                section.performance {
                    h2 { "Performance" }
                    (svg::line_chart("performance per window", &performance, Axis::Time, "window start (UTC)", "value"))
                }
            }
        }
        details.windows {
            summary { "Table of the windows" }
            table.window-table {
                thead { tr {
                    th { "start (UTC)" } th.num { "requests" } th.num { "rows" } th.num { "client" } th.num { "unavailable" }
                    th.num { "too large" } th.num { "server" } th.num { "p50 ms" } th.num { "p99 ms" }
                    @if labeled { th.num { "labeled" } th.num { "rmse" } th.num { "mae" } th.num { "accuracy" } th.num { "roc auc" } }
                } }
                tbody {
                    @for w in windows.iter().rev() {
                        tr {
                            td.nowrap { (format::time(w.start)) }
                            td.num { (w.requests) } td.num { (w.rows) }
                            td.num { (w.errors.client) } td.num { (w.errors.unavailable) } td.num { (w.errors.too_large) } td.num { (w.errors.server) }
                            td.num { (opt(w.latency_ms.p50)) } td.num { (opt(w.latency_ms.p99)) }
                            @if labeled {
                                @let p = w.performance.as_ref();
                                td.num { (p.map_or(0, |p| p.labeled)) }
                                td.num { (opt(p.and_then(|p| p.rmse))) } td.num { (opt(p.and_then(|p| p.mae))) }
                                td.num { (opt(p.and_then(|p| p.accuracy))) } td.num { (opt(p.and_then(|p| p.roc_auc))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn score_text(f: &FeatureDrift) -> String {
    f.score.map(format::metric).unwrap_or_else(|| "—".into())
}

/// Drift over the range and per slice, and one feature's distribution.
fn drift_section(name: &str, version: &str, d: &Drift, feature: Option<&str>, range: (&str, &str, &str)) -> Markup {
    let w = &d.whole;
    let Some(source) = &w.source else {
        return html! {
            section.drift {
                h2 { "Drift" }
                @if w.missing == Some(flotilla_app::monitor::drift::Missing::NoBaselineTraffic) {
                    p.empty {
                        "The traffic baseline's range has no windows binned against the training profile: set another ("
                        code { "PUT /api/monitor/v1/models/" (name) "/baseline" } ")."
                    }
                } @else {
                    p.empty {
                        "No training profile: set a baseline (" code { "PUT /api/monitor/v1/models/" (name) "/baseline" }
                        "), or profile the dataset the version was trained on."
                    }
                }
            }
        };
    };
    let (ref_name, ref_digest, ref_kind) = match source {
        flotilla_app::monitor::drift::ReferenceSource::Baseline { dataset, digest } => {
            (dataset, digest, "baseline".to_string())
        }
        flotilla_app::monitor::drift::ReferenceSource::Training { dataset, digest } => {
            (dataset, digest, "training profile".to_string())
        }
        flotilla_app::monitor::drift::ReferenceSource::Traffic { version, from, to, rows, dataset, digest, .. } => (
            dataset,
            digest,
            format!(
                "traffic baseline (version {version}, {} rows from {} to {}), binned by the training profile",
                format::count(*rows as i64),
                format::time(*from),
                format::time(*to)
            ),
        ),
    };
    let features: Vec<&FeatureDrift> =
        w.drift.as_ref().map(|x| x.features.iter().take(MAX_FEATURES).collect()).unwrap_or_default();
    let names: Vec<String> = match &w.reference {
        Some(r) => r.features.iter().take(MAX_FEATURES).map(|f| f.name.clone()).collect(),
        None => Vec::new(),
    };
    let chosen = feature
        .map(str::to_string)
        .or_else(|| {
            features.iter().filter(|f| f.verdict == flotilla_drift::Verdict::Drift).map(|f| f.feature.clone()).next()
        })
        .or_else(|| names.first().cloned());
    let (from, to, grain) = range;
    let feature_href = |f: &str| {
        format!(
            "{}#distribution",
            link(name, &[("version", version), ("from", from), ("to", to), ("grain", grain), ("feature", f)])
        )
    };
    html! {
        section.drift {
            h2 { "Drift" }
            p {
                "Against the " (ref_kind) " "
                a href=(format!("/datasets/{}/{}", format::segment(ref_name), format::segment(ref_digest))) { (ref_name) }
                " · " (w.windows) " windows, " (w.rows) " rows · "
                @match &w.drift {
                    Some(x) => {
                        @let judged = drift_read::verdict_of(&features.iter().filter(|f| !w.outputs.contains(&f.feature)).copied().collect::<Vec<_>>(), x.drift_share);
                        "data drift: " strong class=(format!("verdict {}", verdict_class(judged.verdict))) { (verdict_str(judged.verdict)) }
                        " (" (judged.drifted) " of " (judged.judged) " features)"
                    }
                    None => { strong.verdict { "not enough data" } }
                }
            }
            @if !features.is_empty() {
                table.drift-features {
                    thead { tr { th { "feature" } th { "role" } th { "method" } th.num { "score" } th.num { "threshold" } th { "verdict" } th.num { "current values" } } }
                    tbody {
                        @for f in &features {
                            tr {
                                td { a href=(feature_href(&f.feature)) { (f.feature) } }
                                td { @if w.outputs.contains(&f.feature) { "prediction" } @else { "input" } }
                                td { @if let Some(m) = f.method { (serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) } }
                                td.num { (score_text(f)) }
                                td.num { (opt(f.threshold)) }
                                td class=(verdict_class(f.verdict)) { (verdict_str(f.verdict)) }
                                td.num { (f.current_count) }
                            }
                        }
                    }
                }
            }
            h3 { "Drift over time" }
            @if d.slices.iter().all(|(_, _, s)| s.drift.is_none()) {
                p.muted { "No slice of this period has enough traffic binned against this reference." }
            } @else {
                div.scroll {
                    table.drift-heatmap {
                        thead { tr { th { "feature" } @for (a, _, _) in &d.slices { th.num { (format::time(*a)[11..16].to_string()) } } } }
                        tbody {
                            @for n in &names {
                                tr {
                                    th { (n) }
                                    @for (_, _, s) in &d.slices {
                                        @match s.drift.as_ref().and_then(|x| x.features.iter().find(|f| &f.feature == n)) {
                                            Some(f) => td class=(format!("num {}", verdict_class(f.verdict))) title=(verdict_str(f.verdict)) { (score_text(f)) },
                                            None => td.muted { "·" },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(c) = &chosen {
                section id="distribution" {
                    h3 { "Reference vs current: " (c) }
                    (distribution_plot(w, c))
                }
            }
        }
    }
}

fn distribution_plot(w: &VersionDrift, feature: &str) -> Markup {
    let (Some(reference), Some(merged)) = (&w.reference, &w.merged) else {
        return html! { p.muted { "No current values binned against this reference in this period." } };
    };
    let Some(i) = reference.features.iter().position(|f| f.name == feature) else {
        return html! { p.muted { "The reference has no feature of that name." } };
    };
    let (d, side) = match &w.baseline {
        Some(base) => (
            base.features
                .get(i)
                .zip(merged.features.get(i))
                .and_then(|(b, c)| distribution_against(&reference.features[i], b, c)),
            "baseline",
        ),
        None => (merged.features.get(i).and_then(|wf| distribution(&reference.features[i], wf)), "reference"),
    };
    match d {
        Some(d) => html! {
            p.muted { (d.current_count) " current values" }
            (paired_bars(&format!("{feature}: {side} vs current distribution"), &d))
        },
        None => html! { p.muted { "Nothing to compare for this feature (no values of the reference's kind)." } },
    }
}
