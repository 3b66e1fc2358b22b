//! LightGBM text models evaluated natively. Placeholder.

use crate::{InferError, Model};

/// Loads a LightGBM text model (`model.lgb`) saved by `mlflow.lightgbm`.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Model>, InferError> {
    let _ = bytes;
    Err(InferError::Unsupported("LightGBM models are not supported yet".into()))
}
