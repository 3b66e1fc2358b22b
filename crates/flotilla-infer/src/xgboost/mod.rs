//! XGBoost models (JSON and UBJSON) evaluated natively. Placeholder.

use crate::{InferError, Model};

/// Loads an XGBoost model saved by `mlflow.xgboost` (`format`: `json` or `ubj`).
pub fn load(bytes: &[u8], format: &str) -> Result<Box<dyn Model>, InferError> {
    let _ = (bytes, format);
    Err(InferError::Unsupported("XGBoost models are not supported yet".into()))
}
