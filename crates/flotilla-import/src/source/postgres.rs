//! An MLflow store on PostgreSQL (`postgresql://...`), read by staging the
//! tables the importer reads into a private SQLite file, so one reader
//! (`tracking.rs`, `registry.rs`) serves both databases. Rows stream from
//! the server (never a whole table in memory); column types map to SQLite's
//! (integers and booleans as INTEGER, floating point as REAL, the rest as
//! TEXT). The other tables are only counted, for the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::{Client, NoTls};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::revisions;
use crate::{ImportError, ImportResult};

/// Rows per SQLite insert statement while staging.
const ROWS_PER_INSERT: usize = 200;

fn pg(e: postgres::Error) -> ImportError {
    ImportError::Source(format!("PostgreSQL: {e}"))
}

/// Copies the tables the importer reads from `url` into a new SQLite file at
/// `staged`; answers the row counts of the tables it did not copy.
pub fn stage(url: &str, staged: &Path) -> ImportResult<BTreeMap<String, u64>> {
    let url = url.replacen("postgresql+psycopg2://", "postgresql://", 1);
    let mut client = Client::connect(&url, NoTls).map_err(pg)?;
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let conn = Connection::open(staged)?;
    conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    let mut not_copied = BTreeMap::new();
    for table in &tables {
        if table == "alembic_version" || revisions::READ.contains(&table.as_str()) {
            copy_table(&mut client, &conn, table)?;
        } else if !revisions::INTERNAL.contains(&table.as_str()) {
            let rows: i64 = client.query_one(&format!("SELECT count(*) FROM \"{table}\""), &[]).map_err(pg)?.get(0);
            if rows > 0 {
                not_copied.insert(table.clone(), rows as u64);
            }
        }
    }
    Ok(not_copied)
}

fn copy_table(client: &mut Client, conn: &Connection, table: &str) -> ImportResult<()> {
    let columns: Vec<(String, String)> = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .map_err(pg)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let affinity = |data_type: &str| match data_type {
        "integer" | "bigint" | "smallint" | "boolean" => "INTEGER",
        "double precision" | "real" | "numeric" => "REAL",
        _ => "TEXT",
    };
    let list = columns.iter().map(|(name, _)| format!("\"{name}\"")).collect::<Vec<_>>().join(", ");
    let definitions =
        columns.iter().map(|(name, t)| format!("\"{name}\" {}", affinity(t))).collect::<Vec<_>>().join(", ");
    conn.execute_batch(&format!("CREATE TABLE \"{table}\" ({definitions});"))?;
    let tx = conn.unchecked_transaction()?;
    let mut rows =
        client.query_raw(&format!("SELECT {list} FROM \"{table}\""), std::iter::empty::<i32>()).map_err(pg)?;
    let mut batch: Vec<Value> = Vec::with_capacity(columns.len() * ROWS_PER_INSERT);
    let insert = |batch: &mut Vec<Value>| -> ImportResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let row = format!("({})", vec!["?"; columns.len()].join(", "));
        let n = batch.len() / columns.len();
        let sql = format!("INSERT INTO \"{table}\" ({list}) VALUES {}", vec![row; n].join(", "));
        tx.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(batch.drain(..)))?;
        Ok(())
    };
    while let Some(row) = rows.next().map_err(pg)? {
        for (i, column) in row.columns().iter().enumerate() {
            batch.push(value(&row, i, column.type_()).map_err(pg)?);
        }
        if batch.len() >= columns.len() * ROWS_PER_INSERT {
            insert(&mut batch)?;
        }
    }
    insert(&mut batch)?;
    tx.commit()?;
    Ok(())
}

/// One PostgreSQL value as SQLite holds it.
fn value(row: &postgres::Row, i: usize, t: &Type) -> Result<Value, postgres::Error> {
    Ok(match *t {
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Integer),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map_or(Value::Null, |v| Value::Real(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
        _ => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
    })
}

/// A staged copy's path, removed when dropped.
pub struct Staged(pub PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
