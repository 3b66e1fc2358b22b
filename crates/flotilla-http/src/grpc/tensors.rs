//! An infer request's tensors from gRPC, and the answer's back: inputs from
//! `raw_input_contents` (read by the V2 codec's binary reader: little-endian,
//! BYTES as 4-byte lengths) or from typed `contents`, under the V2 limits on
//! inputs, dimensions and elements; outputs always as `raw_output_contents`,
//! as Triton answers.

use bytes::BytesMut;
use flotilla_infer::{DataType, Tensor, TensorData};
use prost::Message;

use super::proto::model_infer_request::InferInputTensor;
use super::proto::model_infer_response::InferOutputTensor;
use super::proto::{InferTensorContents, ModelInferRequest};
use crate::v2::codec::{
    MAX_ELEMENTS, MAX_INPUTS, MAX_OUTPUTS, binary_data, element_count, wire_datatype, write_binary,
};
use crate::v2::error::V2Error;

/// Decodes every input; nothing is sized from a shape before it is checked
/// against the message's size and [`MAX_ELEMENTS`].
pub fn decode_inputs(request: &ModelInferRequest) -> Result<Vec<Tensor>, V2Error> {
    if request.inputs.len() > MAX_INPUTS || request.outputs.len() > MAX_OUTPUTS {
        return Err(V2Error::bad_request(format!(
            "the request has {} inputs and asks for {} outputs; at most {MAX_INPUTS} and {MAX_OUTPUTS} are allowed",
            request.inputs.len(),
            request.outputs.len()
        )));
    }
    let raw = &request.raw_input_contents;
    if !raw.is_empty() && raw.len() != request.inputs.len() {
        return Err(V2Error::bad_request(format!(
            "{} raw_input_contents for {} inputs; send one per input, or none",
            raw.len(),
            request.inputs.len()
        )));
    }
    let message_len = request.encoded_len();
    let mut budget = MAX_ELEMENTS;
    let mut tensors = Vec::with_capacity(request.inputs.len());
    for (i, input) in request.inputs.iter().enumerate() {
        let datatype = DataType::parse(&input.datatype).ok_or_else(|| {
            V2Error::bad_request(format!("input '{}': unknown datatype '{}'", input.name, input.datatype))
        })?;
        let (shape, count) = element_count(&input.name, &input.shape, message_len, budget)?;
        budget -= count;
        let data = match raw.get(i) {
            Some(bytes) => binary_data(&input.name, datatype, bytes, count)?,
            None => typed(input, datatype, count)?,
        };
        tensors.push(Tensor { name: input.name.clone(), shape, datatype, data });
    }
    Ok(tensors)
}

/// An input's typed `contents`: the field its datatype reads, with exactly
/// the elements its shape claims.
fn typed(input: &InferInputTensor, datatype: DataType, count: usize) -> Result<TensorData, V2Error> {
    let empty = InferTensorContents::default();
    let c = input.contents.as_ref().unwrap_or(&empty);
    let data = match datatype {
        DataType::Bool => TensorData::Bool(c.bool_contents.clone()),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            TensorData::Int(c.int_contents.iter().map(|x| i64::from(*x)).collect())
        }
        DataType::Int64 => TensorData::Int(c.int64_contents.clone()),
        DataType::Uint8 | DataType::Uint16 | DataType::Uint32 => {
            TensorData::Uint(c.uint_contents.iter().map(|x| u64::from(*x)).collect())
        }
        DataType::Uint64 => TensorData::Uint(c.uint64_contents.clone()),
        DataType::Fp32 => TensorData::F32(c.fp32_contents.clone()),
        DataType::Fp64 => TensorData::F64(c.fp64_contents.clone()),
        DataType::Bytes => TensorData::Bytes(c.bytes_contents.clone()),
        DataType::Fp16 | DataType::Bf16 => {
            return Err(V2Error::bad_request(format!(
                "input '{}': {} is not supported; send FP32",
                input.name,
                datatype.as_str()
            )));
        }
    };
    if data.len() != count {
        return Err(V2Error::bad_request(format!(
            "input '{}' has {} elements but shape {:?} needs {count}",
            input.name,
            data.len(),
            input.shape
        )));
    }
    Ok(data)
}

