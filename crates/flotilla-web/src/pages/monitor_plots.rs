//! The model monitoring page's drawings beyond `svg.rs`: the reference vs
//! current distribution of one feature (the reference's bins, or its
//! categories, against a range's merged window counts) as paired bars with
//! the table behind them (a traffic baseline's merged window in the
//! reference's place when the model has one), and the class a drift verdict
//! colours a cell with.

use flotilla_drift::{FeatureReference, ReferenceValues, Verdict, WindowCounts, WindowFeature};
use maud::{Markup, html};

use crate::format;

const W: f64 = 640.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 70.0;
const TOP: f64 = 12.0;
/// Categories drawn (the most frequent of the reference first).
const MAX_CATEGORIES: usize = 20;

/// One feature's shares per bin: labels, the reference's and the current window's.
pub struct Distribution {
    pub labels: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
    pub current_count: u64,
}

fn share(n: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { n as f64 / total as f64 }
}

/// The shares to draw, when both sides have values of the same kind.
pub fn distribution(r: &FeatureReference, w: &WindowFeature) -> Option<Distribution> {
    let total = w.count();
    match (&r.values, &w.counts) {
        (ReferenceValues::Numeric(n), WindowCounts::Numeric(c)) => {
            let bins = n.interior_bins();
            if c.bins.len() != bins || n.grid.is_empty() {
                return None;
            }
            let mut reference = vec![0.0; bins];
            let weight = 1.0 / n.grid.len() as f64;
            for g in &n.grid {
                let b = n.edges.partition_point(|e| e < g).min(bins - 1);
                reference[b] += weight;
            }
            let mut labels: Vec<String> = (0..bins)
                .map(|i| {
                    let lo = if i == 0 { n.min } else { n.edges[i - 1] };
                    let hi = if i < n.edges.len() { n.edges[i] } else { n.max };
                    format!("{}–{}", format::metric(lo), format::metric(hi))
                })
                .collect();
            let mut current: Vec<f64> = c.bins.iter().map(|&k| share(k, total)).collect();
            if c.below > 0 {
                labels.insert(0, format!("< {}", format::metric(n.min)));
                reference.insert(0, 0.0);
                current.insert(0, share(c.below, total));
            }
            if c.above > 0 {
                labels.push(format!("> {}", format::metric(n.max)));
                reference.push(0.0);
                current.push(share(c.above, total));
            }
            Some(Distribution { labels, reference, current, current_count: total })
        }
        (ReferenceValues::Categorical(cat), WindowCounts::Categorical { counts, other }) => {
            let shown = cat.categories.len().min(MAX_CATEGORIES).min(counts.len());
            let mut labels: Vec<String> = cat.categories[..shown].to_vec();
            let mut reference: Vec<f64> = cat.counts[..shown].iter().map(|&k| share(k, cat.count)).collect();
            let mut current: Vec<f64> = counts[..shown].iter().map(|&k| share(k, total)).collect();
            let rest_ref = cat.count.saturating_sub(cat.counts[..shown].iter().sum());
            let rest_cur = other + counts[shown..].iter().sum::<u64>();
            if rest_ref + rest_cur > 0 {
                labels.push(if cat.complete && shown == cat.categories.len() { "new".into() } else { "other".into() });
                reference.push(share(rest_ref, cat.count));
                current.push(share(rest_cur, total));
            }
            Some(Distribution { labels, reference, current, current_count: total })
        }
        _ => None,
    }
}

/// The shares to draw against a traffic baseline's window: the baseline's
/// shares take the reference's place, bins and tails lined up by label (a
/// tail only one side has is drawn empty on the other).
pub fn distribution_against(r: &FeatureReference, base: &WindowFeature, w: &WindowFeature) -> Option<Distribution> {
    let b = distribution(r, base)?;
    let c = distribution(r, w)?;
    let mut labels = b.labels.clone();
    for l in &c.labels {
        if !labels.contains(l) {
            if l.starts_with("< ") { labels.insert(0, l.clone()) } else { labels.push(l.clone()) }
        }
    }
    let share_of = |d: &Distribution, l: &String| d.labels.iter().position(|x| x == l).map_or(0.0, |i| d.current[i]);
    Some(Distribution {
        reference: labels.iter().map(|l| share_of(&b, l)).collect(),
        current: labels.iter().map(|l| share_of(&c, l)).collect(),
        labels,
        current_count: c.current_count,
    })
}

