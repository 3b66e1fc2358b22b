//! Loading many rows into PostgreSQL with `COPY ... FROM STDIN` (the fleet
//! generator's writer; the counterpart of `sqlite/bulk_load.rs`). Rows go
//! in PostgreSQL's text format, one `COPY` per table per transaction, with
//! every trigger in place: the derived tables (facet counts, health
//! roll-ups, registry notifications) stay what the store's own writes
//! would have made, as long as the caller writes a model's membership
//! before the rows that count in its family (tags, versions, aliases).
//!
//! The loader takes one pooled connection for its whole life and writes
//! outside the store's write path (no serializable retries, no audit rows):
//! it is for filling a database nobody else writes to at the same time.

use std::io::Write;

use postgres::types::ToSql;

use super::PgStore;
use super::tx::Manager;
use crate::error::StoreResult;

/// A connection for bulk loading (see the module documentation).
pub struct PgLoader {
    conn: r2d2::PooledConnection<Manager>,
}

impl PgStore {
    /// A loader on a connection of its own (see [`PgLoader`]).
    pub fn loader(&self) -> StoreResult<PgLoader> {
        Ok(PgLoader { conn: self.conn()? })
    }
}

impl PgLoader {
    /// Runs `f` in one transaction, committed if it returns `Ok`.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut LoadTx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut tx = LoadTx { tx: self.conn.client.transaction()? };
        let out = f(&mut tx)?;
        tx.tx.commit()?;
        Ok(out)
    }
}

/// One transaction of a [`PgLoader`].
pub struct LoadTx<'a> {
    tx: postgres::Transaction<'a>,
}

impl LoadTx<'_> {
    /// Runs one statement; the rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        Ok(self.tx.execute(sql, params)?)
    }

    /// The one `bigint` a statement answers (`RETURNING`, an aggregate).
    pub fn query_i64(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<i64> {
        Ok(self.tx.query_one(sql, params)?.get(0))
    }

    /// Copies `rows` into `target` (`table (col, ...)`), emptying them.
    pub fn copy(&mut self, target: &str, rows: &mut CopyRows) -> StoreResult<u64> {
        if rows.count == 0 {
            return Ok(0);
        }
        let mut writer = self.tx.copy_in(&format!("COPY {target} FROM STDIN"))?;
        writer.write_all(&rows.text).map_err(|e| flotilla_core::Error::internal(format!("COPY {target}: {e}")))?;
        let copied = writer.finish()?;
        rows.text.clear();
        rows.count = 0;
        Ok(copied)
    }
}

/// One field of a row to copy.
#[derive(Debug, Clone, Copy)]
pub enum CopyValue<'a> {
    Int(i64),
    Float(f64),
    Text(&'a str),
    Null,
}

impl From<i64> for CopyValue<'_> {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<f64> for CopyValue<'_> {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl<'a> From<&'a str> for CopyValue<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for CopyValue<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Self::Null, Self::Text)
    }
}

/// Rows in `COPY`'s text format: fields separated by tabs, `\N` for null,
/// backslash escapes for the characters the format reserves.
#[derive(Debug, Default)]
pub struct CopyRows {
    text: Vec<u8>,
    count: u64,
}

impl CopyRows {
    pub fn push(&mut self, fields: &[CopyValue<'_>]) {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.text.push(b'\t');
            }
            match *field {
                CopyValue::Int(v) => self.text.extend_from_slice(v.to_string().as_bytes()),
                CopyValue::Float(v) if v.is_nan() => self.text.extend_from_slice(b"NaN"),
                CopyValue::Float(v) if v.is_infinite() => {
                    self.text.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" })
                }
                // Rust's shortest representation that reads back to the same bits.
                CopyValue::Float(v) => self.text.extend_from_slice(format!("{v:?}").as_bytes()),
                CopyValue::Text(s) => escape_into(&mut self.text, s),
                CopyValue::Null => self.text.extend_from_slice(b"\\N"),
            }
        }
        self.text.push(b'\n');
        self.count += 1;
    }

    /// Rows pushed since the last copy.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_in_copy_text_format() {
        let mut rows = CopyRows::default();
        rows.push(&[1.into(), "a\tb\\c\nd".into(), CopyValue::Null, 0.1.into(), f64::NAN.into()]);
        rows.push(&[(-2).into(), f64::NEG_INFINITY.into(), 1e300.into(), "".into(), None.into()]);
        assert_eq!(
            String::from_utf8(rows.text.clone()).unwrap(),
            "1\ta\\tb\\\\c\\nd\t\\N\t0.1\tNaN\n-2\t-Infinity\t1e300\t\t\\N\n"
        );
        assert_eq!(rows.len(), 2);
    }
}