/// The outputs' metadata and their raw contents, in the same order.
pub fn encode_outputs(outputs: &[Tensor]) -> (Vec<InferOutputTensor>, Vec<Vec<u8>>) {
    let mut metadata = Vec::with_capacity(outputs.len());
    let mut raw = Vec::with_capacity(outputs.len());
    for t in outputs {
        let datatype = wire_datatype(t);
        let mut bytes = BytesMut::new();
        write_binary(&t.data, datatype, &mut bytes);
        raw.push(bytes.to_vec());
        metadata.push(InferOutputTensor {
            name: t.name.clone(),
            datatype: datatype.as_str().to_string(),
            shape: t.shape.iter().map(|d| *d as i64).collect(),
            parameters: Default::default(),
            contents: None,
        });
    }
    (metadata, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, datatype: &str, shape: Vec<i64>, contents: Option<InferTensorContents>) -> InferInputTensor {
        InferInputTensor {
            name: name.into(),
            datatype: datatype.into(),
            shape,
            parameters: Default::default(),
            contents,
        }
    }

    fn request(inputs: Vec<InferInputTensor>, raw: Vec<Vec<u8>>) -> ModelInferRequest {
        ModelInferRequest { inputs, raw_input_contents: raw, ..Default::default() }
    }

    #[test]
    fn raw_and_typed_contents_decode() {
        let raw: Vec<u8> = [1.5f32, 2.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let got = decode_inputs(&request(vec![input("x", "FP32", vec![1, 2], None)], vec![raw])).unwrap();
        assert_eq!(got, vec![Tensor::f32("x", vec![1, 2], vec![1.5, 2.5])]);
        let contents = InferTensorContents { fp64_contents: vec![1.0, 2.0], ..Default::default() };
        let got = decode_inputs(&request(vec![input("x", "FP64", vec![2], Some(contents))], vec![])).unwrap();
        assert_eq!(got, vec![Tensor::f64("x", vec![2], vec![1.0, 2.0])]);
    }

    #[test]
    fn bad_requests_are_refused() {
        let four = vec![0u8; 4];
        let cases: Vec<(ModelInferRequest, &str)> = vec![
            (
                request(vec![input("x", "FP32", vec![1, 2], None)], vec![four.clone()]),
                "4 bytes of binary data for 2 FP32",
            ),
            (
                request(vec![input("x", "FP32", vec![1], None)], vec![four.clone(), four.clone()]),
                "2 raw_input_contents for 1",
            ),
            (request(vec![input("x", "FP99", vec![1], None)], vec![four.clone()]), "unknown datatype 'FP99'"),
            (request(vec![input("x", "FP32", vec![1 << 40, 1 << 20], None)], vec![four.clone()]), "claims"),
            (request(vec![input("x", "FP32", vec![-1], None)], vec![four]), "negative dimension"),
            (
                request(
                    vec![input(
                        "x",
                        "INT64",
                        vec![3],
                        Some(InferTensorContents { int64_contents: vec![1], ..Default::default() }),
                    )],
                    vec![],
                ),
                "has 1 elements but shape [3] needs 3",
            ),
        ];
        for (req, fragment) in cases {
            let e = decode_inputs(&req).unwrap_err();
            assert!(e.message.contains(fragment), "{}", e.message);
        }
    }

    #[test]
    fn outputs_go_raw() {
        let (meta, raw) = encode_outputs(&[Tensor::i64("label", vec![2], vec![1, 2])]);
        assert_eq!((meta[0].datatype.as_str(), meta[0].shape.as_slice()), ("INT64", &[2i64][..]));
        assert_eq!(raw[0].len(), 16);
    }
}
