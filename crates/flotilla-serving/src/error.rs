//! The serving crate's one error type, and its kind in the shared vocabulary
//! ([`ErrorKind`]) that the Open Inference Protocol's table answers.

use flotilla_artifacts::ArtifactError;
use flotilla_core::ErrorKind;
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

impl ServingError {
    /// What went wrong, for a protocol's table. A store or artifact failure
    /// that reaches here is the server's: the resolver has already read the
    /// store's client-facing answers (no such model, version or alias) as
    /// `NotFound` or `BadRequest`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::BadRequest(_) => ErrorKind::InvalidParameter,
            Self::Unservable(_) => ErrorKind::Unservable,
            Self::TooLarge { .. } => ErrorKind::TooLarge,
            Self::OverBudget => ErrorKind::Busy,
            Self::Store(_) | Self::Artifacts(_) | Self::Internal(_) => ErrorKind::Internal,
        }
    }
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
            ErrorKind::NotFound => Self::Unservable(format!("model files missing: {e}")),
            ErrorKind::Internal => Self::Artifacts(e),
            ErrorKind::InvalidParameter
            | ErrorKind::AlreadyExists
            | ErrorKind::InvalidState
            | ErrorKind::Conflict
            | ErrorKind::Unauthenticated
            | ErrorKind::PermissionDenied
            | ErrorKind::Unservable
            | ErrorKind::TooLarge
            | ErrorKind::Busy
            | ErrorKind::Interrupted => Self::Unservable(e.to_string()),
        }
    }
}
