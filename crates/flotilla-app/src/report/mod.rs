//! Fleet reports (issue 16): what changed in a fleet, a family, a partition
//! or the models carrying a tag over a period, against a comparison period.
//! [`request`] understands the query (shared by the server, the UI and the
//! CLI); [`sections`] computes each section from the store's counters and
//! bounded reads (facets, health roll-ups, grouped alias moves, sampled
//! metrics) — never a row per model in memory; [`monitoring`] the
//! staleness, serving, drift and data sections (lineage and telemetry
//! grouped in the store); [`export`] writes each
//! section's table as CSV or Parquet. Rendering to HTML is the web crate's.
//!
//! Invariant: a report covers only what the caller reads; a section the
//! caller cannot see whole says so instead of showing a partial count as a
//! total, and a period that is empty or in the future is refused, never
//! answered with an empty report.

pub mod export;
pub mod monitoring;
pub mod request;
pub mod schedule;
pub mod sections;

use serde::{Deserialize, Serialize};

pub use request::{Period, ReportRequest, ReportScope, report_query};
pub use sections::build;

/// Whether a caller who reads `families` and `models` may have a report on
/// `scope`: a family scope needs READ on the family (or on all its models).
pub fn may_read(
    scope: &ReportScope,
    families: &flotilla_store::Visible,
    models: &flotilla_store::Visible,
) -> Result<(), flotilla_core::Error> {
    match scope.family() {
        Some(f) if !(families.admits(f, Some(f)) || models.family_wholly(f)) => Err(crate::auth::denied()),
        Some(_) | None => Ok(()),
    }
}

/// One cell of a section's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Int(i64),
    Num(Option<f64>),
    Text(String),
}

impl Cell {
    /// The cell as a number, for plots.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(n) => Some(*n as f64),
            Cell::Num(x) => *x,
            Cell::Text(_) => None,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Int(n) => write!(f, "{n}"),
            Cell::Num(Some(x)) => write!(f, "{x}"),
            Cell::Num(None) => Ok(()),
            Cell::Text(s) => f.write_str(s),
        }
    }
}

/// A section's table: named columns, bounded rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The file stem of its CSV / Parquet export.
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// How a section's table is drawn: bars of `value` labelled by `label`
/// (column indexes); with `column`, a heatmap of `value` with a row per
/// `label` and a column per `column`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plot {
    pub label: usize,
    pub value: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub caption: String,
}

/// One section: a few sentences, tables, and a plot of the first table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub text: Vec<String>,
    pub plot: Option<Plot>,
    pub tables: Vec<Table>,
}

/// A number of the summary, this period against the comparison period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub label: String,
    pub now: i64,
    pub before: Option<i64>,
}

impl Headline {
    /// How far it moved, relative to before (for ordering the summary).
    pub fn moved(&self) -> f64 {
        match self.before {
            Some(b) => (self.now - b).abs() as f64 / (b.abs().max(1) as f64),
            None => 0.0,
        }
    }
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scope: ReportScope,
    pub period: Period,
    pub compare: Period,
    /// When it was computed, ms since the epoch.
    pub generated: i64,
    pub summary: Vec<Headline>,
    pub sections: Vec<Section>,
}

impl Report {
    /// Every table of every section, in order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.sections.iter().flat_map(|s| s.tables.iter())
    }
}
