//! Plots drawn on the server as SVG: line charts (metric history, versions
//! over time), histograms (a metric across a family) and bar rows (versions
//! side by side). Each takes data already bounded by its caller and never
//! draws more than [`MAX_POINTS`] points per series.

use maud::{Markup, html};

use crate::format;

const W: f64 = 640.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;
pub const MAX_POINTS: usize = 1_000;
const COLOURS: [&str; 8] = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

/// One line of a line chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How an axis labels its ticks.
#[derive(Clone, Copy)]
pub enum Axis {
    Number,
    /// Milliseconds since the epoch, labelled as dates.
    Time,
}

/// About five round tick values covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let mut out = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 && out.len() < 12 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// A tick label; times show the hour when the axis spans less than three days.
fn label(v: f64, axis: Axis, span: f64) -> String {
    match axis {
        Axis::Number => format::metric(v),
        Axis::Time if span < 3.0 * 86_400_000.0 => format::time(v as i64)[5..16].to_string(),
        Axis::Time => format::date(v as i64),
    }
}

/// Finite bounds of some values, widened when they are all equal.
fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return None;
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return Some((lo - pad, hi + pad));
    }
    Some((lo, hi))
}

/// Keeps at most [`MAX_POINTS`] evenly spaced points, the last one included.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let step = points.len().div_ceil(MAX_POINTS);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if let Some(last) = points.last()
        && out.last() != Some(last)
    {
        out.push(*last);
    }
    out
}

/// A coordinate with one decimal, enough for a 640-wide plot.
fn r(v: f64) -> String {
    format!("{v:.1}")
}

struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (W - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (H - TOP - BOTTOM)
    }

    fn axes(&self, x_axis: Axis, x_label: &str, y_label: &str) -> Markup {
        html! {
            g.axes {
                line x1=(LEFT) y1=(H - BOTTOM) x2=(W - RIGHT) y2=(H - BOTTOM) stroke="#888" {}
                line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(H - BOTTOM) stroke="#888" {}
                @for t in ticks(self.y.0, self.y.1) {
                    line x1=(LEFT - 4.0) y1=(r(self.py(t))) x2=(W - RIGHT) y2=(r(self.py(t))) stroke="#e5e7eb" {}
                    text x=(LEFT - 6.0) y=(r(self.py(t) + 4.0)) text-anchor="end" font-size="11" { (format::metric(t)) }
                }
                @for t in ticks(self.x.0, self.x.1) {
                    line x1=(r(self.px(t))) y1=(H - BOTTOM) x2=(r(self.px(t))) y2=(H - BOTTOM + 4.0) stroke="#888" {}
                    text x=(r(self.px(t))) y=(H - BOTTOM + 16.0) text-anchor="middle" font-size="11" { (label(t, x_axis, self.x.1 - self.x.0)) }
                }
                text x=((LEFT + W - RIGHT) / 2.0) y=(H - 6.0) text-anchor="middle" font-size="12" { (x_label) }
                text x="12" y=((TOP + H - BOTTOM) / 2.0) text-anchor="middle" font-size="12"
                    transform=(format!("rotate(-90 12 {})", (TOP + H - BOTTOM) / 2.0)) { (y_label) }
            }
        }
    }
}

/// Lines over a shared x axis; `aria` describes the plot for screen readers.
pub fn line_chart(aria: &str, series: &[Series], x_axis: Axis, x_label: &str, y_label: &str) -> Markup {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (Some(x), Some(y)) = (bounds(all().map(|p| p.0)), bounds(all().map(|p| p.1))) else {
        return html! { p.muted { "Nothing to plot." } };
    };
    let frame = Frame { x, y };
    html! {
        figure.plot {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(aria) class="chart line-chart" {
                (frame.axes(x_axis, x_label, y_label))
                @for (i, s) in series.iter().enumerate() {
                    @let colour = COLOURS[i % COLOURS.len()];
                    @let pts = thin(&s.points);
                    @let path: Vec<String> = pts.iter().filter(|p| p.0.is_finite() && p.1.is_finite())
                        .map(|p| format!("{:.1},{:.1}", frame.px(p.0), frame.py(p.1))).collect();
                    polyline.series points=(path.join(" ")) fill="none" stroke=(colour) stroke-width="1.8" {
                        title { (s.name) }
                    }
                    @if pts.len() <= 40 {
                        @for p in pts.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
                            circle cx=(format!("{:.1}", frame.px(p.0))) cy=(format!("{:.1}", frame.py(p.1))) r="2.5" fill=(colour) {
                                title { (s.name) ": " (format::metric(p.1)) }
                            }
                        }
                    }
                }
            }
            @if series.len() > 1 {
                figcaption.legend {
                    @for (i, s) in series.iter().enumerate() {
                        span { svg.swatch viewBox="0 0 10 10" width="10" height="10" { rect width="10" height="10" fill=(COLOURS[i % COLOURS.len()]) {} } (s.name) }
                    }
                }
            }
        }
    }
}

