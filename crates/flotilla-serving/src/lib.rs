//! Serving: which model version answers a request (resolved through the
//! registry, so a new version or a moved alias takes effect on the next
//! request), the model cache that loads versions on first use and keeps
//! them within a byte budget, and inference from a model reference
//! ([`Serving::infer`]: input matching, prediction on the blocking pool,
//! output selection), so the protocol adapters only decode and encode.
//!
//! Architecture invariant: no HTTP. The cache counts the bytes each loaded
//! model reports it holds (measured after load, not the file size).

mod cache;
mod columns;
mod error;
mod failures;
mod inference;
mod resolve;
mod serving;
pub mod source;

pub use cache::{CacheConfig, CacheStats, LoadedModel, ModelCache};
pub use error::ServingError;
pub use failures::FAILURE_TTL;
pub use inference::Inference;
pub use resolve::{ModelRef, Resolved, Resolver, Selector};
pub use serving::{Serving, ServingConfig};