/// Paired bars (reference, current) per bin, shares of each side's values, with the table.
pub fn paired_bars(aria: &str, d: &Distribution) -> Markup {
    let n = d.labels.len().max(1) as f64;
    let top = d.reference.iter().chain(&d.current).copied().filter(|v| v.is_finite()).fold(0.0, f64::max).max(1e-9);
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / n;
    let bar = (slot / 2.0 - 1.0).max(0.5);
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    html! {
        figure.plot {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(aria) class="chart distribution" {
                line x1=(LEFT) y1=(TOP + plot_h) x2=(W - 8.0) y2=(TOP + plot_h) stroke="#9ca3af" {}
                line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_h) stroke="#9ca3af" {}
                @for t in [0.0, 0.5, 1.0] {
                    text x=(LEFT - 4.0) y=(format!("{:.1}", y(top * t) + 4.0)) text-anchor="end" font-size="11" { (format!("{:.0}%", top * t * 100.0)) }
                }
                text x="12" y=(TOP + plot_h / 2.0) font-size="11" transform=(format!("rotate(-90 12 {})", TOP + plot_h / 2.0)) text-anchor="middle" { "share of values" }
                @for (i, label) in d.labels.iter().enumerate() {
                    @let x = LEFT + slot * i as f64;
                    rect.bar.reference x=(format!("{:.1}", x + 1.0)) y=(format!("{:.1}", y(d.reference[i]))) width=(format!("{bar:.1}"))
                        height=(format!("{:.1}", TOP + plot_h - y(d.reference[i]))) fill="#9ca3af" {
                        title { (label) " reference: " (format!("{:.1}%", d.reference[i] * 100.0)) }
                    }
                    rect.bar.current x=(format!("{:.1}", x + 1.0 + bar)) y=(format!("{:.1}", y(d.current[i]))) width=(format!("{bar:.1}"))
                        height=(format!("{:.1}", TOP + plot_h - y(d.current[i]))) fill="#2563eb" {
                        title { (label) " current: " (format!("{:.1}%", d.current[i] * 100.0)) }
                    }
                    @if d.labels.len() <= 12 || i % (d.labels.len() / 12 + 1) == 0 {
                        @let cx = x + slot / 2.0;
                        @let ly = TOP + plot_h + 12.0;
                        text x=(format!("{cx:.1}")) y=(ly) font-size="10" text-anchor="end" transform=(format!("rotate(-40 {cx:.1} {ly})")) { (label) }
                    }
                }
            }
            figcaption.legend { span.key-reference { "■ reference" } span.key-current { "■ current" } }
        }
        details {
            summary { "Table" }
            table.distribution-table {
                thead { tr { th { "bin" } th.num { "reference" } th.num { "current" } } }
                tbody {
                    @for (i, label) in d.labels.iter().enumerate() {
                        tr { td { (label) } td.num { (format!("{:.1}%", d.reference[i] * 100.0)) } td.num { (format!("{:.1}%", d.current[i] * 100.0)) } }
                    }
                }
            }
        }
    }
}

/// A verdict as the API spells it.
pub fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Drift => "drift",
        Verdict::NoDrift => "no_drift",
        Verdict::NotEnoughData => "not_enough_data",
        Verdict::Incomparable => "incomparable",
    }
}

/// The class of a heatmap cell for a verdict.
pub fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Drift => "s-fail",
        Verdict::NoDrift => "s-ok",
        Verdict::NotEnoughData | Verdict::Incomparable => "muted",
    }
}
