//! The serving crate's one error type.

use flotilla_artifacts::ArtifactError;
use flotilla_infer::InferError;
use flotilla_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// No such model, version or alias.
    #[error("{0}")]
    NotFound(String),
    /// The request does not fit the model.
    #[error("{0}")]
    BadRequest(String),
    /// The model cannot be served (unsupported flavor, malformed files).
    #[error("{0}")]
    Unservable(String),
    /// The model alone is larger than the whole memory budget.
    #[error("model {model} needs {needed} bytes but the model memory budget is {budget} bytes")]
    TooLarge { model: String, needed: usize, budget: usize },
    /// The budget is full of models still in use; try again shortly.
    #[error("model memory budget exhausted by models in use; retry shortly")]
    OverBudget,
    #[error("metadata store failed: {0}")]
    Store(#[from] StoreError),
    #[error("artifact storage failed: {0}")]
    Artifacts(ArtifactError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<InferError> for ServingError {
    fn from(e: InferError) -> Self {
        match e {
            InferError::BadInput(m) => Self::BadRequest(m),
            InferError::InvalidModel(_) | InferError::Unsupported(_) | InferError::MissingFile(_) => {
                Self::Unservable(e.to_string())
            }
        }
    }
}

impl From<ArtifactError> for ServingError {
    fn from(e: ArtifactError) -> Self {
        match e.kind() {
            flotilla_artifacts::ArtifactErrorKind::NotFound => Self::Unservable(format!("model files missing: {e}")),
            flotilla_artifacts::ArtifactErrorKind::InvalidArgument
            | flotilla_artifacts::ArtifactErrorKind::Conflict => Self::Unservable(e.to_string()),
            flotilla_artifacts::ArtifactErrorKind::Internal => Self::Artifacts(e),
        }
    }
}