/// Counts of `values` in `bins` equal-width bins.
pub fn histogram(aria: &str, values: &[f64], bins: usize, x_label: &str) -> Markup {
    let Some((lo, hi)) = bounds(values.iter().copied()) else {
        return html! { p.muted { "No values to plot." } };
    };
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0i64; bins];
    for v in values.iter().filter(|v| v.is_finite()) {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let frame = Frame { x: (lo, hi), y: (0.0, top) };
    html! {
        figure.plot {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(aria) class="chart histogram" {
                (frame.axes(Axis::Number, x_label, "models"))
                @for (i, n) in counts.iter().enumerate() {
                    @let x0 = frame.px(lo + width * i as f64);
                    @let x1 = frame.px(lo + width * (i + 1) as f64);
                    rect.bar x=(format!("{:.1}", x0 + 0.5)) y=(format!("{:.1}", frame.py(*n as f64)))
                        width=(format!("{:.1}", (x1 - x0 - 1.0).max(0.5)))
                        height=(format!("{:.1}", frame.py(0.0) - frame.py(*n as f64))) fill=(COLOURS[0]) {
                        title { (format::metric(lo + width * i as f64)) " – " (format::metric(lo + width * (i + 1) as f64)) ": " (n) }
                    }
                }
            }
        }
    }
}

/// Horizontal bars, one per row, scaled to the largest magnitude.
pub fn bars(aria: &str, rows: &[(String, f64)]) -> Markup {
    let top = rows.iter().map(|r| r.1.abs()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    // Narrower than the other plots: bars sit in small multiples and should not shrink their text.
    let width = 420.0;
    let row_h = 22.0;
    let h = row_h * rows.len() as f64 + 8.0;
    let label_w = 64.0;
    let bar_w = width - label_w - 90.0;
    html! {
        svg viewBox=(format!("0 0 {width} {h}")) role="img" aria-label=(aria) class="chart bars" {
            @for (i, (name, v)) in rows.iter().enumerate() {
                @let y = 4.0 + row_h * i as f64;
                @let len = if top > 0.0 && v.is_finite() { v.abs() / top * bar_w } else { 0.0 };
                text x=(label_w - 6.0) y=(y + 15.0) text-anchor="end" font-size="12" { (name) }
                rect.bar x=(label_w) y=(y + 3.0) width=(format!("{len:.1}")) height=(row_h - 6.0) fill=(COLOURS[i % COLOURS.len()]) {}
                text x=(label_w + len + 6.0) y=(y + 15.0) font-size="12" { (format::metric(*v)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(0.13, 0.91);
        assert!(t.len() >= 3 && t[0] >= 0.13 && *t.last().unwrap() <= 0.91);
        assert_eq!(ticks(1.0, 1.0), [1.0]);
    }

    #[test]
    fn plots_escape_names_and_bound_points() {
        let points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, (i as f64).sin())).collect();
        let s = Series { name: "<script>x</script>".into(), points };
        let svg = line_chart("loss", &[s], Axis::Number, "step", "value").into_string();
        assert!(!svg.contains("<script>"));
        let coords = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert!(coords.split(' ').count() <= MAX_POINTS + 1);
        let hist = histogram("rmse", &[1.0, 2.0, 2.5, f64::NAN, 9.0], 4, "rmse").into_string();
        assert_eq!(hist.matches("<rect class=\"bar\"").count(), 4);
        assert!(histogram("empty", &[], 4, "x").into_string().contains("No values"));
    }
}
