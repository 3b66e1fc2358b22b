//! `flotilla import mlflow`: moves an MLflow store into flotilla with
//! nothing lost: ids, numbers, times and lifecycle kept, every metric
//! point, the registry with its aliases, stages and tags, and the artifacts
//! copied with checksums, ending in a reconciliation report.
//!
//! Bird's-eye view: [`source`] reads MLflow's SQL schema directly (every
//! revision of the 2.x and 3.x chain), [`run::import`] writes each entity
//! kind in dependency order through `flotilla_store::ImportStore` (which
//! never overwrites: a differing entity is a conflict), [`uris`] rewrites
//! artifact locations to flotilla's, [`artifacts`] copies the files,
//! [`families`] files models into fleet families by name, and [`report`]
//! tallies source against destination.
//!
//! Architecture invariant: the SQL here is MLflow's schema, read-only;
//! flotilla's own tables are written only by the store.

use std::path::PathBuf;

pub mod artifacts;
pub mod families;
pub mod report;
pub mod run;
pub mod source;
pub mod uris;

pub use report::Report;
pub use run::{Destination, Options, import, import_from};

/// Why an import could not run (differences and conflicts are not errors:
/// they are in the [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the source: {0}")]
    Source(String),
    #[error(
        "the source database is at MLflow schema revision {0:?}, which this flotilla does not know \
         (it reads MLflow 2.x and 3.x up to 3.17.2); nothing was imported"
    )]
    UnknownRevision(String),
    #[error("reading the source: {0}")]
    SourceSql(#[from] rusqlite::Error),
    #[error("writing the destination: {0}")]
    Store(#[from] flotilla_store::StoreError),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

pub type ImportResult<T> = Result<T, ImportError>;
