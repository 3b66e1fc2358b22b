//! The store's error type: a domain error for the client, or a backend failure.

use flotilla_core::{Error, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A client-facing error (not found, already exists, invalid value...).
    #[error(transparent)]
    Domain(#[from] Error),
    /// The database failed; details are logged, never sent to clients.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A migration could not be applied at start.
    #[error("migration {version} failed: {source}")]
    Migration { version: u32, source: rusqlite::Error },
    /// PostgreSQL failed; details are logged, never sent to clients.
    #[error("database error: {0}")]
    Postgres(#[from] postgres::Error),
    /// No PostgreSQL connection could be had from the pool in time.
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// A PostgreSQL migration could not be applied at start.
    #[error("migration {version} failed: {source}")]
    PgMigration { version: u32, source: postgres::Error },
    /// The database was written by a newer flotilla; this one refuses to touch it.
    #[error(
        "the database's schema is version {found}, newer than this flotilla knows (version {known}): run a flotilla at least as new as the one that upgraded it"
    )]
    SchemaTooNew { found: u32, known: u32 },
    /// The database is more than one migration behind this flotilla (see `schema.rs`).
    #[error(
        "the database's schema is version {found}, older than this flotilla runs on (version {oldest} or newer, up to {latest}): upgrade it first with `flotilla db upgrade` (same --data-dir or --database)"
    )]
    SchemaTooOld { found: u32, oldest: u32, latest: u32 },
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Domain(e) => e.kind,
            Self::Database(e) if is_interrupt(e) => ErrorKind::Interrupted,
            Self::Postgres(e) => crate::postgres::error_kind(e),
            Self::Database(_) | Self::Migration { .. } | Self::Pool(_) | Self::PgMigration { .. } => {
                ErrorKind::Internal
            }
            // Exit code 4: the stored data conflicts with this build.
            Self::SchemaTooNew { .. } | Self::SchemaTooOld { .. } => ErrorKind::InvalidState,
        }
    }
}

/// SQLite stopped the statement: the progress handler saw a spent budget.
fn is_interrupt(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
}

pub type StoreResult<T> = Result<T, StoreError>;
