//! ONNX models. Placeholder.

use crate::{InferError, Model};

/// Loads an ONNX model (`model.onnx`) saved by `mlflow.onnx`.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Model>, InferError> {
    let _ = bytes;
    Err(InferError::Unsupported("ONNX models are not supported yet".into()))
}
