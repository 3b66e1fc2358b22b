//! Multi-row inserts for the generator: rows of one table are buffered and
//! written `ROWS_PER_STATEMENT` at a time by one statement prepared once per
//! transaction.
//!
//! Why: a statement that inserts many rows keeps its cursor on the last leaf,
//! so rows arriving in key order are appended without a descent from the
//! root, and the per-statement costs (reset, halt, cursor set-up) are paid
//! once per batch. `OR FAIL` spares SQLite a statement journal (a failed
//! statement fails the whole generation transaction anyway), and values are
//! bound from borrowed text instead of owned values built per row.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, ToSql};

use flotilla_store::StoreResult;

/// Rows per full statement: at most 6 columns, so well under SQLite's limit
/// of 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 64;

/// One bound value, borrowing constant text.
pub(super) enum Cell {
    Int(i64),
    Real(f64),
    Text(&'static str),
    Owned(String),
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Self::Real(v)
    }
}

impl From<&'static str> for Cell {
    fn from(v: &'static str) -> Self {
        Self::Text(v)
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Self {
        Self::Owned(v)
    }
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Int(v) => ValueRef::Integer(*v),
            Self::Real(v) => ValueRef::Real(*v),
            Self::Text(v) => ValueRef::Text(v.as_bytes()),
            Self::Owned(v) => ValueRef::Text(v.as_bytes()),
        }))
    }
}

/// The buffered rows of one table.
pub(super) struct BatchedInsert<'tx> {
    tx: &'tx Connection,
    table_and_columns: &'static str,
    width: usize,
    full: CachedStatement<'tx>,
    cells: Vec<Cell>,
}

/// `INSERT OR FAIL INTO <table_and_columns> VALUES (?, ...), ...` for `rows` rows.
fn insert_sql(table_and_columns: &str, width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    format!("INSERT OR FAIL INTO {table_and_columns} VALUES {}", vec![row; rows].join(", "))
}

impl<'tx> BatchedInsert<'tx> {
    /// `table_and_columns` is like `"t (a, b)"`; `width` its number of columns.
    pub fn new(tx: &'tx Connection, table_and_columns: &'static str, width: usize) -> StoreResult<Self> {
        let full = tx.prepare_cached(&insert_sql(table_and_columns, width, ROWS_PER_STATEMENT))?;
        Ok(Self { tx, table_and_columns, width, full, cells: Vec::with_capacity(width * ROWS_PER_STATEMENT) })
    }

    pub fn push<const N: usize>(&mut self, row: [Cell; N]) -> StoreResult<()> {
        debug_assert_eq!(N, self.width);
        self.cells.extend(row);
        if self.cells.len() == self.width * ROWS_PER_STATEMENT {
            execute(&mut self.full, &mut self.cells)?;
        }
        Ok(())
    }

    /// Writes the rows left over (fewer than a full statement).
    pub fn finish(&mut self) -> StoreResult<()> {
        if !self.cells.is_empty() {
            let rows = self.cells.len() / self.width;
            let mut stmt = self.tx.prepare(&insert_sql(self.table_and_columns, self.width, rows))?;
            execute(&mut stmt, &mut self.cells)?;
        }
        Ok(())
    }
}

fn execute(stmt: &mut rusqlite::Statement<'_>, cells: &mut Vec<Cell>) -> StoreResult<()> {
    for (i, cell) in cells.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, cell)?;
    }
    stmt.raw_execute()?;
    cells.clear();
    Ok(())
}
