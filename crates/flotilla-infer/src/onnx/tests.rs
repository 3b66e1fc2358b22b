//! ONNX loading without fixtures: graphs built here as protobuf structs.

use proptest::prelude::*;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, tensor_proto::DataType as PbType, tensor_shape_proto::Dimension, tensor_shape_proto::dimension,
    type_proto,
};

use super::{graph, load, plan::TractModel};
use crate::{DataType, InferError, Model, Tensor, TensorData};

enum Dim {
    Param(&'static str),
    Fixed(i64),
    Unknown,
}

fn value(name: &str, elem_type: PbType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: match d {
                Dim::Param(p) => Some(dimension::Value::DimParam((*p).into())),
                Dim::Fixed(v) => Some(dimension::Value::DimValue(*v)),
                Dim::Unknown => None,
            },
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor { elem_type: elem_type as i32, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

fn node(op: &str, domain: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        domain: domain.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn weights(name: &str, dims: &[i64], values: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: PbType::Float as i32,
        float_data: values,
        ..Default::default()
    }
}

fn model(graph: GraphProto) -> ModelProto {
    let opset = |domain: &str, version| OperatorSetIdProto { domain: domain.into(), version };
    ModelProto {
        ir_version: 8,
        opset_import: vec![opset("", 17), opset("ai.onnx.ml", 3)],
        graph: Some(graph),
        ..Default::default()
    }
}

fn build(proto: ModelProto) -> Result<TractModel, InferError> {
    let prepared = graph::prepare(proto)?;
    graph::refuse_unknown_operators(&prepared)?;
    TractModel::new(prepared)
}

const W1: [f32; 8] = [1.0, -1.0, 0.5, 2.0, -0.5, 1.0, 0.0, -1.0]; // [4, 2]
const B1: [f32; 2] = [0.1, -0.2];
const W2: [f32; 2] = [2.0, -3.0]; // [2, 1]

/// x[batch, 4] -> MatMul -> Add -> Relu -> MatMul -> y[batch, 1]
fn relu_net(batch: Dim) -> ModelProto {
    model(GraphProto {
        node: vec![
            node("MatMul", "", &["x", "w1"], &["h1"]),
            node("Add", "", &["h1", "b1"], &["h2"]),
            node("Relu", "", &["h2"], &["h3"]),
            node("MatMul", "", &["h3", "w2"], &["y"]),
        ],
        initializer: vec![
            weights("w1", &[4, 2], W1.to_vec()),
            weights("b1", &[2], B1.to_vec()),
            weights("w2", &[2, 1], W2.to_vec()),
        ],
        input: vec![value("x", PbType::Float, &[batch, Dim::Fixed(4)])],
        output: vec![value("y", PbType::Float, &[Dim::Param("batch"), Dim::Fixed(1)])],
        ..Default::default()
    })
}

fn relu_net_by_hand(row: &[f32]) -> f32 {
    let hidden = (0..2).map(|j| ((0..4).map(|i| row[i] * W1[i * 2 + j]).sum::<f32>() + B1[j]).max(0.0));
    hidden.zip(W2).map(|(h, w)| h * w).sum()
}

#[test]
fn hand_built_network_any_batch() {
    for batch in [Dim::Param("batch"), Dim::Unknown] {
        let m = build(relu_net(batch)).unwrap();
        assert_eq!(m.inputs()[0].shape, vec![-1, 4]);
        assert_eq!(m.inputs()[0].datatype, DataType::Fp32);
        assert_eq!((m.outputs()[0].name.as_str(), m.outputs()[0].shape.as_slice()), ("y", &[-1, 1][..]));
        for rows in [1usize, 3, 17] {
            let x: Vec<f32> = (0..rows * 4).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
            let out = m.predict(&[Tensor::f32("x", vec![rows, 4], x.clone())]).unwrap();
            assert_eq!(out[0].shape, vec![rows, 1]);
            let TensorData::F32(y) = &out[0].data else { panic!("{:?}", out[0]) };
            for (r, got) in y.iter().enumerate() {
                let want = relu_net_by_hand(&x[r * 4..r * 4 + 4]);
                assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "row {r}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn inputs_are_converted_and_checked() {
    let m = build(relu_net(Dim::Param("batch"))).unwrap();
    let one_row = m.predict(&[Tensor::f64("x", vec![4], vec![1.0, 2.0, 3.0, 4.0])]).unwrap();
    assert_eq!(one_row[0].shape, vec![1, 1]);
    let ints = m.predict(&[Tensor::i64("x", vec![1, 4], vec![1, 2, 3, 4])]).unwrap();
    assert_eq!(ints[0].data, one_row[0].data);
    let bad: &[(Vec<Tensor>, &str)] = &[
        (vec![Tensor::f32("x", vec![2, 3], vec![0.0; 6])], "expects [-1, 4]"),
        (vec![Tensor::f32("x", vec![2, 4], vec![0.0; 7])], "7 elements"),
        (vec![], "takes 1 input"),
        (
            vec![Tensor {
                name: "x".into(),
                shape: vec![1, 4],
                datatype: DataType::Bytes,
                data: TensorData::Bytes(vec![vec![]; 4]),
            }],
            "BYTES",
        ),
    ];
    for (inputs, fragment) in bad {
        match m.predict(inputs) {
            Err(InferError::BadInput(msg)) => assert!(msg.contains(fragment), "{msg}"),
            other => panic!("{fragment}: {other:?}"),
        }
    }
}

#[test]
fn size_counts_weights_and_nodes() {
    let m = build(relu_net(Dim::Param("batch"))).unwrap();
    let weight_bytes = (W1.len() + B1.len() + W2.len()) * 4;
    assert!(m.size_bytes() >= weight_bytes + super::size::MODEL_OVERHEAD, "{}", m.size_bytes());
    assert!(m.size_bytes() < 64 * 1024, "{}", m.size_bytes());
    assert_eq!(m.platform(), "onnx");
}

/// Softmax over three logits then ZipMap, as skl2onnx ends a classifier.
fn zipmap_classifier() -> ModelProto {
    let mut zipmap = node("ZipMap", "ai.onnx.ml", &["probabilities"], &["output_probability"]);
    zipmap.attribute.push(AttributeProto {
        name: "classlabels_int64s".into(),
        ints: vec![0, 1, 2],
        ..Default::default()
    });
    let mut sequence = value("output_probability", PbType::Float, &[]);
    sequence.r#type = None; // a sequence of maps: tract's protobuf types cannot say so
    model(GraphProto {
        node: vec![node("Softmax", "", &["x"], &["probabilities"]), zipmap],
        input: vec![value("x", PbType::Float, &[Dim::Unknown, Dim::Fixed(3)])],
        output: vec![sequence],
        ..Default::default()
    })
}

#[test]
fn zipmap_output_is_the_probability_tensor() {
    let m = build(zipmap_classifier()).unwrap();
    assert_eq!(m.outputs()[0].name, "output_probability");
    assert_eq!((m.outputs()[0].datatype, m.outputs()[0].shape.as_slice()), (DataType::Fp32, &[-1, 3][..]));
    let out = m.predict(&[Tensor::f32("x", vec![2, 3], vec![0.0, 0.0, 0.0, 1.0, 2.0, 3.0])]).unwrap();
    let TensorData::F32(p) = &out[0].data else { panic!() };
    assert_eq!(out[0].shape, vec![2, 3]);
    assert!((p[0] - 1.0 / 3.0).abs() < 1e-6 && (p[5] - 0.665_240_9).abs() < 1e-6, "{p:?}");
}

#[test]
fn refused_models() {
    let with_nodes = |nodes: Vec<NodeProto>, out_type: PbType| {
        model(GraphProto {
            node: nodes,
            input: vec![value("x", PbType::Float, &[Dim::Unknown, Dim::Fixed(3)])],
            output: vec![value("y", out_type, &[Dim::Unknown])],
            ..Default::default()
        })
    };
    let cases: Vec<(ModelProto, &str)> = vec![
        (
            with_nodes(vec![node("Scaler", "ai.onnx.ml", &["x"], &["y"])], PbType::Float),
            "Unsupported: ONNX operator ai.onnx.ml.Scaler is not supported",
        ),
        (
            with_nodes(
                vec![node("Scaler", "ai.onnx.ml", &["x"], &["s"]), node("Frobnicate", "com.example", &["s"], &["y"])],
                PbType::Float,
            ),
            "Unsupported: ONNX operators ai.onnx.ml.Scaler, com.example.Frobnicate are not supported",
        ),
        (
            with_nodes(vec![node("Identity", "", &["x"], &["y"])], PbType::String),
            "Unsupported: ONNX output 'y' is a string",
        ),
        (with_nodes(vec![node("Identity", "", &["x"], &["z"])], PbType::Float), "InvalidModel: ONNX graph output 'y'"),
        (model(GraphProto::default()), "InvalidModel"),
    ];
    for (proto, want) in cases {
        let got = match build(proto) {
            Ok(_) => "loaded".to_string(),
            Err(InferError::Unsupported(m)) => format!("Unsupported: {m}"),
            Err(InferError::InvalidModel(m)) => format!("InvalidModel: {m}"),
            Err(e) => format!("{e:?}"),
        };
        assert!(got.starts_with(want), "want {want}, got {got}");
    }
}

#[test]
fn garbage_bytes_are_invalid() {
    for bytes in [&b""[..], b"\x00\x01\x02", b"not an onnx model at all", &[0xff; 64], b"\x08\x07\x12\x03abc"] {
        match load(bytes) {
            Err(InferError::InvalidModel(_)) => {}
            Err(e) => panic!("{bytes:?}: {e:?}"),
            Ok(_) => panic!("{bytes:?} loaded"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = load(&bytes);
    }
}

#[test]
fn forged_tensor_dims_are_refused_before_allocation() {
    let forged = |dims: &[i64]| {
        let mut proto = relu_net(Dim::Param("batch"));
        proto.graph.as_mut().unwrap().initializer[0].dims = dims.to_vec();
        build(proto).err().map(|e| e.to_string()).unwrap_or_default()
    };
    let cases: &[(&[i64], &str)] = &[
        (&[1 << 20, 1 << 20], "has dims [1048576, 1048576] (1099511627776 elements) but holds data for at most 8"),
        (&[i64::MAX, i64::MAX], "but holds data for at most 8"),
        (&[4, -2], "negative dimension -2"),
        (&[3, 3], "(9 elements) but holds data for at most 8"),
    ];
    for (dims, fragment) in cases {
        let e = forged(dims);
        assert!(e.contains(fragment), "{dims:?}: {e}");
    }
}

/// `y = x + ConstantOfShape(shape)` (or Expand / Tile) with a constant shape.
fn constant_builder(op: &str, shape: &[i64]) -> ModelProto {
    let (node_in, dims): (Vec<&str>, Vec<i64>) = match op {
        "ConstantOfShape" => (vec!["s"], vec![shape.len() as i64]),
        _ => (vec!["x", "s"], vec![shape.len() as i64]),
    };
    let s = TensorProto {
        name: "s".into(),
        dims,
        data_type: PbType::Int64 as i32,
        int64_data: shape.to_vec(),
        ..Default::default()
    };
    model(GraphProto {
        node: vec![node(op, "", &node_in, &["c"]), node("Add", "", &["x", "c"], &["y"])],
        initializer: vec![s],
        input: vec![value("x", PbType::Float, &[Dim::Param("batch"), Dim::Fixed(4)])],
        output: vec![value("y", PbType::Float, &[Dim::Unknown, Dim::Unknown])],
        ..Default::default()
    })
}

#[test]
fn constants_sized_from_constant_shapes_are_bounded() {
    let cases: &[(&str, &[i64], Option<&str>)] = &[
        ("ConstantOfShape", &[1 << 20, 1 << 20], Some("1099511627776 elements")),
        ("Expand", &[1 << 20, 1 << 20], Some("1099511627776 elements")),
        ("Tile", &[1 << 30, 1 << 30], Some("elements")),
        ("ConstantOfShape", &[-1, 4], Some("negative")),
        ("ConstantOfShape", &[1, 4], None),
    ];
    for (op, shape, want) in cases {
        let got = graph::prepare(constant_builder(op, shape));
        match (got, want) {
            (Err(e), Some(fragment)) => assert!(e.to_string().contains(fragment), "{op} {shape:?}: {e}"),
            (Ok(_), None) => {}
            (Err(e), None) => panic!("{op} {shape:?}: {e}"),
            (Ok(_), Some(fragment)) => panic!("{op} {shape:?}: accepted, want '{fragment}'"),
        }
    }
}
