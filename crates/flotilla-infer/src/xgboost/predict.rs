//! The loaded XGBoost model behind the [`Model`] trait: it checks the input
//! batch, sums the trees per row, and shapes the outputs as
//! `Booster.predict(DMatrix)` does.

use super::forest::Forest;
use super::model::Booster;
use super::objective::{self, Objective};
use crate::{DataType, InferError, Model, Tensor, TensorSpec};

#[derive(Debug)]
pub(crate) struct XgbModel {
    objective: Objective,
    num_feature: usize,
    base_margins: Vec<f32>,
    forest: Forest,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
}

impl XgbModel {
    pub(crate) fn new(booster: Booster) -> Result<Self, InferError> {
        let forest = Forest::build(&booster.trees, booster.num_feature)?;
        let Booster { objective, num_feature, num_groups, mut base_margins, trees: _ } = booster;
        base_margins.shrink_to_fit();
        let inputs = vec![TensorSpec::new("input", DataType::Fp32, vec![-1, num_feature as i64])];
        let predict_shape =
            match objective {
                Objective::Softprob => vec![-1, num_groups as i64],
                Objective::Softmax => vec![-1],
                Objective::Identity | Objective::Logistic { .. } | Objective::Hinge | Objective::Exp => {
                    if num_groups > 1 { vec![-1, num_groups as i64] } else { vec![-1] }
                }
            };
        let mut outputs = vec![TensorSpec::new("predict", DataType::Fp32, predict_shape)];
        if objective.has_label() {
            outputs.push(TensorSpec::new("label", DataType::Int64, vec![-1]));
        }
        Ok(Self { objective, num_feature, base_margins, forest, inputs, outputs })
    }

    /// Raw margins, `rows × groups`, base margin first and then the trees in order.
    fn margins(&self, rows: usize, values: &[f32]) -> Result<Vec<f32>, InferError> {
        let groups = self.base_margins.len();
        let mut out = Vec::with_capacity(crate::tensor::output_len(rows, groups)?);
        for _ in 0..rows {
            out.extend_from_slice(&self.base_margins);
        }
        let cats = self.forest.has_categorical();
        for (row, margins) in values.chunks_exact(self.num_feature).zip(out.chunks_exact_mut(groups)) {
            if cats {
                self.forest.accumulate::<true>(row, margins);
            } else {
                self.forest.accumulate::<false>(row, margins);
            }
        }
        Ok(out)
    }
}

fn spec_bytes(specs: &Vec<TensorSpec>) -> usize {
    specs.capacity() * size_of::<TensorSpec>()
        + specs.iter().map(|s| s.name.capacity() + s.shape.capacity() * size_of::<i64>()).sum::<usize>()
}

impl Model for XgbModel {
    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
        let input = match inputs {
            [one] => one,
            [] => return Err(InferError::BadInput("XGBoost model needs one input tensor, got none".into())),
            more => {
                return Err(InferError::BadInput(format!("XGBoost model takes one input tensor, got {}", more.len())));
            }
        };
        let (rows, cols, values) = input.to_f32_rows()?;
        if cols != self.num_feature {
            return Err(InferError::BadInput(format!(
                "input '{}' has {cols} features per row; the model expects {}",
                input.name, self.num_feature
            )));
        }
        let groups = self.base_margins.len();
        let mut margins = self.margins(rows, &values)?;
        let mut outputs = Vec::with_capacity(2);
        match self.objective {
            Objective::Identity => {}
            Objective::Logistic { .. } => margins.iter_mut().for_each(|m| *m = objective::sigmoid(*m)),
            Objective::Hinge => margins.iter_mut().for_each(|m| *m = if *m > 0.0 { 1.0 } else { 0.0 }),
            Objective::Exp => margins.iter_mut().for_each(|m| *m = m.exp()),
            Objective::Softprob => margins.chunks_exact_mut(groups).for_each(objective::softmax),
            Objective::Softmax => {
                margins = margins.chunks_exact(groups).map(|row| objective::argmax(row) as f32).collect();
            }
        }
        let predict_shape =
            if groups > 1 && self.objective != Objective::Softmax { vec![rows, groups] } else { vec![rows] };
        let labels = match self.objective {
            Objective::Logistic { label: true } => Some(margins.iter().map(|p| i64::from(*p > 0.5)).collect()),
            Objective::Softprob => {
                Some(margins.chunks_exact(groups).map(|row| objective::argmax(row) as i64).collect())
            }
            Objective::Logistic { label: false }
            | Objective::Identity
            | Objective::Hinge
            | Objective::Exp
            | Objective::Softmax => None,
        };
        outputs.push(Tensor::f32("predict", predict_shape, margins));
        if let Some(labels) = labels {
            outputs.push(Tensor::i64("label", vec![rows], labels));
        }
        Ok(outputs)
    }

    fn size_bytes(&self) -> usize {
        size_of::<Self>()
            + self.base_margins.capacity() * size_of::<f32>()
            + self.forest.heap_bytes()
            + spec_bytes(&self.inputs)
            + spec_bytes(&self.outputs)
    }

    fn platform(&self) -> &'static str {
        "xgboost"
    }
}
