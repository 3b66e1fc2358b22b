//! LightGBM text models (`model.lgb`, what `Booster.save_model` and
//! `mlflow.lightgbm` write) evaluated natively, with the answers of
//! `lightgbm.Booster.predict`.
//!
//! Reading goes text → `parse` (header and `Tree=` blocks) → `header`
//! (settings, `objective`) and `build` (checked, flattened `tree`s);
//! `predict` runs batches.
//!
//! Inputs are numbers: a categorical feature takes its integer category, and
//! a model trained on a pandas `category` column (the `pandas_categorical:`
//! trailer, which the Python wrapper uses to map names to codes) takes the
//! codes.

mod build;
mod header;
mod objective;
mod parse;
mod predict;
mod tree;

#[cfg(test)]
mod tests;

use std::mem::size_of;

use crate::{DataType, InferError, Model, Tensor, TensorSpec};
use header::Settings;
use tree::Forest;

/// A loaded LightGBM booster.
#[derive(Debug)]
struct LightGbm {
    settings: Settings,
    forest: Forest,
    /// Trees per score: the number of boosting iterations.
    iterations: usize,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
}

/// Loads a LightGBM text model (`model.lgb`) saved by `mlflow.lightgbm`.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Model>, InferError> {
    Ok(Box::new(LightGbm::parse(&String::from_utf8_lossy(bytes))?))
}

impl LightGbm {
    fn parse(text: &str) -> Result<Self, InferError> {
        let text = parse::split(text)?;
        let settings = Settings::read(&text.header)?;
        if text.trees.is_empty() || text.trees.len() % settings.outputs != 0 {
            return Err(parse::invalid(
                text.end_line,
                format_args!(
                    "{} trees is not a positive multiple of num_tree_per_iteration={}",
                    text.trees.len(),
                    settings.outputs
                ),
            ));
        }
        let mut forest = Forest::default();
        for block in &text.trees {
            forest.push_tree(block, settings.num_features)?;
        }
        forest.shrink_to_fit();
        let batch = -1;
        let width = settings.num_features as i64;
        let inputs = vec![TensorSpec::new("input", DataType::Fp32, vec![batch, width])];
        let predict_shape = if settings.outputs == 1 { vec![batch] } else { vec![batch, settings.outputs as i64] };
        let mut outputs = vec![TensorSpec::new("predict", DataType::Fp64, predict_shape)];
        if settings.objective.has_label() {
            outputs.push(TensorSpec::new("label", DataType::Int64, vec![batch]));
        }
        let iterations = text.trees.len() / settings.outputs;
        Ok(Self { settings, forest, iterations, inputs, outputs })
    }
}

fn spec_bytes(specs: &[TensorSpec]) -> usize {
    specs.iter().map(|s| s.name.capacity() + s.shape.capacity() * size_of::<i64>()).sum::<usize>()
}

impl Model for LightGbm {
    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
        let input = inputs.first().ok_or_else(|| InferError::BadInput("no input tensor given".into()))?;
        self.run(input)
    }

    fn size_bytes(&self) -> usize {
        size_of::<Self>()
            + self.forest.heap_bytes()
            + (self.inputs.capacity() + self.outputs.capacity()) * size_of::<TensorSpec>()
            + spec_bytes(&self.inputs)
            + spec_bytes(&self.outputs)
    }

    fn platform(&self) -> &'static str {
        "lightgbm"
    }
}
