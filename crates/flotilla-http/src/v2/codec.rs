//! Infer requests and responses on the wire: JSON with nested or flat data,
//! and Triton's binary tensor extension (a JSON header followed by raw
//! little-endian tensors, its length in `Inference-Header-Content-Length`).

use bytes::{BufMut, Bytes, BytesMut};
use flotilla_infer::{DataType, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::V2Error;
use super::non_finite;

mod leaves;

use leaves::{Leaf, Leaves};

pub const HEADER_LENGTH: &str = "inference-header-content-length";

#[derive(Deserialize)]
pub struct InferRequest {
    pub id: Option<Value>,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    pub inputs: Vec<RequestInput>,
    #[serde(default)]
    pub outputs: Vec<RequestOutput>,
}

#[derive(Deserialize)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    pub data: Option<Leaves>,
}

#[derive(Deserialize)]
pub struct RequestOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

/// Splits a request body into its JSON header and the binary tail.
pub fn parse(body: &Bytes, header_length: Option<usize>) -> Result<(InferRequest, Bytes), V2Error> {
    let (head, tail) = match header_length {
        Some(n) if n <= body.len() => (body.slice(..n), body.slice(n..)),
        Some(n) => {
            return Err(V2Error::bad_request(format!(
                "Inference-Header-Content-Length {n} exceeds the body length {}",
                body.len()
            )));
        }
        None => (body.clone(), Bytes::new()),
    };
    let request: InferRequest = serde_json::from_slice(&non_finite::quote_literals(&head))
        .map_err(|e| V2Error::bad_request(format!("malformed inference request: {e}")))?;
    Ok((request, tail))
}

/// Inputs one request may carry (a model takes a handful).
pub const MAX_INPUTS: usize = 256;
/// Outputs one request may ask for.
pub const MAX_OUTPUTS: usize = 256;
/// Dimensions of one input's shape.
pub const MAX_DIMS: usize = 32;
/// Elements of all inputs together, whatever the body size limit allows.
pub const MAX_ELEMENTS: usize = 1 << 24;

/// The shape's dimensions and element count, checked before anything is
/// sized from them: every element takes at least one byte of the body, so a
/// count beyond `body_len` (or beyond `budget`) is refused unread.
pub(crate) fn element_count(
    name: &str,
    shape: &[i64],
    body_len: usize,
    budget: usize,
) -> Result<(Vec<usize>, usize), V2Error> {
    if shape.len() > MAX_DIMS {
        return Err(V2Error::bad_request(format!(
            "input '{name}' has {} dimensions; at most {MAX_DIMS} are allowed",
            shape.len()
        )));
    }
    let mut dims = Vec::with_capacity(shape.len());
    let mut count: usize = 1;
    // Zero-sized dimensions do not excuse huge ones: a model sizes rows or
    // columns from each dimension, not only from the element count.
    let mut extent: usize = 1;
    for &d in shape {
        let d =
            usize::try_from(d).map_err(|_| V2Error::bad_request(format!("input '{name}' has a negative dimension")))?;
        count = count.saturating_mul(d);
        extent = extent.saturating_mul(d.max(1));
        dims.push(d);
    }
    if count > budget || extent > MAX_ELEMENTS {
        return Err(V2Error::bad_request(format!(
            "input '{name}': shape {shape:?} claims {count} elements; a request may carry at most {MAX_ELEMENTS} elements in all"
        )));
    }
    if count > body_len {
        return Err(V2Error::bad_request(format!(
            "input '{name}': shape {shape:?} claims {count} elements but the request body has only {body_len} bytes"
        )));
    }
    Ok((dims, count))
}

