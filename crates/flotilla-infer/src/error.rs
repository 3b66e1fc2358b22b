//! The infer crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The request's tensors do not fit the model (shape, datatype, size).
    #[error("{0}")]
    BadInput(String),
    /// The model's files are malformed or inconsistent.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The model is valid but uses something flotilla cannot run; the
    /// message names what is missing.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A file the model needs is missing.
    #[error("model file not found: {0}")]
    MissingFile(String),
}
