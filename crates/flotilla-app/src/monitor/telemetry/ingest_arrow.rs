//! Posted predictions as Parquet or an Arrow IPC stream: the columns
//! `id`, `timestamp` (integer ms) and `prediction`, every other column a
//! feature by name; read a record batch at a time into
//! [`super::ingest::Batch`]. The body is already bounded by the upload
//! limit; a Parquet column chunk larger than [`MAX_CHUNK_BYTES`] is refused
//! before it is decoded.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use bytes::Bytes;
use flotilla_core::Error;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::ingest::{Batch, Cell, Features, Row};

/// The largest Parquet column chunk decoded.
pub const MAX_CHUNK_BYTES: i64 = 256 << 20;
const BATCH_ROWS: usize = 8192;

// arrow's DataType is not ours: every other type is text-like here.
#[allow(clippy::wildcard_enum_match_arm)]
fn cell(a: &dyn Array, i: usize) -> Cell {
    if a.is_null(i) {
        return Cell::Null;
    }
    macro_rules! num {
        ($t:ty) => {
            Cell::Number(a.as_primitive::<$t>().value(i) as f64)
        };
    }
    match a.data_type() {
        DataType::Float64 => num!(Float64Type),
        DataType::Float32 => num!(Float32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int8 => num!(Int8Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::Boolean => Cell::Text(a.as_boolean().value(i).to_string()),
        DataType::Utf8 => Cell::Text(a.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Cell::Text(a.as_string::<i64>().value(i).to_string()),
        _ => Cell::Text(String::new()),
    }
}

fn push_batch(batch: &mut Batch, rb: &RecordBatch, first_row: usize) -> Result<(), Error> {
    let schema = rb.schema();
    let index = |name: &str| schema.index_of(name).ok();
    let (id, ts, pred) = (index("id"), index("timestamp"), index("prediction"));
    let pred = pred.ok_or_else(|| Error::invalid("the data has no 'prediction' column"))?;
    let features: Vec<usize> =
        (0..rb.num_columns()).filter(|c| Some(*c) != id && Some(*c) != ts && *c != pred).collect();
    for i in 0..rb.num_rows() {
        let n = first_row + i + 1;
        let id = id.and_then(|c| match cell(rb.column(c).as_ref(), i) {
            Cell::Null => None,
            Cell::Number(v) => Some(v.to_string()),
            Cell::Text(t) => Some(t),
        });
        let timestamp = match ts.map(|c| cell(rb.column(c).as_ref(), i)) {
            None | Some(Cell::Null) => None,
            Some(Cell::Number(v)) => Some(v as i64),
            Some(Cell::Text(_)) => return Err(Error::invalid(format!("row {n}: timestamp must be milliseconds"))),
        };
        let named = features.iter().map(|c| (schema.field(*c).name().clone(), cell(rb.column(*c).as_ref(), i)));
        let row = Row {
            id,
            timestamp,
            features: Features::Named(named.collect()),
            prediction: cell(rb.column(pred).as_ref(), i),
        };
        batch.push(n, row)?;
    }
    Ok(())
}

pub fn push_parquet(batch: &mut Batch, body: Bytes) -> Result<(), Error> {
    let bad = |e: parquet::errors::ParquetError| Error::invalid(format!("not readable as Parquet: {e}"));
    let builder = ParquetRecordBatchReaderBuilder::try_new(body).map_err(bad)?;
    for group in builder.metadata().row_groups() {
        for column in group.columns() {
            if !(0..=MAX_CHUNK_BYTES).contains(&column.compressed_size()) {
                return Err(Error::invalid(format!(
                    "Parquet column chunk '{}' is over {MAX_CHUNK_BYTES} bytes",
                    column.column_path().string()
                )));
            }
        }
    }
    let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(bad)?;
    let mut seen = 0;
    for rb in reader {
        let rb = rb.map_err(|e| Error::invalid(format!("not readable as Parquet: {e}")))?;
        push_batch(batch, &rb, seen)?;
        seen += rb.num_rows();
    }
    Ok(())
}

pub fn push_arrow_stream(batch: &mut Batch, body: Bytes) -> Result<(), Error> {
    let bad = |e: arrow_schema::ArrowError| Error::invalid(format!("not readable as an Arrow IPC stream: {e}"));
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None).map_err(bad)?;
    let mut seen = 0;
    for rb in reader {
        let rb = rb.map_err(bad)?;
        push_batch(batch, &rb, seen)?;
        seen += rb.num_rows();
    }
    Ok(())
}
