//! A built scikit-learn estimator as a [`Model`]: one FP64 input
//! `[rows, features]`; outputs `predict` (the estimator's `predict`: FP64
//! for regressors, the classes' type for classifiers) and, for classifiers
//! with probabilities, `predict_proba` `[rows, classes]`.

use std::mem::size_of;

use super::{Estimator, Head, Matrix, build};
use crate::pyvalue::Value;
use crate::{DataType, InferError, Model, Tensor, TensorSpec};

#[derive(Debug)]
struct Sklearn {
    estimator: Estimator,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
}

/// Builds a model from the value tree of a pickle or skops file, naming the
/// scikit-learn version that wrote it when it cannot be read.
pub fn load_value(value: &Value) -> Result<Box<dyn Model>, InferError> {
    let version = value.as_object().ok().and_then(|o| o.attr("_sklearn_version")).and_then(|v| v.as_str().ok());
    let estimator = build(value).map_err(|e| match version {
        Some(v) if !super::CHECKED_SKLEARN_VERSIONS.contains(&v) => with_version(e, v),
        _ => e,
    })?;
    Ok(Box::new(Sklearn::new(estimator)?))
}

fn with_version(e: InferError, version: &str) -> InferError {
    let note = format!(
        " (the file was written by scikit-learn {version}; flotilla's reader was checked against {})",
        super::CHECKED_SKLEARN_VERSIONS.join(", ")
    );
    match e {
        InferError::InvalidModel(m) => InferError::InvalidModel(m + &note),
        InferError::Unsupported(m) => InferError::Unsupported(m + &note),
        other @ (InferError::BadInput(_) | InferError::MissingFile(_)) => other,
    }
}

impl Sklearn {
    fn new(estimator: Estimator) -> Result<Self, InferError> {
        let width =
            estimator.steps.first().and_then(|s| s.n_in()).or_else(|| estimator.head.n_in()).ok_or_else(|| {
                InferError::InvalidModel("the estimator does not record its number of features".into())
            })?;
        let batch = -1;
        let inputs = vec![TensorSpec::new("input", DataType::Fp64, vec![batch, width as i64])];
        let outputs = match &estimator.head {
            Head::Regressor(r) => {
                let shape = if r.n_outputs() == 1 { vec![batch] } else { vec![batch, r.n_outputs() as i64] };
                vec![TensorSpec::new("predict", DataType::Fp64, shape)]
            }
            Head::Classifier(c) => {
                let mut outputs = vec![TensorSpec::new("predict", c.classes().datatype(), vec![batch])];
                if c.has_proba() {
                    outputs.push(TensorSpec::new(
                        "predict_proba",
                        DataType::Fp64,
                        vec![batch, c.classes().len() as i64],
                    ));
                }
                outputs
            }
        };
        Ok(Self { estimator, inputs, outputs })
    }
}

fn spec_bytes(specs: &[TensorSpec]) -> usize {
    specs.iter().map(|s| size_of::<TensorSpec>() + s.name.capacity() + s.shape.capacity() * size_of::<i64>()).sum()
}

impl Model for Sklearn {
    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
        let input = inputs.first().ok_or_else(|| InferError::BadInput("no input tensor given".into()))?;
        let (rows, cols, values) = input.to_f64_rows()?;
        let x = self.estimator.steps.iter().try_fold(Matrix::new(rows, cols, values), |x, s| s.transform(x))?;
        match &self.estimator.head {
            Head::Regressor(r) => {
                let k = r.n_outputs();
                let shape = if k == 1 { vec![rows] } else { vec![rows, k] };
                Ok(vec![Tensor::f64("predict", shape, r.predict(&x)?)])
            }
            Head::Classifier(c) => {
                let scores = c.classify(&x)?;
                let mut out = vec![c.classes().tensor("predict", &scores.label)];
                if let Some(proba) = scores.proba {
                    out.push(Tensor::f64("predict_proba", vec![rows, c.classes().len()], proba));
                }
                Ok(out)
            }
        }
    }

    fn size_bytes(&self) -> usize {
        size_of::<Self>()
            + self
                .estimator
                .steps
                .iter()
                .map(|s| s.heap_bytes() + size_of::<Box<dyn super::Transform>>())
                .sum::<usize>()
            + self.estimator.head.heap_bytes()
            + spec_bytes(&self.inputs)
            + spec_bytes(&self.outputs)
    }

    fn platform(&self) -> &'static str {
        "sklearn"
    }
}
