//! Domain types, validation rules, the search-filter language and error kinds.
//!
//! Architecture invariant: this crate does no I/O. It knows nothing of async,
//! SQL, HTTP or the file system, so every other crate can depend on it.

pub mod error;
pub mod filter;
pub mod fleet;
pub mod fleet_versions;
pub mod lineage;
pub mod model;
pub mod validation;
pub mod version;
pub mod visible;

pub use error::{Error, ErrorKind, Result};
pub use version::VersionNumber;
