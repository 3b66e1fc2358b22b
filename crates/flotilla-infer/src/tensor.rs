//! Tensors as the Open Inference Protocol carries them: a name, a shape, a
//! datatype and row-major data.

use crate::InferError;

/// The V2 datatypes. FP16 and BF16 travel as raw 16-bit patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    Fp16,
    Bf16,
    Fp32,
    Fp64,
    Bytes,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::Uint8 => "UINT8",
            Self::Uint16 => "UINT16",
            Self::Uint32 => "UINT32",
            Self::Uint64 => "UINT64",
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Fp16 => "FP16",
            Self::Bf16 => "BF16",
            Self::Fp32 => "FP32",
            Self::Fp64 => "FP64",
            Self::Bytes => "BYTES",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "BOOL" => Self::Bool,
            "UINT8" => Self::Uint8,
            "UINT16" => Self::Uint16,
            "UINT32" => Self::Uint32,
            "UINT64" => Self::Uint64,
            "INT8" => Self::Int8,
            "INT16" => Self::Int16,
            "INT32" => Self::Int32,
            "INT64" => Self::Int64,
            "FP16" => Self::Fp16,
            "BF16" => Self::Bf16,
            "FP32" => Self::Fp32,
            "FP64" => Self::Fp64,
            "BYTES" => Self::Bytes,
            _ => return None,
        })
    }

    /// Bytes per element in the binary tensor extension (`None` for BYTES).
    pub fn element_size(self) -> Option<usize> {
        match self {
            Self::Bool | Self::Uint8 | Self::Int8 => Some(1),
            Self::Uint16 | Self::Int16 | Self::Fp16 | Self::Bf16 => Some(2),
            Self::Uint32 | Self::Int32 | Self::Fp32 => Some(4),
            Self::Uint64 | Self::Int64 | Self::Fp64 => Some(8),
            Self::Bytes => None,
        }
    }
}

/// Tensor elements. Integer and 16-bit float types are widened on the way in
/// (the datatype on the [`Tensor`] keeps the wire type for the answer).
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Uint(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<Vec<u8>>),
}

impl TensorData {
    pub fn len(&self) -> usize {
        match self {
            Self::Bool(v) => v.len(),
            Self::Int(v) => v.len(),
            Self::Uint(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub datatype: DataType,
    pub data: TensorData,
}

impl Tensor {
    pub fn f32(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self { name: name.into(), shape, datatype: DataType::Fp32, data: TensorData::F32(data) }
    }

    pub fn f64(name: impl Into<String>, shape: Vec<usize>, data: Vec<f64>) -> Self {
        Self { name: name.into(), shape, datatype: DataType::Fp64, data: TensorData::F64(data) }
    }

    pub fn i64(name: impl Into<String>, shape: Vec<usize>, data: Vec<i64>) -> Self {
        Self { name: name.into(), shape, datatype: DataType::Int64, data: TensorData::Int(data) }
    }

    /// The tensor as a row-major matrix of `f32` features: `(rows, cols, values)`.
    /// A 1-D tensor is one row. Numeric types convert; BYTES does not.
    pub fn to_f32_rows(&self) -> Result<(usize, usize, Vec<f32>), InferError> {
        let values: Vec<f32> = match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::F64(v) => v.iter().map(|x| *x as f32).collect(),
            TensorData::Int(v) => v.iter().map(|x| *x as f32).collect(),
            TensorData::Uint(v) => v.iter().map(|x| *x as f32).collect(),
            TensorData::Bool(v) => v.iter().map(|x| f32::from(u8::from(*x))).collect(),
            TensorData::Bytes(_) => {
                return Err(InferError::BadInput(format!(
                    "input '{}' is BYTES; a numeric tensor is needed",
                    self.name
                )));
            }
        };
        let (rows, cols) = self.matrix_shape()?;
        Ok((rows, cols, values))
    }

    /// Like [`Tensor::to_f32_rows`] with `f64` values.
    pub fn to_f64_rows(&self) -> Result<(usize, usize, Vec<f64>), InferError> {
        let values: Vec<f64> = match &self.data {
            TensorData::F32(v) => v.iter().map(|x| f64::from(*x)).collect(),
            TensorData::F64(v) => v.clone(),
            TensorData::Int(v) => v.iter().map(|x| *x as f64).collect(),
            TensorData::Uint(v) => v.iter().map(|x| *x as f64).collect(),
            TensorData::Bool(v) => v.iter().map(|x| f64::from(u8::from(*x))).collect(),
            TensorData::Bytes(_) => {
                return Err(InferError::BadInput(format!(
                    "input '{}' is BYTES; a numeric tensor is needed",
                    self.name
                )));
            }
        };
        let (rows, cols) = self.matrix_shape()?;
        Ok((rows, cols, values))
    }

    fn matrix_shape(&self) -> Result<(usize, usize), InferError> {
        let (rows, cols) = match self.shape.as_slice() {
            [n] => (1, *n),
            [r, c] => (*r, *c),
            other => {
                return Err(InferError::BadInput(format!(
                    "input '{}' has shape {other:?}; expected [rows, features] or [features]",
                    self.name
                )));
            }
        };
        if rows.checked_mul(cols) != Some(self.data.len()) {
            return Err(InferError::BadInput(format!(
                "input '{}' has {} elements but shape {:?}",
                self.name,
                self.data.len(),
                self.shape
            )));
        }
        Ok((rows, cols))
    }
}

/// Elements one output may hold: a model's width (classes, targets, trees
/// per iteration) comes from its file, the rows from the request, and their
/// product is checked before the answer is allocated.
pub const MAX_OUTPUT_ELEMENTS: usize = 1 << 26;

/// The length of a `rows × width` output, refused past [`MAX_OUTPUT_ELEMENTS`].
pub fn output_len(rows: usize, width: usize) -> Result<usize, InferError> {
    rows.checked_mul(width).filter(|n| *n <= MAX_OUTPUT_ELEMENTS).ok_or_else(|| {
        InferError::BadInput(format!(
            "{rows} rows × {width} outputs per row exceeds the limit of {MAX_OUTPUT_ELEMENTS} output elements; send fewer rows"
        ))
    })
}

/// What a model declares about one input or output; `-1` marks a variable
/// dimension (the batch, usually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
}

impl TensorSpec {
    pub fn new(name: impl Into<String>, datatype: DataType, shape: Vec<i64>) -> Self {
        Self { name: name.into(), datatype, shape }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_are_checked() {
        let cases: &[(usize, usize, Option<usize>)] = &[
            (2, 3, Some(6)),
            (0, usize::MAX, Some(0)),
            (MAX_OUTPUT_ELEMENTS, 1, Some(MAX_OUTPUT_ELEMENTS)),
            (MAX_OUTPUT_ELEMENTS, 2, None),
            (1 << 20, 1 << 16, None),
            (usize::MAX, 2, None),
        ];
        for (rows, width, want) in cases {
            assert_eq!(output_len(*rows, *width).ok(), *want, "{rows} x {width}");
        }
    }
}
