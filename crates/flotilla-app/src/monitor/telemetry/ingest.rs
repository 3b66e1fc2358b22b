//! Telemetry from elsewhere (issue 15, point 2): predictions posted in bulk
//! for a version (JSON lines here, Parquet and Arrow IPC in
//! [`super::ingest_arrow`]) land in the windows their timestamps fall in;
//! those with ids are kept for the label join; labels posted later are
//! joined by id into performance per window.
//!
//! A row holds the features (named columns, or `features` as an array by
//! position or an object by name), `prediction` (a number: a value or the
//! positive class's score; a string or bool: a class), optional `id` and
//! `timestamp` (ms since the epoch; else now). The features' width must be
//! the version's (its columns as served, else as the first batch named
//! them): a row of another width is a 400 naming it. NaN and infinities
//! (`"NaN"`, `"Infinity"` in JSON) are counted, never an error. Timestamps
//! more than [`MAX_FUTURE_MS`] ahead are refused; older than every
//! retention, skipped and counted.

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_core::{Error, VersionNumber};
use flotilla_drift::{Reference, Window};
use flotilla_store::monitor::{ErrorCounts, Grain, KeptPrediction, MAX_IDS_PER_CALL, Retention, WindowDelta};
use flotilla_store::{Store, StoreResult};
use serde::Serialize;
use serde_json::Value;

use super::stats::{ColumnStats, Performance, SCORE_BINS, StatsMerger, WindowStats};
use super::{MAX_RECORDED_COLUMNS, TelemetryConfig, now_ms};

/// Rows one request may post.
pub const MAX_ROWS: usize = 1_000_000;
/// Predictions a version keeps for the label join (the oldest go first).
pub const MAX_KEPT_PER_VERSION: u64 = 1_000_000;
/// How far ahead of the server's clock a timestamp may be.
pub const MAX_FUTURE_MS: i64 = 5 * 60_000;
/// Labels one request may post.
pub const MAX_LABELS: usize = 1_000_000;
/// Unknown ids named in a labels answer.
const SHOWN_UNKNOWN: usize = 10;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Number(f64),
    Text(String),
}

impl Cell {
    pub fn of_json(v: &Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Text(b.to_string()),
            Value::Number(n) => n.as_f64().map_or(Cell::Null, Cell::Number),
            Value::String(s) => match s.as_str() {
                "NaN" | "nan" => Cell::Number(f64::NAN),
                "Infinity" | "inf" => Cell::Number(f64::INFINITY),
                "-Infinity" | "-inf" => Cell::Number(f64::NEG_INFINITY),
                _ => Cell::Text(s.clone()),
            },
            Value::Array(_) | Value::Object(_) => Cell::Text(v.to_string()),
        }
    }
}

/// One posted row, features named or by position.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: Option<String>,
    pub timestamp: Option<i64>,
    pub features: Features,
    pub prediction: Cell,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Features {
    Named(Vec<(String, Cell)>),
    Positional(Vec<Cell>),
}

/// What a predictions post did.
#[derive(Debug, Default, Serialize)]
pub struct PredictionsAnswer {
    pub rows: u64,
    /// Rows with an id, kept for labels.
    pub kept_for_labels: u64,
    /// Rows older than every retention.
    pub skipped_old: u64,
    pub windows: u64,
    pub nans: u64,
    pub nulls: u64,
}

/// Rows grouped into base windows, ready to merge.
pub struct Batch {
    config: TelemetryConfig,
    now: i64,
    inputs: Vec<String>,
    known: bool,
    /// The version had no columns: this batch names them.
    fresh: bool,
    windows: BTreeMap<i64, (u64, WindowStats)>,
    kept: Vec<KeptPrediction>,
    /// The version's training reference, and each column's feature in it
    /// (by name; the prediction under its own name or `prediction`).
    reference: Option<Arc<Reference>>,
    map: Vec<Option<usize>>,
    pub answer: PredictionsAnswer,
}

fn record(c: &mut ColumnStats, cell: &Cell, answer: &mut PredictionsAnswer) {
    match cell {
        Cell::Null => {
            c.nulls += 1;
            answer.nulls += 1;
        }
        Cell::Number(v) => {
            if !v.is_finite() {
                answer.nans += 1;
            }
            c.record(*v);
        }
        Cell::Text(_) => c.count += 1,
    }
}

