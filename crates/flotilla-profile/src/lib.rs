//! Mergeable data profiles: per column, counts (rows, nulls, NaN), the inferred type, min, max,
//! mean and variance (merged with Chan's formula), a KLL quantile sketch for numbers, frequent
//! items and an HLL distinct count for categories — the sketches in Apache DataSketches' binary
//! format, so other DataSketches libraries read them.
//!
//! Inputs (CSV, Parquet, Arrow IPC stream) are streamed in batches under a memory bound
//! ([`ProfilerConfig`]); profiles of parts of a dataset merge into the profile of the whole
//! ([`Profile::merge`]). No store, no HTTP: the server and the CLI call [`Profiler`] on a
//! blocking thread and store [`Profile::to_bytes`].
//!
//! ```no_run
//! use flotilla_profile::{ContentType, Profiler};
//! let file = std::fs::File::open("train.parquet").unwrap();
//! let profile = Profiler::default().profile_file(file, ContentType::Parquet).unwrap();
//! let bytes = profile.to_bytes();
//! println!("{}", serde_json::to_string(&profile.summary()).unwrap());
//! ```

mod arrow;
mod codec;
mod csv;
mod error;
pub mod feature;
mod profile;
mod profiler;
mod summary;

pub use error::{ErrorClass, ProfileError};
pub use feature::{FeatureProfile, FeatureType, Moments};
pub use profile::Profile;
pub use profiler::{ContentType, Profiler, ProfilerConfig};
pub use summary::{CategorySummary, FeatureSummary, NumericSummary, ProfileSummary, Quantile, TopItem};
