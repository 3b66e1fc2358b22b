//! The bodies of MLflow's scoring protocol, read into one [`Frame`]: JSON
//! with exactly one of `dataframe_split`, `dataframe_records`, `instances`
//! or `inputs` (and an optional `params`, ignored), or CSV with a header
//! row, as `pandas.read_csv` reads it. Cells are numbers or text; which a
//! column must be is decided later, against the model.
//!
//! Limits: the body is capped before it is read (the V2 body limit), and a
//! frame holds at most [`MAX_CELLS`] cells and [`MAX_COLUMNS`] columns, so a
//! body of many empty rows cannot grow into more memory than its cells.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::ScoringError;

/// Cells of one request at most (the V2 limit on elements).
pub const MAX_CELLS: usize = crate::v2::codec::MAX_ELEMENTS;
/// Columns of one request at most (a signature's limit).
pub const MAX_COLUMNS: usize = flotilla_infer::columns::MAX_SIGNATURE_COLUMNS;

/// One cell: JSON `null` and an empty CSV field read as NaN, as pandas does.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Num(f64),
    Text(String),
}

impl Cell {
    /// The cell as a number: numbers as they are, text parsed (CSV's cells,
    /// and numbers sent as strings), else `None`.
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Num(x) => Some(*x),
            Self::Text(s) => parse_number(s),
        }
    }
}

/// Text as a number, as pandas reads it: empty is NaN.
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() { Some(f64::NAN) } else { s.parse().ok() }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CellVisitor;
        impl Visitor<'_> for CellVisitor {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a string, a boolean or null")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Cell, E> {
                Ok(Cell::Num(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Cell, E> {
                Ok(Cell::Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Cell, E> {
                Ok(Cell::Num(v as f64))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Cell, E> {
                Ok(Cell::Num(f64::from(u8::from(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Cell, E> {
                Ok(Cell::Text(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Cell, E> {
                Ok(Cell::Num(f64::NAN))
            }
        }
        d.deserialize_any(CellVisitor)
    }
}

/// A column of the frame: `width` cells per row (1 for a DataFrame's
/// column; more for a tensor sent by name, or an unnamed matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: Option<String>,
    pub width: usize,
    /// Row-major: row `r` is `cells[r * width..(r + 1) * width]`.
    pub cells: Vec<Cell>,
}

/// What a request carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub rows: usize,
    pub columns: Vec<Column>,
    /// A DataFrame (`dataframe_*`, CSV), as opposed to tensors (`instances`,
    /// `inputs`): pyfunc answers some models differently for each.
    pub tabular: bool,
}

/// `{"columns": [...], "data": [[...]], "index": [...]}` (pandas' split orient).
#[derive(Deserialize)]
struct Split {
    columns: Option<Vec<String>>,
    data: Vec<Vec<Cell>>,
    #[serde(default, rename = "index")]
    _index: Option<IgnoredAny>,
}

/// The request body with its one format field.
enum Body {
    Split(Split),
    Records(Vec<Vec<(String, Cell)>>),
    Tensors(Value),
}

const REQUIRED_INPUT_FORMAT: &str = "The input must be a JSON dictionary with exactly one of the input fields \
                                     {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}";

/// Reads the top-level object: exactly one format field, named fields kept
/// for the message when there is not exactly one.
struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Result<Body, Vec<String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Vec<Body> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "dataframe_split" => found.push(Body::Split(map.next_value()?)),
                "dataframe_records" => {
                    found.push(Body::Records(map.next_value::<Vec<Record>>()?.into_iter().map(|r| r.0).collect()))
                }
                "instances" | "inputs" => found.push(Body::Tensors(map.next_value()?)),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            keys.push(key);
        }
        if found.len() == 1
            && let Some(body) = found.pop()
        {
            return Ok(Ok(body));
        }
        keys.retain(|k| k != "params");
        Ok(Err(keys))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(format!("{REQUIRED_INPUT_FORMAT}. Received a list.")))
    }
}

/// One record of `dataframe_records`, its fields in the order sent.
struct Record(Vec<(String, Cell)>);

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RecordVisitor;
        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = Record;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a record (an object of column to value)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Cell>()? {
                    if fields.len() == MAX_COLUMNS {
                        return Err(de::Error::custom(format!("a record has more than {MAX_COLUMNS} columns")));
                    }
                    fields.push((k, v));
                }
                Ok(Record(fields))
            }
        }
        d.deserialize_map(RecordVisitor)
    }
}

