//! Reading an MLflow SQL store directly (`sqlite:///path/mlflow.db`): its
//! schema revision checked against the known chain, then each entity kind
//! read into flotilla's domain types (tracking in `tracking.rs`, the
//! registry in `registry.rs`). Columns a revision lacks read as absent.
//!
//! Only MLflow's default workspace is read: rows of other workspaces
//! (MLflow 3.x) are counted as not imported.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{ImportError, ImportResult};

pub mod postgres;
pub mod registry;
pub mod revisions;
pub mod tracking;

/// Where the source is, parsed from `--from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceUri {
    Sqlite(PathBuf),
    Postgres(String),
    Mysql(String),
    Rest(String),
}

impl SourceUri {
    pub fn parse(uri: &str) -> ImportResult<Self> {
        if let Some(path) = uri.strip_prefix("sqlite:///") {
            return Ok(Self::Sqlite(PathBuf::from(format!("/{path}"))));
        }
        if uri.starts_with("postgresql://") || uri.starts_with("postgres://") {
            return Ok(Self::Postgres(uri.into()));
        }
        if uri.starts_with("mysql://") || uri.starts_with("mysql+pymysql://") {
            return Ok(Self::Mysql(uri.into()));
        }
        if uri.starts_with("http://") || uri.starts_with("https://") {
            return Ok(Self::Rest(uri.into()));
        }
        Err(ImportError::Usage(format!(
            "--from {uri:?}: expected sqlite:////abs/path/mlflow.db, postgresql://..., mysql://... or http(s)://host"
        )))
    }
}

/// An open MLflow SQL store, read-only.
pub struct Source {
    conn: Connection,
    pub revision: String,
    workspaces: bool,
    /// A PostgreSQL source: its staged copy, and the tables not copied with their rows.
    staged: Option<(postgres::Staged, BTreeMap<String, u64>)>,
}

impl Source {
    /// Opens the store and checks its schema revision.
    pub fn open(uri: &SourceUri) -> ImportResult<Self> {
        let (path, staged) = match uri {
            SourceUri::Sqlite(path) => (path.clone(), None),
            SourceUri::Postgres(url) => {
                let staged = postgres::Staged(std::env::temp_dir().join(format!(
                    "flotilla-import-{}-{}.db",
                    std::process::id(),
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
                )));
                let not_copied = postgres::stage(url, &staged.0)?;
                (staged.0.clone(), Some((staged, not_copied)))
            }
            SourceUri::Mysql(uri) | SourceUri::Rest(uri) => {
                return Err(ImportError::Unsupported(format!(
                    "reading {uri} is not supported yet: import from the database, sqlite:///... or postgresql://..."
                )));
            }
        };
        let path = &path;
        if !path.is_file() {
            return Err(ImportError::Source(format!("{}: no such MLflow database", path.display())));
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| ImportError::Source(format!("{}: {e}", path.display())))?;
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -65536;")?;
        let mut source = Self { conn, revision: String::new(), workspaces: false, staged };
        if !source.has_table("alembic_version")? {
            return Err(ImportError::Source(format!(
                "{}: no alembic_version table; not an MLflow tracking database",
                path.display()
            )));
        }
        let revision: Option<String> =
            source.conn.query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0)).optional()?;
        let revision = revision.unwrap_or_default();
        if !revisions::is_known(&revision) {
            return Err(ImportError::UnknownRevision(revision));
        }
        source.revision = revision;
        source.workspaces = source.has_column("experiments", "workspace")?;
        Ok(source)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn has_table(&self, table: &str) -> ImportResult<bool> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
            [table],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }

    pub fn has_column(&self, table: &str, column: &str) -> ImportResult<bool> {
        Ok(self.conn.query_row("SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", [table, column], |r| {
            r.get::<_, i64>(0)
        })? > 0)
    }

    /// `column` if `table` has it, else `NULL` (a column of a later revision).
    pub(crate) fn column_or_null(&self, table: &str, column: &str) -> ImportResult<String> {
        Ok(if self.has_column(table, column)? { column.to_string() } else { "NULL".to_string() })
    }

    /// The condition keeping a table's rows to the default workspace.
    pub(crate) fn in_default_workspace(&self, table: &str) -> ImportResult<&'static str> {
        Ok(if self.workspaces && self.has_column(table, "workspace")? { "workspace = 'default'" } else { "1 = 1" })
    }

    pub(crate) fn count(&self, sql: &str) -> ImportResult<u64> {
        Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Rows of the tables flotilla has no home for (traces, assessments,
    /// webhooks, prompts' extras...), and of other workspaces, by table.
    pub fn not_imported(&self) -> ImportResult<BTreeMap<String, u64>> {
        let tables: Vec<String> = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = self.staged.as_ref().map(|(_, counts)| counts.clone()).unwrap_or_default();
        for table in tables {
            let rows = if revisions::READ.contains(&table.as_str()) {
                if !self.workspaces || !self.has_column(&table, "workspace")? {
                    continue;
                }
                self.count(&format!("SELECT count(*) FROM \"{table}\" WHERE workspace != 'default'"))?
            } else if revisions::INTERNAL.contains(&table.as_str()) {
                continue;
            } else {
                self.count(&format!("SELECT count(*) FROM \"{table}\""))?
            };
            if rows > 0 {
                let label = if revisions::READ.contains(&table.as_str()) {
                    format!("{table} (other workspaces)")
                } else {
                    table
                };
                out.insert(label, rows);
            }
        }
        Ok(out)
    }
}
