//! ONNX models (`model.onnx` written by `mlflow.onnx`): linear models, MLPs and
//! small neural networks run on tract, planned once at load; graphs that are
//! one `ai.onnx.ml` tree ensemble (random forests, gradient boosting) run on a
//! native tree walk ([`trees`]), and linear and logistic regressions
//! (`LinearClassifier`/`LinearRegressor` with Normalizers) run natively too
//! ([`linear`]).
//!
//! The graph is read and rewritten here before tract sees it
//! ([`graph::prepare`]): `ai.onnx.ml.ZipMap` nodes are dropped, so an output
//! that ZipMap turned into a list of `{class: probability}` maps keeps its name
//! (skl2onnx calls it `output_probability`) but answers the probability tensor
//! itself, `[rows, classes]` in class order, as with `zipmap=False`. Operators
//! tract cannot run and string-typed outputs are refused at load with
//! [`InferError::Unsupported`] naming them.

mod convert;
mod graph;
mod linear;
mod plan;
mod size;
mod trees;

use crate::{InferError, Model};

/// Loads an ONNX model (`model.onnx`) saved by `mlflow.onnx`.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Model>, InferError> {
    let proto = graph::decode(bytes)?;
    let prepared = graph::prepare(proto)?;
    if let Some(model) = trees::TreeModel::try_new(&prepared)? {
        return Ok(Box::new(model));
    }
    if let Some(model) = linear::LinearModel::try_new(&prepared)? {
        return Ok(Box::new(model));
    }
    graph::refuse_unknown_operators(&prepared)?;
    Ok(Box::new(plan::TractModel::new(prepared)?))
}

#[cfg(test)]
mod tests;