/// Parses a JSON body into a frame.
pub fn from_json(body: &[u8]) -> Result<Frame, ScoringError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = de.deserialize_any(BodyVisitor).and_then(|b| de.end().map(|()| b));
    let body = match parsed {
        Ok(Ok(body)) => body,
        Ok(Err(keys)) => {
            return Err(ScoringError::bad_request(format!(
                "{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {keys:?}."
            )));
        }
        Err(e) if e.is_data() && e.to_string().contains(REQUIRED_INPUT_FORMAT) => {
            return Err(ScoringError::bad_request(format!("Invalid input. {e}")));
        }
        Err(e) => {
            return Err(ScoringError::bad_request(format!(
                "Invalid input. Ensure that input is a valid JSON formatted string. Error: '{e}'"
            )));
        }
    };
    match body {
        Body::Split(split) => from_split(split),
        Body::Records(records) => from_records(records),
        Body::Tensors(value) => from_tensors(value),
    }
}

pub(super) fn check_size(rows: usize, width: usize) -> Result<(), ScoringError> {
    if width > MAX_COLUMNS {
        return Err(ScoringError::bad_request(format!(
            "the input has {width} columns; at most {MAX_COLUMNS} are allowed"
        )));
    }
    if rows.saturating_mul(width.max(1)) > MAX_CELLS {
        return Err(ScoringError::bad_request(format!(
            "the input has {rows} rows of {width} columns; at most {MAX_CELLS} cells are allowed"
        )));
    }
    Ok(())
}

fn wrong_width(row: usize, got: usize, want: usize) -> ScoringError {
    ScoringError::bad_request(format!("row {row} has {got} values; the input has {want} columns"))
}

/// Splits row-major rows of `names.len()` cells into one column per name.
fn columns_of(names: Vec<Option<String>>, rows: Vec<Vec<Cell>>) -> Result<Frame, ScoringError> {
    let width = names.len();
    check_size(rows.len(), width)?;
    let n = rows.len();
    let mut columns: Vec<Column> =
        names.into_iter().map(|name| Column { name, width: 1, cells: Vec::with_capacity(n) }).collect();
    for (r, row) in rows.into_iter().enumerate() {
        if row.len() != width {
            return Err(wrong_width(r, row.len(), width));
        }
        for (column, cell) in columns.iter_mut().zip(row) {
            column.cells.push(cell);
        }
    }
    Ok(Frame { rows: n, columns, tabular: true })
}

fn from_split(split: Split) -> Result<Frame, ScoringError> {
    let width = match &split.columns {
        Some(c) => c.len(),
        None => split.data.first().map_or(0, Vec::len),
    };
    let names = match split.columns {
        Some(c) => c.into_iter().map(Some).collect(),
        None => (0..width).map(|i| Some(i.to_string())).collect(),
    };
    columns_of(names, split.data)
}

fn from_records(records: Vec<Vec<(String, Cell)>>) -> Result<Frame, ScoringError> {
    // Columns in the order first seen; a record without one reads NaN there.
    let mut names: Vec<String> = Vec::new();
    for record in &records {
        for (k, _) in record {
            if !names.contains(k) {
                names.push(k.clone());
                check_size(0, names.len())?;
            }
        }
    }
    let rows = records
        .into_iter()
        .map(|record| {
            let mut row = vec![Cell::Num(f64::NAN); names.len()];
            for (k, v) in record {
                if let Some(i) = names.iter().position(|n| *n == k) {
                    row[i] = v;
                }
            }
            row
        })
        .collect();
    columns_of(names.into_iter().map(Some).collect(), rows)
}

