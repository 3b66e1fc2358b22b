//! A fleet report as one self-contained HTML document: inline CSS (with
//! print rules: each section starts a page), inline SVG plots, no script,
//! no external asset. Every plot has a text alternative and the table it
//! was drawn from beside it. Tables are bounded by the report model, so the
//! document stays small (well under 2 MB) whatever the scope.

use flotilla_app::report::request::date;
use flotilla_app::report::{Cell, Report, Section, Table};
use maud::{DOCTYPE, Markup, PreEscaped, html};

const COLOURS: [&str; 4] = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];

/// Horizontal bars with room for long labels (family and alias), scaled to the largest magnitude.
fn bars(aria: &str, rows: &[(String, f64)]) -> Markup {
    let top = rows.iter().map(|r| r.1.abs()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let (width, row_h, label_w) = (640.0, 20.0, 220.0);
    let bar_w = width - label_w - 90.0;
    let h = row_h * rows.len() as f64 + 8.0;
    html! {
        svg.chart viewBox=(format!("0 0 {width} {h}")) width=(width) role="img" aria-label=(aria) {
            @for (i, (name, v)) in rows.iter().enumerate() {
                @let y = 4.0 + row_h * i as f64;
                @let len = if top > 0.0 && v.is_finite() { v.abs() / top * bar_w } else { 0.0 };
                text x=(label_w - 6.0) y=(y + 14.0) text-anchor="end" font-size="12" { (name) }
                rect x=(label_w) y=(y + 3.0) width=(format!("{len:.1}")) height=(row_h - 6.0) fill=(COLOURS[i % COLOURS.len()]) {}
                text x=(label_w + len + 6.0) y=(y + 14.0) font-size="12" { (crate::format::metric(*v)) }
            }
        }
    }
}

/// Bars drawn per plot at most (the table below it has every row).
const MAX_BARS: usize = 20;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111;margin:0 auto;max-width:980px;padding:16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;border-bottom:2px solid #ddd;padding-bottom:4px}
.meta{color:#555}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:4px 0}figure{margin:8px 0}figcaption{color:#555;font-size:12px}
svg.chart{max-width:100%;height:auto;display:block}.up{color:#b91c1c}.down{color:#15803d}
@media print{body{max-width:none;padding:0}section.report{break-before:page}section.report:first-of-type{break-before:auto}
table{break-inside:avoid}a{color:inherit;text-decoration:none}}
";

fn cell(c: &Cell) -> Markup {
    match c {
        Cell::Int(n) => html! { td.num { (n) } },
        Cell::Num(Some(x)) => html! { td.num { (crate::format::metric(*x)) } },
        Cell::Num(None) => html! { td.num { "—" } },
        Cell::Text(s) => html! { td { (s) } },
    }
}

fn table(t: &Table) -> Markup {
    html! {
        table id=(format!("table-{}", t.name)) {
            caption { (t.name.replace('_', " ")) " (" (t.rows.len()) " rows)" }
            thead { tr { @for c in &t.columns { th scope="col" { (c) } } } }
            tbody {
                @if t.rows.is_empty() {
                    tr { td colspan=(t.columns.len()) { "No rows in this scope and period." } }
                }
                @for r in &t.rows { tr { @for c in r { (cell(c)) } } }
            }
        }
    }
}

/// Rows and columns drawn in a heatmap at most (the table has every cell).
const MAX_HEAT: usize = 26;

/// A heatmap of `value` by `label` (rows) and `column` (columns), shaded
/// against the largest value; every cell also carries its number.
fn heatmap(t: &Table, label: usize, column: usize, value: usize, caption: &str) -> Markup {
    let mut rows: Vec<String> = Vec::new();
    let mut cols: Vec<String> = Vec::new();
    for r in &t.rows {
        let (Some(l), Some(c)) = (r.get(label), r.get(column)) else { continue };
        let (l, c) = (l.to_string(), c.to_string());
        if !rows.contains(&l) && rows.len() < MAX_HEAT {
            rows.push(l);
        }
        if !cols.contains(&c) {
            cols.push(c);
        }
    }
    cols.sort();
    cols.truncate(MAX_HEAT);
    if rows.is_empty() {
        return html! {};
    }
    let cell_of = |l: &str, c: &str| {
        t.rows
            .iter()
            .find(|r| {
                r.get(label).is_some_and(|x| x.to_string() == l) && r.get(column).is_some_and(|x| x.to_string() == c)
            })
            .and_then(|r| r.get(value)?.number())
    };
    let top = t.rows.iter().filter_map(|r| r.get(value)?.number()).fold(0.0, f64::max);
    let (label_w, cell_w, cell_h, head_h) = (160.0, 44.0, 20.0, 56.0);
    let width = label_w + cell_w * cols.len() as f64 + 8.0;
    let height = head_h + cell_h * rows.len() as f64 + 4.0;
    let alt = format!("{caption}: {} rows by {} columns; the table below holds every value", rows.len(), cols.len());
    html! {
        figure {
            svg.chart viewBox=(format!("0 0 {width} {height}")) width=(width) role="img" aria-label=(alt) {
                @for (j, c) in cols.iter().enumerate() {
                    @let x = label_w + cell_w * j as f64 + cell_w / 2.0;
                    text x=(x) y=(head_h - 6.0) font-size="10" text-anchor="start"
                        transform=(format!("rotate(-40 {x} {})", head_h - 6.0)) { (c) }
                }
                @for (i, l) in rows.iter().enumerate() {
                    @let y = head_h + cell_h * i as f64;
                    text x=(label_w - 6.0) y=(y + 14.0) text-anchor="end" font-size="12" { (l) }
                    @for (j, c) in cols.iter().enumerate() {
                        @let v = cell_of(l, c);
                        @let shade = match v { Some(v) if top > 0.0 => 0.12 + 0.88 * v / top, _ => 0.0 };
                        rect x=(label_w + cell_w * j as f64) y=(y) width=(cell_w - 2.0) height=(cell_h - 2.0)
                            fill="#dc2626" fill-opacity=(format!("{shade:.2}")) stroke="#ddd" {}
                        @if let Some(v) = v {
                            text x=(label_w + cell_w * j as f64 + cell_w / 2.0) y=(y + 14.0) font-size="11" text-anchor="middle" { (crate::format::metric(v)) }
                        }
                    }
                }
            }
            figcaption { (caption) ". The table below holds the values." }
        }
    }
}

fn plot(s: &Section) -> Markup {
    let (Some(p), Some(t)) = (&s.plot, s.tables.first()) else { return html! {} };
    if let Some(column) = p.column {
        return heatmap(t, p.label, column, p.value, &p.caption);
    }
    let rows: Vec<(String, f64)> = t
        .rows
        .iter()
        .filter_map(|r| {
            let label = r.get(p.label)?.to_string();
            let label = match t.columns.first().map(String::as_str) {
                Some("family") if t.columns.get(1).is_some_and(|c| c == "alias") => {
                    format!("{label} {}", r.get(1).map(ToString::to_string).unwrap_or_default())
                }
                _ => label,
            };
            Some((label, r.get(p.value)?.number()?))
        })
        .take(MAX_BARS)
        .collect();
    if rows.is_empty() {
        return html! {};
    }
    let shown = if t.rows.len() > MAX_BARS {
        format!(" (the first {MAX_BARS} of {} rows)", t.rows.len())
    } else {
        String::new()
    };
    let alt = format!(
        "{}{shown}: {}",
        p.caption,
        rows.iter().map(|(l, v)| format!("{l} {}", crate::format::metric(*v))).collect::<Vec<_>>().join(", ")
    );
    html! {
        figure {
            (bars(&alt, &rows))
            figcaption { (p.caption) (shown) ". The table below holds the values." }
        }
    }
}

/// The sections of a report (the body the UI page and the document share).
pub fn body(report: &Report) -> Markup {
    html! {
        section.report id="summary" {
            h2 { "Executive summary" }
            p { "Scope: " (report.scope.describe()) ". Period " (report.period.describe())
                ", compared with " (report.compare.describe()) "." }
            table id="table-summary" {
                caption { "What moved most against the comparison period" }
                thead { tr { th scope="col" { "measure" } th.num scope="col" { "this period" } th.num scope="col" { "comparison" } th.num scope="col" { "change" } } }
                tbody {
                    @for h in &report.summary {
                        tr {
                            td { (h.label) }
                            td.num { (h.now) }
                            @match h.before {
                                Some(b) => {
                                    td.num { (b) }
                                    td.num class=(if h.now > b { "up" } else if h.now < b { "down" } else { "" }) {
                                        @if h.now >= b { "+" } (h.now - b)
                                    }
                                },
                                None => { td.num { "—" } td.num { "—" } },
                            }
                        }
                    }
                }
            }
        }
        @for s in &report.sections {
            section.report id=(s.id) {
                h2 { (s.title) }
                @for line in &s.text { p { (line) } }
                (plot(s))
                @for t in &s.tables { (table(t)) }
            }
        }
    }
}

/// The inline stylesheet, for pages that embed a report.
pub fn style() -> Markup {
    html! { style { (PreEscaped(STYLE)) } }
}

/// The whole self-contained document.
pub fn document(report: &Report) -> String {
    let title = format!("Fleet report: {}, {}", report.scope.describe(), report.period.describe());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                (style())
            }
            body {
                header {
                    h1 { (title) }
                    p.meta { "Generated " (date(report.generated)) " by flotilla. Counts cover what the requester may read." }
                }
                main { (body(report)) }
            }
        }
    }
    .into_string()
}