fn json_data(name: &str, datatype: DataType, values: &[Leaf]) -> Result<TensorData, V2Error> {
    let bad = |what: &str| {
        V2Error::bad_request(format!("input '{name}': every element must be {what} for {}", datatype.as_str()))
    };
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(
            values
                .iter()
                .map(|v| if let Leaf::Bool(b) = v { Ok(*b) } else { Err(bad("a boolean")) })
                .collect::<Result<_, _>>()?,
        ),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => TensorData::Int(
            values
                .iter()
                .map(|v| if let Leaf::Int(i) = v { Ok(*i) } else { Err(bad("an integer")) })
                .collect::<Result<_, _>>()?,
        ),
        DataType::Uint8 | DataType::Uint16 | DataType::Uint32 | DataType::Uint64 => TensorData::Uint(
            values
                .iter()
                .map(|v| match v {
                    Leaf::Int(i) => u64::try_from(*i).map_err(|_| bad("a non-negative integer")),
                    Leaf::Uint(u) => Ok(*u),
                    Leaf::Null | Leaf::Bool(_) | Leaf::Float(_) | Leaf::Str(_) | Leaf::Object => {
                        Err(bad("a non-negative integer"))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        DataType::Fp32 | DataType::Fp16 | DataType::Bf16 => TensorData::F32(
            values
                .iter()
                .map(|v| float(v).map(|x| x as f32).ok_or_else(|| bad("a number")))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Fp64 => {
            TensorData::F64(values.iter().map(|v| float(v).ok_or_else(|| bad("a number"))).collect::<Result<_, _>>()?)
        }
        DataType::Bytes => TensorData::Bytes(
            values
                .iter()
                .map(|v| if let Leaf::Str(s) = v { Ok(s.as_bytes().to_vec()) } else { Err(bad("a string")) })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A float element: a number, `null` or a non-finite literal (both read as
/// what Python's `json` writes for a missing or infinite value).
fn float(value: &Leaf) -> Option<f64> {
    match value {
        Leaf::Int(i) => Some(*i as f64),
        Leaf::Uint(u) => Some(*u as f64),
        Leaf::Float(x) => Some(*x),
        Leaf::Null => Some(f64::NAN),
        Leaf::Str(s) => non_finite::parse_literal(s),
        Leaf::Bool(_) | Leaf::Object => None,
    }
}

pub(crate) fn binary_data(name: &str, datatype: DataType, raw: &[u8], count: usize) -> Result<TensorData, V2Error> {
    let size = |n: usize| {
        if count.checked_mul(n) != Some(raw.len()) {
            Err(V2Error::bad_request(format!(
                "input '{name}': {} bytes of binary data for {count} {} elements",
                raw.len(),
                datatype.as_str()
            )))
        } else {
            Ok(())
        }
    };
    macro_rules! le {
        ($t:ty, $n:expr, $wrap:expr) => {{
            size($n)?;
            raw.chunks_exact($n).map(|c| $wrap(<$t>::from_le_bytes(c.try_into().unwrap_or([0; $n])))).collect()
        }};
    }
    Ok(match datatype {
        DataType::Bool => {
            size(1)?;
            TensorData::Bool(raw.iter().map(|b| *b != 0).collect())
        }
        DataType::Int8 => TensorData::Int(le!(i8, 1, i64::from)),
        DataType::Int16 => TensorData::Int(le!(i16, 2, i64::from)),
        DataType::Int32 => TensorData::Int(le!(i32, 4, i64::from)),
        DataType::Int64 => TensorData::Int(le!(i64, 8, |x| x)),
        DataType::Uint8 => TensorData::Uint(le!(u8, 1, u64::from)),
        DataType::Uint16 => TensorData::Uint(le!(u16, 2, u64::from)),
        DataType::Uint32 => TensorData::Uint(le!(u32, 4, u64::from)),
        DataType::Uint64 => TensorData::Uint(le!(u64, 8, |x| x)),
        DataType::Fp32 => TensorData::F32(le!(f32, 4, |x| x)),
        DataType::Fp64 => TensorData::F64(le!(f64, 8, |x| x)),
        DataType::Fp16 | DataType::Bf16 => {
            return Err(V2Error::bad_request(format!(
                "input '{name}': {} is not supported; send FP32",
                datatype.as_str()
            )));
        }
        DataType::Bytes => {
            // Each element is a 4-byte length and its bytes: the count is
            // bounded by what was sent, and each length by what remains.
            if count > raw.len() / 4 {
                return Err(V2Error::bad_request(format!(
                    "input '{name}': {} bytes of BYTES binary data cannot hold {count} elements",
                    raw.len()
                )));
            }
            let mut items = Vec::with_capacity(count);
            let mut rest = raw;
            while let Some((len, after)) = rest.split_first_chunk::<4>() {
                let n = u32::from_le_bytes(*len) as usize;
                let item = after.get(..n).ok_or_else(|| {
                    V2Error::bad_request(format!(
                        "input '{name}': a BYTES element claims {n} bytes but only {} remain",
                        after.len()
                    ))
                })?;
                if items.len() == count {
                    break;
                }
                items.push(item.to_vec());
                rest = &after[n..];
            }
            if !rest.is_empty() || items.len() != count {
                return Err(V2Error::bad_request(format!(
                    "input '{name}': malformed BYTES binary data ({count} elements claimed, {} found before {} stray bytes)",
                    items.len(),
                    rest.len()
                )));
            }
            TensorData::Bytes(items)
        }
    })
}

/// Decodes every input tensor, reading binary inputs from `tail` in order.
///
/// Nothing is sized from a shape before the shape is checked against the body
/// (`body_len` bytes in all) and [`MAX_ELEMENTS`]; then each input must carry
/// exactly the elements its shape claims.
pub fn decode_inputs(request: &InferRequest, tail: &Bytes, body_len: usize) -> Result<Vec<Tensor>, V2Error> {
    check_lists(request)?;
    let mut offset = 0usize;
    let mut budget = MAX_ELEMENTS;
    let mut tensors = Vec::with_capacity(request.inputs.len());
    for input in &request.inputs {
        let datatype = DataType::parse(&input.datatype).ok_or_else(|| {
            V2Error::bad_request(format!("input '{}': unknown datatype '{}'", input.name, input.datatype))
        })?;
        let (shape, count) = element_count(&input.name, &input.shape, body_len, budget)?;
        budget -= count;
        let data = match (input.parameters.get("binary_data_size").and_then(Value::as_u64), &input.data) {
            (Some(n), _) => {
                let end = usize::try_from(n)
                    .ok()
                    .and_then(|n| offset.checked_add(n))
                    .filter(|end| *end <= tail.len())
                    .ok_or_else(|| {
                        V2Error::bad_request(format!(
                            "input '{}': binary_data_size {n} runs past the end of the body",
                            input.name
                        ))
                    })?;
                let data = binary_data(&input.name, datatype, &tail[offset..end], count)?;
                offset = end;
                data
            }
            (None, Some(Leaves(flat))) => {
                if flat.len() != count {
                    return Err(V2Error::bad_request(format!(
                        "input '{}' has {} elements but shape {:?} needs {count}",
                        input.name,
                        flat.len(),
                        input.shape
                    )));
                }
                json_data(&input.name, datatype, flat)?
            }
            (None, None) => return Err(V2Error::bad_request(format!("input '{}' has no data", input.name))),
        };
        tensors.push(Tensor { name: input.name.clone(), shape, datatype, data });
    }
    Ok(tensors)
}

/// Caps the lists a request carries before any of them is looked at.
pub(crate) fn check_lists(request: &InferRequest) -> Result<(), V2Error> {
    if request.inputs.len() > MAX_INPUTS {
        return Err(V2Error::bad_request(format!(
            "the request has {} inputs; at most {MAX_INPUTS} are allowed",
            request.inputs.len()
        )));
    }
    if request.outputs.len() > MAX_OUTPUTS {
        return Err(V2Error::bad_request(format!(
            "the request asks for {} outputs; at most {MAX_OUTPUTS} are allowed",
            request.outputs.len()
        )));
    }
    Ok(())
}

/// An output's elements as JSON, written straight from the tensor (no
/// `Value` per element); non-finite floats become `null`, as Python's `json`
/// cannot read them otherwise.
struct JsonValues<'a>(&'a TensorData);

impl Serialize for JsonValues<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let finite = |x: f64| x.is_finite().then_some(x);
        match self.0 {
            TensorData::Bool(v) => serializer.collect_seq(v),
            TensorData::Int(v) => serializer.collect_seq(v),
            TensorData::Uint(v) => serializer.collect_seq(v),
            TensorData::F32(v) => serializer.collect_seq(v.iter().map(|x| finite(f64::from(*x)))),
            TensorData::F64(v) => serializer.collect_seq(v.iter().map(|x| finite(*x))),
            TensorData::Bytes(v) => serializer.collect_seq(v.iter().map(|b| String::from_utf8_lossy(b))),
        }
    }
}

#[derive(Serialize)]
struct Output<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [usize],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonValues<'a>>,
}

#[derive(Serialize)]
struct Response<'a> {
    #[serde(flatten)]
    header: Map<String, Value>,
    outputs: Vec<Output<'a>>,
}

pub(crate) fn write_binary(data: &TensorData, datatype: DataType, out: &mut BytesMut) {
    match (data, datatype) {
        (TensorData::Bool(v), _) => v.iter().for_each(|b| out.put_u8(u8::from(*b))),
        (TensorData::Int(v), DataType::Int32) => v.iter().for_each(|x| out.put_i32_le(*x as i32)),
        (TensorData::Int(v), _) => v.iter().for_each(|x| out.put_i64_le(*x)),
        (TensorData::Uint(v), _) => v.iter().for_each(|x| out.put_u64_le(*x)),
        (TensorData::F32(v), _) => v.iter().for_each(|x| out.put_f32_le(*x)),
        (TensorData::F64(v), _) => v.iter().for_each(|x| out.put_f64_le(*x)),
        (TensorData::Bytes(v), _) => v.iter().for_each(|b| {
            out.put_u32_le(b.len() as u32);
            out.put_slice(b);
        }),
    }
}

/// The datatype an output is sent as, matching what [`write_binary`] writes.
pub(crate) fn wire_datatype(t: &Tensor) -> DataType {
    match (&t.data, t.datatype) {
        (TensorData::Int(_), DataType::Int32) => DataType::Int32,
        (TensorData::Int(_), _) => DataType::Int64,
        (TensorData::Uint(_), _) => DataType::Uint64,
        (TensorData::Bool(_), _) => DataType::Bool,
        (TensorData::F32(_), _) => DataType::Fp32,
        (TensorData::F64(_), _) => DataType::Fp64,
        (TensorData::Bytes(_), _) => DataType::Bytes,
    }
}

/// Encodes the response; outputs flagged binary go after the JSON header.
/// Returns the body and, when any output is binary, the header length.
pub fn encode(header: Map<String, Value>, outputs: &[(Tensor, bool)]) -> (Bytes, Option<usize>) {
    let mut tail = BytesMut::new();
    let mut list = Vec::with_capacity(outputs.len());
    let any_binary = outputs.iter().any(|(_, binary)| *binary);
    for (tensor, binary) in outputs {
        let datatype = wire_datatype(tensor);
        let mut out = Output {
            name: &tensor.name,
            datatype: datatype.as_str(),
            shape: &tensor.shape,
            parameters: None,
            data: None,
        };
        if *binary {
            let before = tail.len();
            write_binary(&tensor.data, datatype, &mut tail);
            out.parameters = Some(json!({ "binary_data_size": tail.len() - before }));
        } else {
            out.data = Some(JsonValues(&tensor.data));
        }
        list.push(out);
    }
    let head = serde_json::to_vec(&Response { header, outputs: list }).unwrap_or_default();
    if !any_binary {
        return (Bytes::from(head), None);
    }
    let n = head.len();
    let mut body = BytesMut::with_capacity(n + tail.len());
    body.put_slice(&head);
    body.put_slice(&tail);
    (body.freeze(), Some(n))
}

#[cfg(test)]
mod tests;