/// `instances` / `inputs` (TF serving's format): a list of rows (an unnamed
/// matrix), a list of records, or an object of named columns or tensors.
fn from_tensors(value: Value) -> Result<Frame, ScoringError> {
    match value {
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            let records = items
                .into_iter()
                .map(|item| match item {
                    Value::Object(map) => map.into_iter().map(|(k, v)| Ok((k, cell(v)?))).collect(),
                    Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Array(_) => {
                        Ok(Vec::new())
                    }
                })
                .collect::<Result<Vec<_>, ScoringError>>()?;
            Ok(Frame { tabular: false, ..from_records(records)? })
        }
        Value::Array(items) => {
            let column = tensor(None, items)?;
            Ok(Frame { rows: column.cells.len() / column.width.max(1), columns: vec![column], tabular: false })
        }
        Value::Object(map) => {
            let mut columns = Vec::with_capacity(map.len());
            for (name, v) in map {
                let items = match v {
                    Value::Array(items) => items,
                    other @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Object(_)) => {
                        vec![other]
                    }
                };
                columns.push(tensor(Some(name), items)?);
            }
            let rows = columns.first().map_or(0, |c| c.cells.len() / c.width.max(1));
            if let Some(c) = columns.iter().find(|c| c.cells.len() / c.width.max(1) != rows) {
                return Err(ScoringError::bad_request(format!(
                    "input '{}' has {} rows; the others have {rows}",
                    c.name.as_deref().unwrap_or_default(),
                    c.cells.len() / c.width.max(1)
                )));
            }
            check_size(rows, columns.iter().map(|c| c.width).sum())?;
            Ok(Frame { rows, columns, tabular: false })
        }
        other @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) => Err(ScoringError::bad_request(
            format!("Invalid input. 'instances' or 'inputs' must be a list or an object, not {other}"),
        )),
    }
}

/// A list of scalars (one value per row) or of equal-length lists (rows).
fn tensor(name: Option<String>, items: Vec<Value>) -> Result<Column, ScoringError> {
    let width = match items.first() {
        Some(Value::Array(first)) => first.len(),
        _ => 1,
    };
    let nested = matches!(items.first(), Some(Value::Array(_)));
    check_size(items.len(), width)?;
    let mut cells = Vec::with_capacity(items.len() * width);
    for (r, item) in items.into_iter().enumerate() {
        match (nested, item) {
            (true, Value::Array(row)) if row.len() == width => {
                for v in row {
                    cells.push(cell(v)?);
                }
            }
            (true, Value::Array(row)) => return Err(wrong_width(r, row.len(), width)),
            (false, Value::Array(_)) | (true, _) => {
                return Err(ScoringError::bad_request(format!("row {r} mixes lists and single values")));
            }
            (false, v) => cells.push(cell(v)?),
        }
    }
    Ok(Column { name, width, cells })
}

fn cell(v: Value) -> Result<Cell, ScoringError> {
    Ok(match v {
        Value::Null => Cell::Num(f64::NAN),
        Value::Bool(b) => Cell::Num(f64::from(u8::from(b))),
        Value::Number(n) => Cell::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Cell::Text(s),
        Value::Array(_) | Value::Object(_) => {
            return Err(ScoringError::bad_request("Invalid input. a cell must be a number, a string or null"));
        }
    })
}

/// Parses CSV with a header row, as `pandas.read_csv` reads what
/// `DataFrame.to_csv(index=False)` writes. Every row must have the header's
/// number of fields. A field of a column `is_text` names stays text; the
/// others are read as numbers where they parse (empty is NaN), so a number
/// is not kept as a string on the way.
pub fn from_csv(body: &[u8], is_text: &dyn Fn(&str) -> bool) -> Result<Frame, ScoringError> {
    let failed = |e: &dyn fmt::Display| {
        ScoringError::bad_request(format!(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas \
             DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '{e}'"
        ))
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(body);
    let header: Vec<Option<String>> =
        reader.headers().map_err(|e| failed(&e))?.iter().map(|h| Some(h.to_string())).collect();
    if header.is_empty() || header.iter().all(|h| h.as_deref() == Some("")) {
        return Err(failed(&"No columns to parse from file"));
    }
    let width = header.len();
    check_size(0, width)?;
    let text: Vec<bool> = header.iter().map(|h| is_text(h.as_deref().unwrap_or_default())).collect();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| failed(&e))? {
        if record.len() != width {
            return Err(failed(&format!(
                "Error tokenizing data. Expected {width} fields in line {}, saw {}",
                rows.len() + 2,
                record.len()
            )));
        }
        check_size(rows.len() + 1, width)?;
        let row = record.iter().zip(&text).map(|(f, text)| {
            let number = if *text { None } else { parse_number(f) };
            number.map_or_else(|| Cell::Text(f.to_string()), Cell::Num)
        });
        rows.push(row.collect());
    }
    columns_of(header, rows)
}