impl Batch {
    /// A batch for a version whose inputs are `columns` (empty: the first row names them).
    pub fn new(config: TelemetryConfig, columns: Vec<String>) -> Batch {
        Batch {
            config,
            now: now_ms(),
            known: !columns.is_empty(),
            fresh: columns.is_empty(),
            inputs: columns,
            windows: BTreeMap::new(),
            kept: Vec::new(),
            reference: None,
            map: Vec::new(),
            answer: PredictionsAnswer::default(),
        }
    }

    /// Bins the rows' values against the version's reference too.
    pub fn with_reference(mut self, reference: Option<Arc<Reference>>) -> Batch {
        self.reference = reference;
        self
    }

    fn map_reference(&mut self) {
        let Some(r) = &self.reference else { return };
        let index = |name: &str| r.features.iter().position(|f| f.name == name);
        self.map = self.inputs.iter().map(|c| index(c)).collect();
        self.map.push(index("prediction"));
    }

    /// Adds row number `n` (1-based, as the client counts lines or rows).
    pub fn push(&mut self, n: usize, row: Row) -> Result<(), Error> {
        if self.answer.rows as usize >= MAX_ROWS {
            return Err(Error::invalid(format!("at most {MAX_ROWS} rows per request")));
        }
        let ts = row.timestamp.unwrap_or(self.now);
        if ts > self.now + MAX_FUTURE_MS {
            return Err(Error::invalid(format!("row {n}: timestamp {ts} is in the future")));
        }
        self.answer.rows += 1;
        if ts < self.config.retention.cut(Grain::Day, self.now) {
            self.answer.skipped_old += 1;
            return Ok(());
        }
        if !self.known {
            self.inputs = match &row.features {
                Features::Named(cells) => cells.iter().map(|(k, _)| k.clone()).collect(),
                Features::Positional(cells) => (0..cells.len()).map(|i| format!("input_{i}")).collect(),
            };
            if self.inputs.len() > MAX_RECORDED_COLUMNS {
                return Err(Error::invalid(format!("row {n}: more than {MAX_RECORDED_COLUMNS} features")));
            }
            self.known = true;
        }
        if self.map.is_empty() {
            self.map_reference();
        }
        let width = self.inputs.len();
        let cells: Vec<&Cell> = match &row.features {
            Features::Positional(cells) => {
                if cells.len() != width {
                    return Err(Error::invalid(format!(
                        "row {n} has {} features; the model's signature has {width}",
                        cells.len()
                    )));
                }
                cells.iter().collect()
            }
            Features::Named(cells) => {
                if cells.len() != width {
                    return Err(Error::invalid(format!(
                        "row {n} has {} features; the model's signature has {width} ({})",
                        cells.len(),
                        self.inputs.join(", ")
                    )));
                }
                let mut ordered = Vec::with_capacity(width);
                for name in &self.inputs {
                    let cell = cells.iter().find(|(k, _)| k == name).map(|(_, c)| c).ok_or_else(|| {
                        Error::invalid(format!("row {n} lacks feature '{name}' of the model's signature"))
                    })?;
                    ordered.push(cell);
                }
                ordered
            }
        };
        let (start, len) = Grain::Base.window_of(ts, self.config.window_ms);
        let reference = self.reference.as_deref();
        let (rows, stats) = self.windows.entry(start).or_insert_with(|| {
            let drift = reference.map(Window::new);
            (0, WindowStats { columns: vec![ColumnStats::default(); width + 1], drift, ..WindowStats::default() })
        });
        *rows += 1;
        for (i, (c, cell)) in stats.columns.iter_mut().zip(cells.into_iter().chain([&row.prediction])).enumerate() {
            record(c, cell, &mut self.answer);
            if let (Some(r), Some(w), Some(Some(f))) = (reference, stats.drift.as_mut(), self.map.get(i)) {
                match cell {
                    Cell::Null => w.record_null(*f),
                    Cell::Number(v) => w.record_number(r, *f, *v),
                    Cell::Text(t) => w.record_category(r, *f, t),
                }
            }
        }
        if let Some(id) = row.id {
            let (score, class) = match row.prediction {
                Cell::Number(v) => (Some(v), None),
                Cell::Text(t) => (None, Some(t)),
                Cell::Null => (None, None),
            };
            self.kept.push(KeptPrediction { id, start_ms: start, length_ms: len, score, class });
        }
        Ok(())
    }

