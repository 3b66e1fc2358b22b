//! What of a store or artifact failure may be told to a client, in the one
//! error vocabulary ([`flotilla_core::Error`]): a client's mistake keeps its
//! kind and message; a server failure is logged here and answered as
//! [`ErrorKind::Internal`] with [`INTERNAL_MESSAGE`].

use flotilla_artifacts::ArtifactError;
use flotilla_core::{Error, ErrorKind};
use flotilla_store::StoreError;

/// The message of every internal error a client sees; the details are logged.
pub const INTERNAL_MESSAGE: &str = "Internal server error; see the server log";

/// The internal error a client sees.
pub fn internal() -> Error {
    Error::internal(INTERNAL_MESSAGE)
}

/// A store error as a client may see it.
pub fn from_store(e: StoreError) -> Error {
    match e {
        StoreError::Domain(e) if e.kind == ErrorKind::Internal => {
            tracing::error!(error = %e.message, "internal error");
            internal()
        }
        StoreError::Domain(e) => e,
        StoreError::Database(_) | StoreError::Postgres(_) if e.kind() == ErrorKind::Interrupted => {
            Error::interrupted("the query was stopped: it ran past the request's time budget")
        }
        StoreError::Postgres(_) if e.kind() == ErrorKind::Busy => {
            tracing::warn!(error = %e, "writes kept colliding");
            Error::new(ErrorKind::Busy, "The database is busy with conflicting writes; try again")
        }
        StoreError::Postgres(_) if e.kind() == ErrorKind::AlreadyExists => {
            Error::new(ErrorKind::AlreadyExists, "The resource already exists (a concurrent request created it)")
        }
        StoreError::Database(_)
        | StoreError::Migration { .. }
        | StoreError::Postgres(_)
        | StoreError::Pool(_)
        | StoreError::PgMigration { .. }
        | StoreError::SchemaTooNew { .. }
        | StoreError::SchemaTooOld { .. } => {
            tracing::error!(error = %e, "store failure");
            internal()
        }
    }
}

/// An artifact error as a client may see it.
pub fn from_artifact(e: ArtifactError) -> Error {
    let kind = e.kind();
    if kind == ErrorKind::Internal {
        tracing::error!(error = %e, "artifact storage failure");
        return internal();
    }
    Error::new(kind, e.to_string())
}
