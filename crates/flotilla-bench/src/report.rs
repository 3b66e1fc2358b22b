//! Turning measurements into markdown tables with a "times better" ratio column.

use std::fmt::Write as _;
use std::time::Duration;

use crate::driver::OpStats;
use crate::workload::Results;
use flotilla_testkit::procfs::TreeRss;

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Time,
    Bytes,
    Rate,
    Count,
}

/// Which direction is better, for the ratio.
#[derive(Debug, Clone, Copy)]
pub enum Better {
    Lower,
    Higher,
    /// Shown but not compared.
    Neither,
}

#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub value: Option<f64>,
    pub note: String,
}

impl Cell {
    pub fn time(d: Option<Duration>) -> Cell {
        Cell { value: d.map(|d| d.as_secs_f64()), note: String::new() }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Cell {
        self.note = note.into();
        self
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub unit: Unit,
    pub better: Better,
    pub cells: Vec<Cell>,
}

/// What one server measured, startup included; `None` fields were not reached.
#[derive(Debug, Clone, Default)]
pub struct Measure {
    pub healthy: Option<Duration>,
    pub idle: Option<TreeRss>,
    pub after: Option<TreeRss>,
    pub results: Option<Results>,
    pub error: Option<String>,
}

fn rss_cell(rss: Option<TreeRss>) -> Cell {
    match rss {
        Some(r) => Cell { value: Some(r.bytes as f64), note: format!("{} proc", r.processes) },
        None => Cell::default(),
    }
}

fn errors_note(s: &OpStats) -> String {
    let mut parts = Vec::new();
    if s.errors > 0 {
        parts.push(format!("{} err", s.errors));
    }
    if s.capped {
        parts.push(format!("{} of {} in cap", s.ok() + s.errors, s.planned));
    } else if s.ok() + s.errors > 0 && s.planned > 0 {
        parts.push(format!("n={}", s.ok()));
    }
    parts.join(", ")
}

fn op_rows(
    rows: &mut Vec<Vec<(String, Unit, Better, Cell)>>,
    label: &str,
    pick: impl Fn(&Results) -> &OpStats,
    m: &Measure,
) {
    let stats = m.results.as_ref().map(&pick);
    let p = |q: f64| {
        let cell = Cell::time(stats.and_then(|s| s.percentile(q)));
        if q < 0.9 { cell.with_note(stats.map(errors_note).unwrap_or_default()) } else { cell }
    };
    rows.push(vec![
        (format!("{label} p50"), Unit::Time, Better::Lower, p(0.5)),
        (format!("{label} p99"), Unit::Time, Better::Lower, p(0.99)),
    ]);
}

/// The rows of one server's column, in table order.
pub fn column(m: &Measure, models: usize, runs: usize, clients: usize) -> Vec<(String, Unit, Better, Cell)> {
    let mut groups: Vec<Vec<(String, Unit, Better, Cell)>> = Vec::new();
    groups.push(vec![
        ("time to healthy (spawn → 200 /health)".into(), Unit::Time, Better::Lower, Cell::time(m.healthy)),
        ("idle RSS, whole process tree".into(), Unit::Bytes, Better::Lower, rss_cell(m.idle)),
    ]);
    let create = m.results.as_ref().map(|r| &r.create);
    groups.push(vec![(
        format!("create registered model, {clients} clients: throughput"),
        Unit::Rate,
        Better::Higher,
        Cell { value: create.and_then(OpStats::throughput), note: create.map(errors_note).unwrap_or_default() },
    )]);
    op_rows(&mut groups, "create registered model", |r| &r.create, m);
    let batch = format!(
        "log-batch 1,000 metrics ({} keys × {} steps)",
        crate::workload::BATCH_KEYS,
        crate::workload::BATCH_STEPS
    );
    op_rows(&mut groups, &batch, |r| &r.log_batch, m);
    op_rows(&mut groups, "runs/get", |r| &r.runs_get, m);
    op_rows(&mut groups, &format!("registered-models/search first page at {}", thousands(models)), |r| &r.rm_search, m);
    op_rows(
        &mut groups,
        &format!("runs/search `metrics.m > 0.5`, 100 of {} runs", thousands(runs)),
        |r| &r.runs_search_100,
        m,
    );
    op_rows(
        &mut groups,
        &format!("runs/search `metrics.m > 0.5`, max_results 1000 of {}", thousands(runs)),
        |r| &r.runs_search_1000,
        m,
    );
    let failed = m.results.as_ref().map(|r| {
        [&r.create, &r.rm_search, &r.log_batch, &r.runs_get, &r.runs_setup, &r.runs_search_100, &r.runs_search_1000]
            .iter()
            .map(|s| s.errors)
            .sum::<usize>() as f64
    });
    groups.push(vec![
        ("RSS after workload, whole process tree".into(), Unit::Bytes, Better::Lower, rss_cell(m.after)),
        ("failed requests (all ops)".into(), Unit::Count, Better::Neither, Cell { value: failed, note: String::new() }),
    ]);
    groups.into_iter().flatten().collect()
}

/// Merges columns (same row order) into rows.
pub fn merge(columns: Vec<Vec<(String, Unit, Better, Cell)>>) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for (ci, col) in columns.into_iter().enumerate() {
        for (ri, (name, unit, better, cell)) in col.into_iter().enumerate() {
            if ci == 0 {
                rows.push(Row { name, unit, better, cells: vec![cell] });
            } else if let Some(row) = rows.get_mut(ri) {
                row.cells.push(cell);
            }
        }
    }
    rows
}

/// A markdown table; with exactly two value columns a third says how many times better the
/// first is than the second.
pub fn table(headers: &[&str], rows: &[Row]) -> String {
    let ratio = headers.len() == 2;
    let mut out = String::new();
    let _ = write!(out, "| metric |");
    for h in headers {
        let _ = write!(out, " {h} |");
    }
    if ratio {
        out.push_str(" ratio (× better) |");
    }
    out.push('\n');
    out.push_str(&"|---".repeat(headers.len() + 1 + usize::from(ratio)));
    out.push_str("|\n");
    for row in rows {
        let _ = write!(out, "| {} |", row.name);
        for cell in &row.cells {
            let _ = write!(out, " {} |", fmt_cell(cell, row.unit));
        }
        if ratio {
            let _ = write!(out, " {} |", fmt_ratio(row));
        }
        out.push('\n');
    }
    out
}

fn fmt_ratio(row: &Row) -> String {
    let (Some(a), Some(b)) = (row.cells.first().and_then(|c| c.value), row.cells.get(1).and_then(|c| c.value)) else {
        return "–".into();
    };
    let r = match row.better {
        Better::Lower if a > 0.0 => b / a,
        Better::Higher if b > 0.0 => a / b,
        Better::Lower | Better::Higher | Better::Neither => return "–".into(),
    };
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

fn fmt_cell(cell: &Cell, unit: Unit) -> String {
    let Some(v) = cell.value else {
        return if cell.note.is_empty() { "–".into() } else { format!("– ({})", cell.note) };
    };
    let text = match unit {
        Unit::Time => fmt_time(v),
        Unit::Bytes => fmt_bytes(v),
        Unit::Rate => {
            if v >= 100.0 {
                format!("{v:.0}/s")
            } else {
                format!("{v:.1}/s")
            }
        }
        Unit::Count => format!("{v:.0}"),
    };
    if cell.note.is_empty() { text } else { format!("{text} ({})", cell.note) }
}

pub fn fmt_time(secs: f64) -> String {
    let ms = secs * 1e3;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{secs:.2} s")
    }
}

fn fmt_bytes(b: f64) -> String {
    let mib = b / (1024.0 * 1024.0);
    if mib >= 1024.0 { format!("{:.2} GiB", mib / 1024.0) } else { format!("{mib:.1} MiB") }
}

/// 100000 → "100,000".
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(better: Better, a: f64, b: f64) -> Row {
        let cell = |v| Cell { value: Some(v), note: String::new() };
        Row { name: "x".into(), unit: Unit::Time, better, cells: vec![cell(a), cell(b)] }
    }