    /// Writes the windows (one transaction) and keeps the ids (a
    /// transaction per [`MAX_IDS_PER_CALL`]); on the blocking pool.
    pub fn write(mut self, store: &dyn Store, model: &str, version: VersionNumber) -> StoreResult<PredictionsAnswer> {
        let mut columns = self.inputs.clone();
        columns.push("prediction".into());
        let inputs = self.inputs.len();
        let deltas: Vec<WindowDelta> = std::mem::take(&mut self.windows)
            .into_iter()
            .enumerate()
            .map(|(i, (start, (rows, stats)))| WindowDelta {
                model: model.to_string(),
                version,
                start_ms: start,
                length_ms: self.config.window_ms,
                requests: 0,
                rows,
                errors: ErrorCounts::default(),
                cache: flotilla_store::monitor::CacheCounts::default(),
                fingerprint: stats.drift.as_ref().map(|w| w.fingerprint),
                stats: stats.to_bytes(),
                columns: (i == 0 && self.fresh).then(|| (inputs, columns.clone())),
            })
            .collect();
        let out = store.merge_windows(&deltas, &self.config.retention, self.now, &StatsMerger)?;
        self.answer.windows = out.windows;
        for chunk in self.kept.chunks(MAX_IDS_PER_CALL) {
            store.keep_predictions(model, version, chunk, MAX_KEPT_PER_VERSION)?;
            self.answer.kept_for_labels += chunk.len() as u64;
        }
        Ok(self.answer)
    }
}

/// One JSON object as a row (features: every key but `id`, `timestamp`
/// and `prediction`, or the `features` key).
pub fn row_of_json(n: usize, v: Value) -> Result<Row, Error> {
    let Value::Object(mut map) = v else { return Err(Error::invalid(format!("row {n} is not a JSON object"))) };
    let id = match map.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(x)) => Some(x.to_string()),
        Some(_) => return Err(Error::invalid(format!("row {n}: id must be a string or a number"))),
    };
    let timestamp = match map.remove("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(x)) => {
            Some(x.as_i64().ok_or_else(|| Error::invalid(format!("row {n}: timestamp must be milliseconds")))?)
        }
        Some(_) => return Err(Error::invalid(format!("row {n}: timestamp must be milliseconds since the epoch"))),
    };
    let prediction = map
        .remove("prediction")
        .map(|p| Cell::of_json(&p))
        .ok_or_else(|| Error::invalid(format!("row {n} has no prediction")))?;
    let features = match map.remove("features") {
        Some(Value::Array(cells)) => Features::Positional(cells.iter().map(Cell::of_json).collect()),
        Some(Value::Object(m)) => Features::Named(m.into_iter().map(|(k, v)| (k, Cell::of_json(&v))).collect()),
        Some(_) => return Err(Error::invalid(format!("row {n}: features must be an array or an object"))),
        None => Features::Named(map.into_iter().map(|(k, v)| (k, Cell::of_json(&v))).collect()),
    };
    Ok(Row { id, timestamp, features, prediction })
}

/// JSON lines into the batch (blank lines skipped).
pub fn push_json_lines(batch: &mut Batch, body: &[u8]) -> Result<(), Error> {
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_slice(line).map_err(|e| Error::invalid(format!("line {}: not JSON: {e}", i + 1)))?;
        batch.push(i + 1, row_of_json(i + 1, v)?)?;
    }
    Ok(())
}

/// One label.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub id: String,
    pub label: Cell,
}

/// What a labels post did.
#[derive(Debug, Default, Serialize)]
pub struct LabelsAnswer {
    pub labels: u64,
    pub joined: u64,
    pub unknown_ids: u64,
    /// A few of the unknown ids.
    pub unknown_sample: Vec<String>,
    pub windows: u64,
}

/// How labels are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Regression,
    Classification,
}

/// Labels from JSON lines or one JSON array of `{id, label}`.
pub fn parse_labels(body: &[u8]) -> Result<Vec<Label>, Error> {
    let one = |n: usize, v: Value| -> Result<Label, Error> {
        let Value::Object(mut m) = v else { return Err(Error::invalid(format!("label {n} is not an object"))) };
        let id = match m.remove("id") {
            Some(Value::String(s)) => s,
            Some(Value::Number(x)) => x.to_string(),
            _ => return Err(Error::invalid(format!("label {n} has no id"))),
        };
        let label = m.remove("label").map(|l| Cell::of_json(&l)).unwrap_or(Cell::Null);
        Ok(Label { id, label })
    };
    let trimmed = body.trim_ascii_start();
    let mut out = Vec::new();
    if trimmed.first() == Some(&b'[') {
        let all: Vec<Value> = serde_json::from_slice(trimmed).map_err(|e| Error::invalid(format!("not JSON: {e}")))?;
        if all.len() > MAX_LABELS {
            return Err(Error::invalid(format!("at most {MAX_LABELS} labels per request")));
        }
        for (i, v) in all.into_iter().enumerate() {
            out.push(one(i + 1, v)?);
        }
        return Ok(out);
    }
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if out.len() >= MAX_LABELS {
            return Err(Error::invalid(format!("at most {MAX_LABELS} labels per request")));
        }
        let v: Value =
            serde_json::from_slice(line).map_err(|e| Error::invalid(format!("line {}: not JSON: {e}", i + 1)))?;
        out.push(one(i + 1, v)?);
    }
    Ok(out)
}

