//! Drift of serving data against a reference profile (issue 15, point 3), with Evidently's
//! methods and defaults: numbers by Kolmogorov–Smirnov up to 1,000 reference values, else by the
//! Wasserstein distance over the reference's standard deviation (≥ 0.1); categories by chi-square
//! (or the two-proportion z-test for two categories), else by Jensen–Shannon distance (≥ 0.1);
//! the dataset drifts when half its columns do. Below a minimum sample nothing is declared.
//! SageMaker Model Monitor's violations (missing and extra columns, type changes, completeness,
//! new categories) come with the verdicts. One departure from Evidently: a numeric column with at
//! most 5 distinct values, which Evidently judges as categories, is judged as numbers here (the
//! reference keeps no distinct count of numbers).
//!
//! The reference is a flotilla-profile [`Profile`](flotilla_profile::Profile), prepared once as a
//! [`Reference`] (a quantile grid and bins per number, the categories per category). The current
//! data is another profile ([`profile_drift`]) or a [`Window`]: the compact form telemetry keeps
//! per window, counts over the reference's quantile bins and categories (NannyML-style binned
//! statistics for large references), mergeable into hours and days ([`window_drift`]). A past
//! range of traffic can be the baseline instead: a window judged against a baseline window of
//! the same reference ([`baseline_drift`]).
//!
//! ```no_run
//! # fn get() -> (flotilla_profile::Profile, Vec<f64>) { unimplemented!() }
//! use flotilla_drift::{DriftConfig, Reference, Window, window_drift};
//! let (training_profile, served_values) = get();
//! let reference = Reference::from_profile(&training_profile);
//! let mut window = Window::new(&reference);
//! for v in served_values {
//!     window.record_number(&reference, 0, v);
//! }
//! let drift = window_drift(&reference, &window, &DriftConfig::default()).unwrap();
//! println!("{:?}: {} of {} features drifted", drift.verdict, drift.drifted, drift.judged);
//! ```

mod baseline;
mod binned;
mod codec;
mod config;
mod drift;
mod error;
mod reference;
pub mod stats;
mod violations;
mod window;

pub use baseline::{baseline_drift, feature_against_baseline};
pub use codec::MAX_LEN;
pub use config::{DriftConfig, Method};
pub use drift::{
    DatasetDrift, FeatureDrift, Verdict, feature_from_profile, feature_from_window, profile_drift, window_drift,
};
pub use error::DriftError;
pub use reference::{
    BINS, Bin, CategoryReference, FeatureReference, GRID, NumericReference, Reference, ReferenceValues,
};
pub use violations::Violation;
pub use window::{NumericCounts, Window, WindowCounts, WindowFeature};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_baseline;
