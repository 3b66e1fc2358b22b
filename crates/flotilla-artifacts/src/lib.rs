//! Artifact storage behind one interface, and the one safe artifact-path type.
//!
//! Architecture invariant: this crate knows nothing of HTTP or SQL. It receives paths and
//! byte streams and answers with files, listings and [`ArtifactError`]s; mapping those to
//! status codes is `flotilla-http`'s job (via [`ArtifactError::kind`]).
//!
//! Every untrusted path enters through [`ArtifactPath::parse`] / [`ArtifactPath::parse_dir`]
//! and every URI naming artifacts through [`parse_source_uri`]; store backends only ever
//! see an `ArtifactPath`, so no backend re-validates and none can forget to.

mod error;
mod local;
pub mod multipart;
mod path;
mod store;
pub mod testsuite;
mod uri;

pub use error::ArtifactError;
pub use local::LocalArtifactStore;
pub use path::{ArtifactPath, MAX_PATH_BYTES, MAX_SEGMENT_BYTES, MAX_SEGMENTS};
pub use store::{ArtifactObject, ArtifactStore, ByteStream, FileInfo, UploadedPart};
pub use uri::{ModelReference, SourceUri, parse_source_uri, to_artifacts_uri, validate_artifact_location};
