//! XGBoost models as `Booster.save_model` writes them (JSON or UBJSON), run
//! natively: gbtree and DART boosters, the common regression,
//! classification, count and ranking objectives, missing values and
//! categorical splits. Outputs match `Booster.predict(DMatrix)`.
//!
//! Parsing (`ubjson`, `value`, `model`) is kept apart from evaluation
//! (`forest`, `objective`, `predict`): a document becomes a [`model::Booster`]
//! of plain arrays, which is flattened once into the evaluator's form.

mod forest;
mod model;
mod objective;
mod predict;
mod ubjson;
mod value;

#[cfg(test)]
mod tests;

use crate::{InferError, Model};
use value::Value;

/// Loads an XGBoost model saved by `mlflow.xgboost` (`format`: `json` or `ubj`,
/// the MLmodel's `model_format`).
///
/// The content decides the encoding, because XGBoost 3 writes UBJSON under
/// any extension other than `.json` (even `.deprecated`); only a file that is
/// neither JSON nor UBJSON is taken for the old binary format.
pub fn load(bytes: &[u8], format: &str) -> Result<Box<dyn Model>, InferError> {
    let doc = parse_document(bytes, format)?;
    let booster = model::Booster::from_document(&doc)?;
    drop(doc);
    Ok(Box::new(predict::XgbModel::new(booster)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Ubjson,
    Other,
}

/// Tells the encodings apart by the byte after the opening brace: JSON has
/// whitespace or a quote there, UBJSON a length marker, a container option,
/// or a no-op.
fn sniff(bytes: &[u8]) -> Encoding {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    match bytes.get(start..start + 2) {
        Some([b'{', b'i' | b'U' | b'I' | b'l' | b'L' | b'$' | b'#' | b'N']) if start == 0 => Encoding::Ubjson,
        Some([b'{', b'"' | b'}' | b' ' | b'\t' | b'\r' | b'\n']) => Encoding::Json,
        Some(_) | None => Encoding::Other,
    }
}

fn parse_document(bytes: &[u8], format: &str) -> Result<Value, InferError> {
    match sniff(bytes) {
        Encoding::Json => serde_json::from_slice(bytes)
            .map_err(|e| InferError::InvalidModel(format!("XGBoost JSON model is malformed: {e}"))),
        Encoding::Ubjson => ubjson::parse(bytes)
            .map_err(|e| InferError::InvalidModel(format!("XGBoost UBJSON model is malformed: {e}"))),
        Encoding::Other if format == "json" || format == "ubj" => Err(InferError::InvalidModel(format!(
            "XGBoost model file is not {format}: it does not start with an object"
        ))),
        Encoding::Other => Err(InferError::Unsupported(format!(
            "XGBoost model format '{format}' (the old binary format) is not supported; \
             save the model as json or ubj, e.g. mlflow.xgboost.log_model(..., model_format=\"ubj\")"
        ))),
    }
}
