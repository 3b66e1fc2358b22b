//! A report's tables as files: one CSV or Parquet file per table, named by
//! the table (`inventory_families.csv`, ...). A column of integers is
//! Int64 in Parquet, of numbers Float64, else text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use flotilla_core::Error;

use super::{Cell, Report, Table};

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// A table as CSV text, with a header line.
pub fn csv(table: &Table) -> String {
    let mut out = table.columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for row in &table.rows {
        out.push_str(&row.iter().map(|c| csv_field(&c.to_string())).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("cannot write {}: {e}", path.display()))
}

/// Writes one `<table>.csv` per table into `dir` (created if missing).
pub fn write_csv(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut written = Vec::new();
    for t in report.tables() {
        let path = dir.join(format!("{}.csv", t.name));
        std::fs::write(&path, csv(t)).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn column(table: &Table, i: usize) -> (DataType, ArrayRef) {
    let cells = || table.rows.iter().map(move |r| r.get(i));
    let ints = cells().all(|c| matches!(c, Some(Cell::Int(_))));
    let nums = cells().all(|c| matches!(c, Some(Cell::Int(_) | Cell::Num(_))));
    if ints && !table.rows.is_empty() {
        let a: Int64Array = cells().map(|c| c.and_then(Cell::number).map(|x| x as i64)).collect();
        (DataType::Int64, Arc::new(a))
    } else if nums && !table.rows.is_empty() {
        let a: Float64Array = cells().map(|c| c.and_then(Cell::number)).collect();
        (DataType::Float64, Arc::new(a))
    } else {
        let a: StringArray = cells().map(|c| c.map(ToString::to_string)).collect();
        (DataType::Utf8, Arc::new(a))
    }
}

/// A table as one Parquet record batch.
pub fn parquet(table: &Table) -> Result<Vec<u8>, Error> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = (0..table.columns.len())
        .map(|i| {
            let (ty, a) = column(table, i);
            (Field::new(table.columns[i].clone(), ty, true), a)
        })
        .unzip();
    let bad = |e: &dyn std::fmt::Display| Error::invalid(format!("cannot encode table {}: {e}", table.name));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| bad(&e))?;
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).map_err(|e| bad(&e))?;
    w.write(&batch).map_err(|e| bad(&e))?;
    w.close().map_err(|e| bad(&e))?;
    Ok(out)
}

/// Writes one `<table>.parquet` per table into `dir` (created if missing).
pub fn write_parquet(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut written = Vec::new();
    for t in report.tables() {
        let path = dir.join(format!("{}.parquet", t.name));
        std::fs::write(&path, parquet(t)?).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
