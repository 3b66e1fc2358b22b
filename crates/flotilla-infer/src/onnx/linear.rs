//! Graphs that are one `ai.onnx.ml` LinearClassifier or LinearRegressor,
//! optionally with a Normalizer before it (on the features) and after it (on
//! the scores), and Cast/Identity nodes: what skl2onnx writes for linear and
//! logistic regression. Run natively, in `f32` as onnxruntime does: tract
//! runs them correctly but its per-run operator overhead is several times the
//! arithmetic of a one-row request.
//!
//! Supported as onnxruntime computes them: one score row per class (skl2onnx
//! writes two for a binary model), the label is the class of the largest raw
//! score, post transforms NONE, SOFTMAX and LOGISTIC, norms L1, L2 and MAX.
//! Any other graph is left to tract.

use std::collections::HashMap;

use tract_onnx::pb::{AttributeProto, NodeProto, tensor_proto::DataType as PbType, type_proto};

use super::graph::Prepared;
use crate::{DataType, InferError, Model, Tensor, TensorSpec};

const ML_DOMAIN: &str = "ai.onnx.ml";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Norm {
    L1,
    L2,
    Max,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transform {
    None,
    Softmax,
    Logistic,
}

/// What a graph value holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Value {
    Features,
    Label,
    Scores,
}

