//! LightGBM's scikit-learn API (`LGBMRegressor`, `LGBMClassifier`): the
//! pickled `Booster` carries its model text in `_handle` (LightGBM's
//! `__getstate__` writes `model_to_string()` there), which the native
//! [`crate::lightgbm`] engine runs. A classifier answers `classes_[argmax]`
//! and, for two classes, `[1 - p, p]`, as `LGBMClassifier` does.

use std::mem::size_of;

use super::labels::argmax;
use super::{Classify, Head, Labels, Matrix, Regress, Scores, check_width, invalid, unsupported};
use crate::pyvalue::{Object, Value};
use crate::{InferError, Model, Tensor, TensorData};

#[derive(Debug)]
struct Booster {
    engine: BoxedModel,
    n_features: usize,
}

/// The engine, with a `Debug` that does not print its trees.
struct BoxedModel(Box<dyn Model>);

impl std::fmt::Debug for BoxedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lightgbm booster of {} bytes", self.0.size_bytes())
    }
}

pub fn head(o: &Object) -> Result<Head, InferError> {
    let best = o.attr("_best_iteration").filter(|v| !v.is_none()).map(Value::as_i64).transpose()?.unwrap_or(0);
    if best > 0 {
        return Err(unsupported(
            o,
            format_args!("early stopping (best_iteration_={best}); log `model.booster_` saved at that iteration"),
        ));
    }
    let booster = o.need("_Booster")?.as_object()?;
    let handle = booster.need("_handle")?;
    let text = if let Value::Bytes(b) = handle { b.as_slice() } else { handle.as_str()?.as_bytes() };
    let engine = crate::lightgbm::load(text)?;
    let n_features =
        usize::try_from(engine.inputs()[0].shape[1]).map_err(|_| invalid("booster has no feature count"))?;
    let booster = Booster { engine: BoxedModel(engine), n_features };
    Ok(match o.short_class() {
        "LGBMClassifier" => {
            let labels = Labels::read(o.need("_classes")?)?;
            Head::Classifier(Box::new(Classifier { booster, labels }))
        }
        _ => Head::Regressor(Box::new(booster)),
    })
}

impl Booster {
    /// What `Booster.predict` answers, flattened.
    fn run(&self, x: &Matrix) -> Result<Vec<f64>, InferError> {
        check_width(x, self.n_features, "the LightGBM model")?;
        let input = Tensor::f64("input", vec![x.rows, x.cols], x.data.clone());
        let outputs = self.engine.0.predict(&[input])?;
        match outputs.into_iter().find(|t| t.name == "predict").map(|t| t.data) {
            Some(TensorData::F64(v)) => Ok(v),
            _ => Err(invalid("the LightGBM engine gave no predict output")),
        }
    }
}

impl Regress for Booster {
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>, InferError> {
        self.run(x)
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.n_features)
    }

    fn heap_bytes(&self) -> usize {
        self.engine.0.size_bytes()
    }
}

#[derive(Debug)]
struct Classifier {
    booster: Booster,
    labels: Labels,
}

impl Classify for Classifier {
    fn classify(&self, x: &Matrix) -> Result<Scores, InferError> {
        let scores = self.booster.run(x)?;
        let k = self.labels.len();
        let proba: Vec<f64> = if k == 2 && scores.len() == x.rows {
            scores.iter().flat_map(|p| [1.0 - p, *p]).collect()
        } else if scores.len() == x.rows * k {
            scores
        } else {
            return Err(invalid(format_args!(
                "the booster gives {} scores for {} rows of {k} classes",
                scores.len(),
                x.rows
            )));
        };
        let label = proba.chunks_exact(k).map(argmax).collect();
        Ok(Scores { proba: Some(proba), label })
    }

    fn classes(&self) -> &Labels {
        &self.labels
    }

    fn has_proba(&self) -> bool {
        true
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.booster.n_features)
    }

    fn heap_bytes(&self) -> usize {
        self.booster.heap_bytes() + self.labels.heap_bytes() + size_of::<Labels>()
    }
}
