//! The one error type of flotilla-drift.

/// What can go wrong computing drift or reading a stored window.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DriftError {
    /// The window was binned against another reference (its fingerprint differs).
    #[error(
        "the window was recorded against another reference (fingerprint {window:016x}, reference {reference:016x})"
    )]
    ReferenceMismatch { window: u64, reference: u64 },
    /// The window's features do not line up with the reference's.
    #[error("the window has {window} features, the reference {reference}")]
    FeatureCountMismatch { window: usize, reference: usize },
    /// Stored window bytes that cannot be read.
    #[error("corrupt window bytes: {0}")]
    CorruptWindow(&'static str),
    /// Stored reference bytes that cannot be read.
    #[error("corrupt reference bytes: {0}")]
    CorruptReference(&'static str),
}
