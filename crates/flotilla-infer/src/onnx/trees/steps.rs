//! The few nodes of a tree-ensemble graph, planned once into numbered slots
//! and run per request: the ensemble, `Cast` and `Identity`.

use std::collections::HashMap;

use tract_onnx::pb::{NodeProto, tensor_proto::DataType as PbType};

use super::ensemble::{Ensemble, Kind};
use super::eval::Scratch;
use crate::{DataType, InferError, Tensor, TensorData};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    F32,
    F64,
    I64,
}

impl Elem {
    pub(crate) fn datatype(self) -> DataType {
        match self {
            Self::F32 => DataType::Fp32,
            Self::F64 => DataType::Fp64,
            Self::I64 => DataType::Int64,
        }
    }
}

pub(crate) enum Step {
    /// `label` is only for classifiers; either output may be unused.
    Ensemble {
        input: usize,
        label: Option<usize>,
        scores: Option<usize>,
    },
    Cast {
        input: usize,
        output: usize,
        to: Elem,
    },
    Identity {
        input: usize,
        output: usize,
    },
}

/// What a slot holds at plan time: its number, element type and row width
/// (`None`: one value per row).
pub(crate) type Slots<'a> = HashMap<&'a str, (usize, Elem, Option<usize>)>;

fn input<'a>(node: &NodeProto, slots: &Slots<'a>) -> Result<(usize, Elem, Option<usize>), InferError> {
    let name = node.input.first().map(String::as_str).unwrap_or_default();
    slots.get(name).copied().ok_or_else(|| {
        InferError::InvalidModel(format!("ONNX node {} reads '{name}' before anything writes it", node.op_type))
    })
}

fn output<'a>(
    node: &'a NodeProto,
    ix: usize,
    elem: Elem,
    width: Option<usize>,
    slots: &mut Slots<'a>,
) -> Option<usize> {
    let name = node.output.get(ix).map(String::as_str).filter(|n| !n.is_empty())?;
    let slot = slots.len();
    slots.insert(name, (slot, elem, width));
    Some(slot)
}

/// Plans `node`, recording its outputs in `slots`.
pub(crate) fn plan<'a>(node: &'a NodeProto, ensemble: &Ensemble, slots: &mut Slots<'a>) -> Result<Step, InferError> {
    let (from, elem, width) = input(node, slots)?;
    match node.op_type.as_str() {
        "Identity" => {
            let output = output(node, 0, elem, width, slots).unwrap_or(from);
            Ok(Step::Identity { input: from, output })
        }
        "Cast" => {
            let to = node.attribute.iter().find(|a| a.name == "to").map(|a| a.i).unwrap_or_default();
            let to = match to {
                t if t == PbType::Float as i64 => Elem::F32,
                t if t == PbType::Double as i64 => Elem::F64,
                t if t == PbType::Int64 as i64 => Elem::I64,
                other => {
                    return Err(InferError::Unsupported(format!("ONNX Cast to type {other} beside a tree ensemble")));
                }
            };
            let output = output(node, 0, to, width, slots).unwrap_or(from);
            Ok(Step::Cast { input: from, output, to })
        }
        _ => {
            if elem != Elem::F32 || width.is_none() {
                return Err(InferError::Unsupported(format!(
                    "ONNX {} on a {elem:?} input of rank {}: float rows are needed",
                    node.op_type,
                    if width.is_some() { 2 } else { 1 }
                )));
            }
            Ok(match ensemble.kind {
                Kind::Classifier { .. } => Step::Ensemble {
                    input: from,
                    label: output(node, 0, Elem::I64, None, slots),
                    scores: output(node, 1, Elem::F32, Some(ensemble.width), slots),
                },
                Kind::Regressor { .. } => Step::Ensemble {
                    input: from,
                    label: None,
                    scores: output(node, 0, Elem::F32, Some(ensemble.width), slots),
                },
            })
        }
    }
}

#[derive(Clone)]
pub(crate) enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

#[derive(Clone)]
pub(crate) struct Value {
    rows: usize,
    width: Option<usize>,
    data: Data,
}

impl Value {
    pub(crate) fn rows(rows: usize, cols: usize, values: Vec<f32>) -> Self {
        Self { rows, width: Some(cols), data: Data::F32(values) }
    }

    pub(crate) fn to_tensor(&self, name: &str) -> Tensor {
        let shape = match self.width {
            Some(w) => vec![self.rows, w],
            None => vec![self.rows],
        };
        let (datatype, data) = match &self.data {
            Data::F32(v) => (DataType::Fp32, TensorData::F32(v.clone())),
            Data::F64(v) => (DataType::Fp64, TensorData::F64(v.clone())),
            Data::I64(v) => (DataType::Int64, TensorData::Int(v.clone())),
        };
        Tensor { name: name.to_string(), shape, datatype, data }
    }

    fn cast(&self, to: Elem) -> Self {
        let data = match (&self.data, to) {
            (Data::F32(v), Elem::F32) => Data::F32(v.clone()),
            (Data::F32(v), Elem::F64) => Data::F64(v.iter().map(|x| f64::from(*x)).collect()),
            (Data::F32(v), Elem::I64) => Data::I64(v.iter().map(|x| *x as i64).collect()),
            (Data::F64(v), Elem::F32) => Data::F32(v.iter().map(|x| *x as f32).collect()),
            (Data::F64(v), Elem::F64) => Data::F64(v.clone()),
            (Data::F64(v), Elem::I64) => Data::I64(v.iter().map(|x| *x as i64).collect()),
            (Data::I64(v), Elem::F32) => Data::F32(v.iter().map(|x| *x as f32).collect()),
            (Data::I64(v), Elem::F64) => Data::F64(v.iter().map(|x| *x as f64).collect()),
            (Data::I64(v), Elem::I64) => Data::I64(v.clone()),
        };
        Self { rows: self.rows, width: self.width, data }
    }
}

fn take(slots: &[Option<Value>], slot: usize) -> Result<&Value, InferError> {
    slots[slot]
        .as_ref()
        .ok_or_else(|| InferError::InvalidModel("a tree graph value was read before it was written".into()))
}

impl Step {
    pub(crate) fn run(&self, ensemble: &Ensemble, slots: &mut [Option<Value>]) -> Result<(), InferError> {
        match *self {
            Step::Identity { input, output } => slots[output] = Some(take(slots, input)?.clone()),
            Step::Cast { input, output, to } => slots[output] = Some(take(slots, input)?.cast(to)),
            Step::Ensemble { input, label, scores } => {
                let x = take(slots, input)?;
                let (Data::F32(values), Some(cols)) = (&x.data, x.width) else {
                    return Err(InferError::InvalidModel("tree ensemble input is not float rows".into()));
                };
                let rows = x.rows;
                let mut scratch = Scratch::new(ensemble.width);
                let mut out = vec![0.0f32; crate::tensor::output_len(rows, ensemble.width)?];
                let mut labels = Vec::with_capacity(rows);
                for (r, chunk) in out.chunks_exact_mut(ensemble.width).enumerate() {
                    let row = &values[r * cols..(r + 1) * cols];
                    labels.extend(ensemble.row(row, &mut scratch, chunk));
                }
                if let Some(slot) = label {
                    slots[slot] = Some(Value { rows, width: None, data: Data::I64(labels) });
                }
                if let Some(slot) = scores {
                    slots[slot] = Some(Value { rows, width: Some(ensemble.width), data: Data::F32(out) });
                }
            }
        }
        Ok(())
    }
}