pub(crate) struct LinearModel {
    input: TensorSpec,
    outputs: Vec<TensorSpec>,
    /// Which value each declared output answers, in declaration order.
    answers: Vec<Value>,
    features: usize,
    /// `targets × features`, row-major.
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    /// Class labels for a classifier; empty for a regressor.
    labels: Vec<i64>,
    transform: Transform,
    input_norm: Option<Norm>,
    score_norm: Option<Norm>,
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn text(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

fn is_ml(node: &NodeProto, op: &str) -> bool {
    node.domain == ML_DOMAIN && node.op_type == op
}

fn is_plain(node: &NodeProto, op: &str) -> bool {
    (node.domain.is_empty() || node.domain == "ai.onnx") && node.op_type == op
}

fn norm(node: &NodeProto) -> Option<Norm> {
    match text(node, "norm")?.as_str() {
        "L1" => Some(Norm::L1),
        "L2" => Some(Norm::L2),
        "MAX" => Some(Norm::Max),
        _ => None,
    }
}

fn normalize(norm: Norm, row: &mut [f32]) {
    let scale = match norm {
        Norm::L1 => row.iter().map(|x| x.abs()).sum::<f32>(),
        Norm::L2 => row.iter().map(|x| x * x).sum::<f32>().sqrt(),
        Norm::Max => row.iter().copied().fold(f32::MIN, f32::max),
    };
    if scale != 0.0 {
        row.iter_mut().for_each(|x| *x /= scale);
    }
}

impl LinearModel {
    /// `None` when the graph is not one of the shapes this module runs.
    pub(crate) fn try_new(prepared: &Prepared) -> Result<Option<Self>, InferError> {
        let Some(graph) = &prepared.proto.graph else { return Ok(None) };
        let [input_name] = prepared.inputs.as_slice() else { return Ok(None) };
        let declared =
            graph.input.iter().find(|i| &i.name == input_name).and_then(|i| i.r#type.as_ref()?.value.as_ref());
        let input_type = match declared {
            Some(type_proto::Value::TensorType(t)) if t.elem_type == PbType::Float as i32 => DataType::Fp32,
            Some(type_proto::Value::TensorType(t)) if t.elem_type == PbType::Double as i32 => DataType::Fp64,
            Some(_) | None => return Ok(None),
        };
        let mut values: HashMap<&str, Value> = HashMap::from([(input_name.as_str(), Value::Features)]);
        let mut model: Option<LinearModel> = None;
        let (mut input_norm, mut score_norm) = (None, None);
        for node in &graph.node {
            let inputs: Option<Vec<Value>> = node.input.iter().map(|i| values.get(i.as_str()).copied()).collect();
            let Some(inputs) = inputs else { return Ok(None) };
            match (inputs.as_slice(), node.output.as_slice()) {
                ([Value::Features], [out]) if is_ml(node, "Normalizer") && model.is_none() && input_norm.is_none() => {
                    let Some(n) = norm(node) else { return Ok(None) };
                    input_norm = Some(n);
                    values.insert(out, Value::Features);
                }
                ([Value::Scores], [out]) if is_ml(node, "Normalizer") && score_norm.is_none() => {
                    let Some(n) = norm(node) else { return Ok(None) };
                    score_norm = Some(n);
                    values.insert(out, Value::Scores);
                }
                ([Value::Features], [label, scores]) if is_ml(node, "LinearClassifier") && model.is_none() => {
                    let Some(m) = Self::classifier(node)? else { return Ok(None) };
                    model = Some(m);
                    values.insert(label, Value::Label);
                    values.insert(scores, Value::Scores);
                }
                ([Value::Features], [scores]) if is_ml(node, "LinearRegressor") && model.is_none() => {
                    let Some(m) = Self::regressor(node)? else { return Ok(None) };
                    model = Some(m);
                    values.insert(scores, Value::Scores);
                }
                ([v @ (Value::Label | Value::Scores)], [out])
                    if is_plain(node, "Identity") || is_plain(node, "Cast") =>
                {
                    // A cast keeps labels as integers and scores as floats, or it is not ours.
                    let to = attr(node, "to").map(|a| a.i);
                    let keeps = match (v, to) {
                        (_, None) => is_plain(node, "Identity"),
                        (Value::Label, Some(t)) => t == 7,
                        (Value::Scores, Some(t)) => t == 1,
                        (Value::Features, Some(_)) => false,
                    };
                    if !keeps {
                        return Ok(None);
                    }
                    values.insert(out, *v);
                }
                _ => return Ok(None),
            }
        }
        let Some(mut model) = model else { return Ok(None) };
        let answers: Option<Vec<Value>> = prepared.outputs.iter().map(|o| values.get(o.as_str()).copied()).collect();
        let Some(answers) = answers else { return Ok(None) };
        if answers.contains(&Value::Features) {
            return Ok(None);
        }
        let targets = model.intercepts.len() as i64;
        model.outputs = prepared
            .outputs
            .iter()
            .zip(&answers)
            .map(|(name, v)| match v {
                Value::Label => TensorSpec::new(name.clone(), DataType::Int64, vec![-1]),
                Value::Scores | Value::Features => TensorSpec::new(name.clone(), DataType::Fp32, vec![-1, targets]),
            })
            .collect();
        model.input = TensorSpec::new(input_name.clone(), input_type, vec![-1, model.features as i64]);
        model.answers = answers;
        model.input_norm = input_norm;
        model.score_norm = score_norm;
        Ok(Some(model))
    }

    fn build(node: &NodeProto, labels: Vec<i64>, transform: Transform) -> Result<Option<Self>, InferError> {
        let coefficients = attr(node, "coefficients").map(|a| a.floats.clone()).unwrap_or_default();
        let intercepts = attr(node, "intercepts").map(|a| a.floats.clone()).unwrap_or_default();
        let targets = intercepts.len();
        if targets == 0 || coefficients.is_empty() || !coefficients.len().is_multiple_of(targets) {
            return Err(InferError::InvalidModel(format!(
                "{}: {} coefficients do not split into {targets} rows",
                node.op_type,
                coefficients.len()
            )));
        }
        Ok(Some(Self {
            input: TensorSpec::new("", DataType::Fp32, vec![]),
            outputs: Vec::new(),
            answers: Vec::new(),
            features: coefficients.len() / targets,
            coefficients,
            intercepts,
            labels,
            transform,
            input_norm: None,
            score_norm: None,
        }))
    }

    fn classifier(node: &NodeProto) -> Result<Option<Self>, InferError> {
        let labels = attr(node, "classlabels_ints").map(|a| a.ints.clone()).unwrap_or_default();
        let transform = match text(node, "post_transform").as_deref().unwrap_or("NONE") {
            "NONE" => Transform::None,
            "SOFTMAX" => Transform::Softmax,
            "LOGISTIC" => Transform::Logistic,
            _ => return Ok(None),
        };
        let targets = attr(node, "intercepts").map_or(0, |a| a.floats.len());
        // One score row per class; string labels and single-score binaries go to tract.
        if labels.len() < 2 || labels.len() != targets {
            return Ok(None);
        }
        Self::build(node, labels, transform)
    }

    fn regressor(node: &NodeProto) -> Result<Option<Self>, InferError> {
        if text(node, "post_transform").is_some_and(|t| t != "NONE") {
            return Ok(None);
        }
        Self::build(node, Vec::new(), Transform::None)
    }

    fn scores(&self, row: &[f32], out: &mut [f32]) {
        for (t, score) in out.iter_mut().enumerate() {
            let weights = &self.coefficients[t * self.features..(t + 1) * self.features];
            *score = self.intercepts[t] + weights.iter().zip(row).map(|(w, x)| w * x).sum::<f32>();
        }
    }

    fn transform(&self, scores: &mut [f32]) {
        match self.transform {
            Transform::None => {}
            Transform::Logistic => scores.iter_mut().for_each(|s| *s = 1.0 / (1.0 + (-*s).exp())),
            Transform::Softmax => {
                let max = scores.iter().copied().fold(f32::MIN, f32::max);
                scores.iter_mut().for_each(|s| *s = (*s - max).exp());
                let sum: f32 = scores.iter().sum();
                scores.iter_mut().for_each(|s| *s /= sum);
            }
        }
    }
}

impl Model for LinearModel {
    fn inputs(&self) -> &[TensorSpec] {
        std::slice::from_ref(&self.input)
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
        let [input] = inputs else {
            return Err(InferError::BadInput(format!("the model takes 1 input, got {}", inputs.len())));
        };
        let (rows, cols, mut x) = input.to_f32_rows()?;
        if cols != self.features {
            return Err(InferError::BadInput(format!("the model takes {} features, got {cols}", self.features)));
        }
        let targets = self.intercepts.len();
        let mut scores = vec![0f32; crate::tensor::output_len(rows, targets)?];
        let mut labels = Vec::with_capacity(if self.labels.is_empty() { 0 } else { rows });
        for (row, out) in x.chunks_mut(cols.max(1)).zip(scores.chunks_mut(targets)) {
            if let Some(n) = self.input_norm {
                normalize(n, row);
            }
            self.scores(row, out);
            if !self.labels.is_empty() {
                // The first largest raw score wins, as in onnxruntime.
                let best = out.iter().enumerate().fold(0, |best, (i, s)| if *s > out[best] { i } else { best });
                labels.push(self.labels[best]);
            }
            self.transform(out);
            if let Some(n) = self.score_norm {
                normalize(n, out);
            }
        }
        Ok(self
            .outputs
            .iter()
            .zip(&self.answers)
            .map(|(spec, v)| match v {
                Value::Label => Tensor::i64(spec.name.clone(), vec![rows], labels.clone()),
                Value::Scores | Value::Features => Tensor::f32(spec.name.clone(), vec![rows, targets], scores.clone()),
            })
            .collect())
    }

    fn size_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + 4 * (self.coefficients.len() + self.intercepts.len())
            + 8 * self.labels.len()
            + self.outputs.iter().map(|o| o.name.len() + 64).sum::<usize>()
    }

    fn platform(&self) -> &'static str {
        "onnx"
    }
}
