//! Between flotilla's wire tensors and tract's: element types, shapes checked
//! against what the graph declares, and the copies either way.

use tract_onnx::prelude::tract_ndarray::{ArrayD, IxDyn};
use tract_onnx::prelude::{Datum, DatumType, IntoTensor, Tensor as TractTensor};

use crate::{DataType, InferError, Tensor, TensorData, TensorSpec};

/// The wire type for a tract element type; `None` for what flotilla does not
/// carry (strings, blobs, quantized and 16-bit floats).
#[expect(clippy::wildcard_enum_match_arm, reason = "tract's DatumType: every other type is unsupported")]
pub(crate) fn datatype(dt: DatumType) -> Option<DataType> {
    Some(match dt {
        DatumType::Bool => DataType::Bool,
        DatumType::U8 => DataType::Uint8,
        DatumType::U16 => DataType::Uint16,
        DatumType::U32 => DataType::Uint32,
        DatumType::U64 => DataType::Uint64,
        DatumType::I8 => DataType::Int8,
        DatumType::I16 => DataType::Int16,
        DatumType::I32 => DataType::Int32,
        // tract types integer tensors it can reason about as dimensions
        // (a Cast to int64, say) as TDim; they leave as INT64.
        DatumType::I64 | DatumType::TDim => DataType::Int64,
        DatumType::F32 => DataType::Fp32,
        DatumType::F64 => DataType::Fp64,
        _ => return None,
    })
}

/// The request shape the graph will get: `spec`'s rank, fixed dimensions equal.
/// A 1-D request to a `[rows, features]` input is one row.
fn shape_for(tensor: &Tensor, spec: &TensorSpec) -> Result<Vec<usize>, InferError> {
    let shape = match (tensor.shape.len(), spec.shape.len()) {
        (1, 2) => vec![1, tensor.shape[0]],
        _ => tensor.shape.clone(),
    };
    let fits = shape.len() == spec.shape.len()
        && shape.iter().zip(&spec.shape).all(|(got, want)| *want < 0 || *got as i64 == *want);
    if !fits {
        return Err(InferError::BadInput(format!(
            "input '{}' has shape {:?}; the model expects {:?} (-1: any size)",
            spec.name, tensor.shape, spec.shape
        )));
    }
    if shape.iter().product::<usize>() != tensor.data.len() {
        return Err(InferError::BadInput(format!(
            "input '{}' has {} elements but shape {:?}",
            spec.name,
            tensor.data.len(),
            tensor.shape
        )));
    }
    Ok(shape)
}

macro_rules! cast {
    ($data:expr, $t:ty, $name:expr) => {
        match $data {
            TensorData::F32(v) => v.iter().map(|x| *x as $t).collect::<Vec<$t>>(),
            TensorData::F64(v) => v.iter().map(|x| *x as $t).collect(),
            TensorData::Int(v) => v.iter().map(|x| *x as $t).collect(),
            TensorData::Uint(v) => v.iter().map(|x| *x as $t).collect(),
            TensorData::Bool(v) => v.iter().map(|x| u8::from(*x) as $t).collect(),
            TensorData::Bytes(_) => {
                return Err(InferError::BadInput(format!("input '{}' is BYTES; a numeric tensor is needed", $name)));
            }
        }
    };
}

fn array<T: Datum>(shape: &[usize], values: Vec<T>) -> TractTensor {
    // `shape_for` checked the element count, so this cannot fail.
    ArrayD::from_shape_vec(IxDyn(shape), values).map(IntoTensor::into_tensor).unwrap_or_else(|_| TractTensor::default())
}

/// The request tensor as the graph input `spec` wants it, converting numbers
/// to the declared element type.
pub(crate) fn to_tract(tensor: &Tensor, spec: &TensorSpec) -> Result<TractTensor, InferError> {
    let shape = shape_for(tensor, spec)?;
    let data = &tensor.data;
    let name = &spec.name;
    Ok(match spec.datatype {
        DataType::Fp32 => array(&shape, cast!(data, f32, name)),
        DataType::Fp64 => array(&shape, cast!(data, f64, name)),
        DataType::Int64 => array(&shape, cast!(data, i64, name)),
        DataType::Int32 => array(&shape, cast!(data, i32, name)),
        DataType::Int16 => array(&shape, cast!(data, i16, name)),
        DataType::Int8 => array(&shape, cast!(data, i8, name)),
        DataType::Uint64 => array(&shape, cast!(data, u64, name)),
        DataType::Uint32 => array(&shape, cast!(data, u32, name)),
        DataType::Uint16 => array(&shape, cast!(data, u16, name)),
        DataType::Uint8 => array(&shape, cast!(data, u8, name)),
        DataType::Bool => array(&shape, cast!(data, u8, name).into_iter().map(|x| x != 0).collect()),
        DataType::Fp16 | DataType::Bf16 | DataType::Bytes => {
            return Err(InferError::Unsupported(format!("input '{name}' of type {}", spec.datatype.as_str())));
        }
    })
}

fn values<T: Datum + Copy>(t: &TractTensor) -> Result<Vec<T>, InferError> {
    t.try_as_plain_ram()
        .and_then(|view| view.as_slice::<T>().map(<[T]>::to_vec))
        .map_err(|e| InferError::InvalidModel(format!("reading an ONNX output: {e:#}")))
}

/// A graph output as a wire tensor named `name`.
pub(crate) fn from_tract(name: &str, t: &TractTensor) -> Result<Tensor, InferError> {
    if t.datum_type() == DatumType::TDim {
        let cast = t.cast_to::<i64>().map_err(|e| InferError::InvalidModel(format!("ONNX output '{name}': {e:#}")))?;
        return from_tract(name, &cast);
    }
    let Some(wire) = datatype(t.datum_type()) else {
        return Err(InferError::Unsupported(format!("ONNX output '{name}' has element type {:?}", t.datum_type())));
    };
    let data = match wire {
        DataType::Fp32 => TensorData::F32(values(t)?),
        DataType::Fp64 => TensorData::F64(values(t)?),
        DataType::Int64 => TensorData::Int(values(t)?),
        DataType::Int32 => TensorData::Int(values::<i32>(t)?.into_iter().map(i64::from).collect()),
        DataType::Int16 => TensorData::Int(values::<i16>(t)?.into_iter().map(i64::from).collect()),
        DataType::Int8 => TensorData::Int(values::<i8>(t)?.into_iter().map(i64::from).collect()),
        DataType::Uint64 => TensorData::Uint(values(t)?),
        DataType::Uint32 => TensorData::Uint(values::<u32>(t)?.into_iter().map(u64::from).collect()),
        DataType::Uint16 => TensorData::Uint(values::<u16>(t)?.into_iter().map(u64::from).collect()),
        DataType::Uint8 => TensorData::Uint(values::<u8>(t)?.into_iter().map(u64::from).collect()),
        DataType::Bool => TensorData::Bool(values(t)?),
        DataType::Fp16 | DataType::Bf16 | DataType::Bytes => {
            return Err(InferError::Unsupported(format!("ONNX output '{name}' of type {}", wire.as_str())));
        }
    };
    Ok(Tensor { name: name.to_string(), shape: t.shape().to_vec(), datatype: wire, data })
}
