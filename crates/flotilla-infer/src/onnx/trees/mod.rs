//! Graphs whose core is one `ai.onnx.ml` TreeEnsembleRegressor or
//! TreeEnsembleClassifier node (skl2onnx's random forests, gradient boosting
//! and decision trees), run natively: tract lacks the regressor, fails on some
//! binary classifiers and walks trees about a thousand times slower.
//!
//! Around the ensemble only `Cast` and `Identity` nodes (a removed ZipMap is
//! one) are allowed; any other graph goes to tract.

mod ensemble;
mod eval;
mod steps;

use tract_onnx::pb::{NodeProto, tensor_proto::DataType as PbType, tensor_shape_proto::dimension, type_proto};

use self::ensemble::Ensemble;
use self::steps::{Elem, Slots, Step};
use super::graph::Prepared;
use crate::{InferError, Model, Tensor, TensorSpec};

const ML_DOMAIN: &str = "ai.onnx.ml";

pub(crate) struct TreeModel {
    input: TensorSpec,
    outputs: Vec<TensorSpec>,
    steps: Vec<Step>,
    slots: usize,
    output_slots: Vec<usize>,
    ensemble: Ensemble,
}

fn is_ensemble(node: &NodeProto) -> bool {
    node.domain == ML_DOMAIN && matches!(node.op_type.as_str(), "TreeEnsembleRegressor" | "TreeEnsembleClassifier")
}

fn is_plain(node: &NodeProto, op: &str) -> bool {
    (node.domain.is_empty() || node.domain == "ai.onnx") && node.op_type == op
}

impl TreeModel {
    /// `None` when the graph is not one tree ensemble with casts around it.
    pub(crate) fn try_new(prepared: &Prepared) -> Result<Option<Self>, InferError> {
        let Some(graph) = &prepared.proto.graph else { return Ok(None) };
        let mut ensembles = graph.node.iter().filter(|n| is_ensemble(n));
        let (Some(tree_node), None) = (ensembles.next(), ensembles.next()) else { return Ok(None) };
        let others_plain = graph.node.iter().all(|n| is_ensemble(n) || is_plain(n, "Identity") || is_plain(n, "Cast"));
        let [input_name] = prepared.inputs.as_slice() else { return Ok(None) };
        let Some(input) = graph.input.iter().find(|i| &i.name == input_name) else { return Ok(None) };
        let Some(type_proto::Value::TensorType(input_type)) = input.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return Ok(None);
        };
        if !others_plain || input_type.elem_type != PbType::Float as i32 {
            return Ok(None);
        }
        let dims: Vec<i64> = input_type
            .shape
            .iter()
            .flat_map(|s| &s.dim)
            .map(|d| match d.value {
                Some(dimension::Value::DimValue(v)) if v > 0 => v,
                Some(dimension::Value::DimValue(_) | dimension::Value::DimParam(_)) | None => -1,
            })
            .collect();
        if dims.len() != 2 {
            return Ok(None);
        }
        let ensemble = Ensemble::parse(tree_node)?;
        if dims[1] >= 0 && (dims[1] as usize) < ensemble.features {
            return Err(InferError::InvalidModel(format!(
                "the trees read feature {} but the input has {} columns",
                ensemble.features - 1,
                dims[1]
            )));
        }

        let mut slots = Slots::new();
        slots.insert(input_name, (0, Elem::F32, Some(dims[1].max(0) as usize)));
        let mut steps = Vec::new();
        for node in &graph.node {
            let step = steps::plan(node, &ensemble, &mut slots)?;
            steps.push(step);
        }
        let mut outputs = Vec::new();
        let mut output_slots = Vec::new();
        for name in &prepared.outputs {
            let Some(&(slot, elem, width)) = slots.get(name.as_str()) else {
                return Err(InferError::InvalidModel(format!("ONNX graph output '{name}' is produced by no node")));
            };
            let shape = match width {
                Some(w) => vec![-1, w as i64],
                None => vec![-1],
            };
            outputs.push(TensorSpec::new(name.clone(), elem.datatype(), shape));
            output_slots.push(slot);
        }
        let input = TensorSpec::new(input_name.clone(), crate::DataType::Fp32, dims);
        Ok(Some(Self { input, outputs, steps, slots: slots.len(), output_slots, ensemble }))
    }
}

impl Model for TreeModel {
    fn inputs(&self) -> &[TensorSpec] {
        std::slice::from_ref(&self.input)
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
        let [x] = inputs else {
            return Err(InferError::BadInput(format!("the model takes 1 input, got {}", inputs.len())));
        };
        let (rows, cols, values) = x.to_f32_rows()?;
        let declared = self.input.shape[1];
        if (declared >= 0 && cols as i64 != declared) || cols < self.ensemble.features {
            return Err(InferError::BadInput(format!(
                "input '{}' has {cols} columns; the model expects {}",
                self.input.name,
                if declared >= 0 { declared.to_string() } else { format!("at least {}", self.ensemble.features) }
            )));
        }
        let mut slots = vec![None; self.slots];
        slots[0] = Some(steps::Value::rows(rows, cols, values));
        for step in &self.steps {
            step.run(&self.ensemble, &mut slots)?;
        }
        self.outputs
            .iter()
            .zip(&self.output_slots)
            .map(|(spec, slot)| match &slots[*slot] {
                Some(value) => Ok(value.to_tensor(&spec.name)),
                None => Err(InferError::InvalidModel(format!("ONNX output '{}' was not computed", spec.name))),
            })
            .collect()
    }

    fn size_bytes(&self) -> usize {
        let names: usize = self.outputs.iter().map(|o| o.name.len() + size_of::<TensorSpec>()).sum();
        size_of::<Self>() + self.ensemble.size_bytes() + names + self.steps.len() * size_of::<Step>()
    }

    fn platform(&self) -> &'static str {
        "onnx"
    }
}

#[cfg(test)]
mod tests;