fn truthy(c: &Cell) -> Option<bool> {
    match c {
        Cell::Number(v) if *v == 1.0 => Some(true),
        Cell::Number(v) if *v == 0.0 => Some(false),
        Cell::Text(t) => match t.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Cell::Number(_) | Cell::Null => None,
    }
}

/// Adds one labeled prediction to a window's performance.
fn judge(p: &mut Performance, task: Task, kept: &KeptPrediction, label: &Cell) {
    match task {
        Task::Regression => {
            if let (Some(s), Cell::Number(y)) = (kept.score, label)
                && s.is_finite()
                && y.is_finite()
            {
                p.regression += 1;
                p.abs_error += (s - y).abs();
                p.sq_error += (s - y) * (s - y);
            }
        }
        Task::Classification => {
            if p.positives.is_empty() {
                p.positives = vec![0; SCORE_BINS];
                p.negatives = vec![0; SCORE_BINS];
            }
            match (&kept.class, kept.score) {
                (Some(class), _) => {
                    p.classified += 1;
                    let correct = match label {
                        Cell::Text(t) => t == class,
                        Cell::Number(y) => class.parse::<f64>().is_ok_and(|c| c == *y),
                        Cell::Null => false,
                    };
                    p.correct += u64::from(correct);
                }
                (None, Some(s)) if s.is_finite() => {
                    let Some(y) = truthy(label) else { return };
                    let s = s.clamp(0.0, 1.0);
                    p.classified += 1;
                    p.correct += u64::from((s >= 0.5) == y);
                    let eps = 1e-15;
                    let q = if y { s } else { 1.0 - s };
                    p.log_loss += -q.clamp(eps, 1.0).ln();
                    p.scored += 1;
                    let bins = if y { &mut p.positives } else { &mut p.negatives };
                    bins[Performance::score_bin(s)] += 1;
                }
                (None, _) => {}
            }
        }
    }
}

/// Joins labels to kept predictions (each claimed once) and merges the
/// performance into their windows; on the blocking pool.
pub fn join_labels(
    store: &dyn Store,
    config: &TelemetryConfig,
    model: &str,
    version: VersionNumber,
    labels: &[Label],
    task: Option<Task>,
) -> StoreResult<LabelsAnswer> {
    let mut answer = LabelsAnswer { labels: labels.len() as u64, ..LabelsAnswer::default() };
    let mut windows: BTreeMap<i64, (i64, Performance)> = BTreeMap::new();
    for chunk in labels.chunks(MAX_IDS_PER_CALL) {
        let ids: Vec<String> = chunk.iter().map(|l| l.id.clone()).collect();
        let kept = store.claim_predictions(model, version, &ids)?;
        for (label, kept) in chunk.iter().zip(kept) {
            let Some(kept) = kept else {
                answer.unknown_ids += 1;
                if answer.unknown_sample.len() < SHOWN_UNKNOWN {
                    answer.unknown_sample.push(label.id.clone());
                }
                continue;
            };
            answer.joined += 1;
            let task = task.unwrap_or(match (&kept.class, &label.label) {
                (Some(_), _) | (_, Cell::Text(_)) => Task::Classification,
                (None, Cell::Number(_) | Cell::Null) => Task::Regression,
            });
            let (_, perf) = windows.entry(kept.start_ms).or_insert_with(|| (kept.length_ms, Performance::default()));
            judge(perf, task, &kept, &label.label);
        }
    }
    let deltas: Vec<WindowDelta> = windows
        .into_iter()
        .map(|(start, (len, perf))| WindowDelta {
            model: model.to_string(),
            version,
            start_ms: start,
            length_ms: len,
            requests: 0,
            rows: 0,
            errors: ErrorCounts::default(),
            cache: flotilla_store::monitor::CacheCounts::default(),
            fingerprint: None,
            stats: WindowStats { performance: Some(perf), ..WindowStats::default() }.to_bytes(),
            columns: None,
        })
        .collect();
    let retention: Retention = config.retention;
    answer.windows = store.merge_windows(&deltas, &retention, now_ms(), &StatsMerger)?.windows;
    Ok(answer)
}
