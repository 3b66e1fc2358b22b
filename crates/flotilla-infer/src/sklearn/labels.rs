//! A classifier's `classes_`: integers, floats or strings, answered in the
//! type they were fitted with (INT64, FP64 or BYTES).

use crate::pyvalue::{ArrayData, Value};
use crate::sklearn::invalid;
use crate::{DataType, InferError, Tensor, TensorData};

#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Str(Vec<String>),
}

impl Labels {
    /// Reads `classes_` (an array, or a list of values).
    pub fn read(value: &Value) -> Result<Self, InferError> {
        let labels = if let Value::Array(a) = value {
            match &a.data {
                ArrayData::Numeric { dtype, values } if dtype.kind == 'f' => Self::Float(values.clone()),
                ArrayData::Numeric { .. } => Self::Int(a.to_i64()?),
                ArrayData::Str(s) => Self::Str(s.clone()),
                ArrayData::Object(items) => Self::from_values(items)?,
                ArrayData::Records { .. } => return Err(invalid("classes_ is a structured array")),
            }
        } else {
            Self::from_values(value.as_list()?)?
        };
        if labels.len() < 2 {
            return Err(invalid(format_args!("classes_ holds {} classes; a classifier needs 2 or more", labels.len())));
        }
        Ok(labels)
    }

    fn from_values(items: &[Value]) -> Result<Self, InferError> {
        if items.iter().all(|v| matches!(v, Value::Str(_))) {
            return Ok(Self::Str(items.iter().map(|v| v.as_str().map(str::to_string)).collect::<Result<_, _>>()?));
        }
        if items.iter().all(|v| matches!(v, Value::Int(_) | Value::Bool(_))) {
            return Ok(Self::Int(items.iter().map(Value::as_i64).collect::<Result<_, _>>()?));
        }
        Ok(Self::Float(items.iter().map(Value::as_f64).collect::<Result<_, _>>()?))
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Int(v) => v.len(),
            Self::Float(v) => v.len(),
            Self::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn datatype(&self) -> DataType {
        match self {
            Self::Int(_) => DataType::Int64,
            Self::Float(_) => DataType::Fp64,
            Self::Str(_) => DataType::Bytes,
        }
    }

    /// The `predict` output for class indices.
    pub fn tensor(&self, name: &str, picks: &[usize]) -> Tensor {
        let shape = vec![picks.len()];
        let (datatype, data) = match self {
            Self::Int(v) => (DataType::Int64, TensorData::Int(picks.iter().map(|i| v[*i]).collect())),
            Self::Float(v) => (DataType::Fp64, TensorData::F64(picks.iter().map(|i| v[*i]).collect())),
            Self::Str(v) => {
                (DataType::Bytes, TensorData::Bytes(picks.iter().map(|i| v[*i].as_bytes().to_vec()).collect()))
            }
        };
        Tensor { name: name.to_string(), shape, datatype, data }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::Int(v) => v.capacity() * 8,
            Self::Float(v) => v.capacity() * 8,
            Self::Str(v) => v.iter().map(|s| s.capacity() + size_of::<String>()).sum(),
        }
    }
}

/// The index of the largest value, the first on ties and the first NaN if
/// any, as `numpy.argmax`.
pub fn argmax(values: &[f64]) -> usize {
    if let Some(nan) = values.iter().position(|v| v.is_nan()) {
        return nan;
    }
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}