    #[test]
    fn ratio_says_how_many_times_better_the_first_column_is() {
        for (r, want) in [
            (row(Better::Lower, 0.002, 0.180), "90.0×"),
            (row(Better::Higher, 5000.0, 62.0), "80.6×"),
            (row(Better::Lower, 0.5, 0.25), "0.50×"),
            (row(Better::Lower, 0.001, 31.7), "31700×"),
            (row(Better::Neither, 1.0, 2.0), "–"),
        ] {
            assert_eq!(fmt_ratio(&r), want);
        }
    }

    #[test]
    fn values_are_formatted_by_unit() {
        for (secs, want) in [(0.000_412, "0.412 ms"), (0.0123, "12.3 ms"), (0.004_56, "4.56 ms"), (31.7, "31.70 s")] {
            assert_eq!(fmt_time(secs), want);
        }
        assert_eq!(fmt_bytes(3.6 * 1024.0 * 1024.0 * 1024.0), "3.60 GiB");
        assert_eq!(fmt_bytes(11.25 * 1024.0 * 1024.0), "11.2 MiB");
        for (n, want) in [(0, "0"), (999, "999"), (2000, "2,000"), (100_000, "100,000"), (1_000_000, "1,000,000")] {
            assert_eq!(thousands(n), want);
        }
    }
}
