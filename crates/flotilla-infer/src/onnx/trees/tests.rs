//! Tree ensembles built here as protobuf nodes: routing, aggregation, the
//! classifier's outputs, and the graphs that must be refused.

use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
    tensor_proto::DataType as PbType, tensor_shape_proto::Dimension, tensor_shape_proto::dimension, type_proto,
};

use super::TreeModel;
use crate::onnx::graph;
use crate::{InferError, Model, Tensor, TensorData};

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: v.to_vec(), ..Default::default() }
}

fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto { name: name.into(), floats: v.to_vec(), ..Default::default() }
}

fn text(name: &str, v: &str) -> AttributeProto {
    AttributeProto { name: name.into(), s: v.as_bytes().to_vec(), ..Default::default() }
}

fn strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

/// Tree 0: `x0 <= 0.5` (NaN goes yes) ? leaf 1 : (`x1 < 2` ? leaf 3 : leaf 4).
/// Tree 1: `x1 > 1` ? leaf 1 : leaf 2.
fn forest(op: &str) -> NodeProto {
    let attribute = vec![
        ints("nodes_treeids", &[0, 0, 0, 0, 0, 1, 1, 1]),
        ints("nodes_nodeids", &[0, 1, 2, 3, 4, 0, 1, 2]),
        ints("nodes_featureids", &[0, 0, 1, 0, 0, 1, 0, 0]),
        floats("nodes_values", &[0.5, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
        strings("nodes_modes", &["BRANCH_LEQ", "LEAF", "BRANCH_LT", "LEAF", "LEAF", "BRANCH_GT", "LEAF", "LEAF"]),
        ints("nodes_truenodeids", &[1, 0, 3, 0, 0, 1, 0, 0]),
        ints("nodes_falsenodeids", &[2, 0, 4, 0, 0, 2, 0, 0]),
        ints("nodes_missing_value_tracks_true", &[1, 0, 0, 0, 0, 0, 0, 0]),
    ];
    NodeProto {
        op_type: op.into(),
        domain: "ai.onnx.ml".into(),
        input: vec!["X".into()],
        output: if op == "TreeEnsembleClassifier" {
            vec!["label".into(), "probabilities".into()]
        } else {
            vec!["variable".into()]
        },
        attribute,
        ..Default::default()
    }
}

/// Leaves 1, 3, 4 of tree 0 and 1, 2 of tree 1 vote `weights` for `ids`.
fn votes(node: &mut NodeProto, prefix: &str, ids: &[i64], weights: &[f32]) {
    node.attribute.push(ints(&format!("{prefix}_treeids"), &[0, 0, 0, 1, 1]));
    node.attribute.push(ints(&format!("{prefix}_nodeids"), &[1, 3, 4, 1, 2]));
    node.attribute.push(ints(&format!("{prefix}_ids"), ids));
    node.attribute.push(floats(&format!("{prefix}_weights"), weights));
}

fn value(name: &str, elem: PbType, width: Option<i64>) -> ValueInfoProto {
    let mut dim = vec![Dimension { value: Some(dimension::Value::DimParam("N".into())), ..Default::default() }];
    dim.extend(width.map(|w| Dimension { value: Some(dimension::Value::DimValue(w)), ..Default::default() }));
    let tensor = type_proto::Tensor { elem_type: elem as i32, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

fn load(node: NodeProto, columns: i64) -> Result<Option<TreeModel>, InferError> {
    let output = node.output.iter().map(|o| value(o, PbType::Float, None)).collect();
    let graph = GraphProto {
        node: vec![node],
        input: vec![value("X", PbType::Float, Some(columns))],
        output,
        ..Default::default()
    };
    let opset = OperatorSetIdProto { domain: "ai.onnx.ml".into(), version: 1 };
    let proto = ModelProto { ir_version: 8, opset_import: vec![opset], graph: Some(graph), ..Default::default() };
    TreeModel::try_new(&graph::prepare(proto)?)
}

const ROWS: [[f32; 2]; 5] = [[0.0, 0.0], [1.0, 1.5], [1.0, 3.0], [f32::NAN, 0.0], [1.0, f32::NAN]];

fn run(model: &TreeModel) -> Vec<Tensor> {
    let x = Tensor::f32("X", vec![ROWS.len(), 2], ROWS.concat());
    model.predict(&[x]).unwrap()
}

fn floats_of(t: &Tensor) -> &[f32] {
    let TensorData::F32(v) = &t.data else { panic!("{t:?}") };
    v
}

#[test]
fn regressor_aggregates_like_onnxruntime() {
    // Leaves reached per row: tree 0 (1, 3 or 4) and tree 1 (10 or 20).
    let cases: &[(&str, &[f32], [f32; 5])] = &[
        ("SUM", &[], [21.0, 12.0, 13.0, 21.0, 23.0]),
        ("SUM", &[100.0], [121.0, 112.0, 113.0, 121.0, 123.0]),
        ("AVERAGE", &[], [10.5, 6.0, 6.5, 10.5, 11.5]),
        ("AVERAGE", &[1.0], [11.5, 7.0, 7.5, 11.5, 12.5]),
        ("MIN", &[], [1.0, 2.0, 3.0, 1.0, 3.0]),
        ("MAX", &[0.5], [20.5, 10.5, 10.5, 20.5, 20.5]),
    ];
    for (aggregate, base, want) in cases {
        let mut node = forest("TreeEnsembleRegressor");
        votes(&mut node, "target", &[0; 5], &[1.0, 2.0, 3.0, 10.0, 20.0]);
        node.attribute.push(text("aggregate_function", aggregate));
        node.attribute.push(floats("base_values", base));
        let model = load(node, 2).unwrap().unwrap();
        assert_eq!(model.outputs()[0].shape, vec![-1, 1]);
        let out = run(&model);
        assert_eq!(out[0].shape, vec![5, 1]);
        assert_eq!(floats_of(&out[0]), want, "{aggregate} {base:?}");
    }
}

#[test]
fn classifier_labels_and_probabilities() {
    // Three classes, SOFTMAX: the label is the class with the highest sum.
    let mut node = forest("TreeEnsembleClassifier");
    votes(&mut node, "class", &[0, 1, 2, 2, 0], &[1.0, 1.0, 1.0, 1.0, 1.0]);
    node.attribute.push(ints("classlabels_int64s", &[10, 20, 30]));
    node.attribute.push(text("post_transform", "SOFTMAX"));
    let out = run(&load(node, 2).unwrap().unwrap());
    // Ties go to the first class, as in onnxruntime.
    assert_eq!(out[0].data, TensorData::Int(vec![10, 20, 30, 10, 10]));
    let p = floats_of(&out[1]);
    assert_eq!(out[1].shape, vec![5, 3]);
    let e2 = 2f32.exp();
    assert!((p[0] - e2 / (e2 + 2.0)).abs() < 1e-6, "{p:?}");

    // Two classes, every vote for one class, probabilities: [1 - p, p].
    let mut node = forest("TreeEnsembleClassifier");
    votes(&mut node, "class", &[0; 5], &[0.1, 0.2, 0.3, 0.2, 0.4]);
    node.attribute.push(ints("classlabels_int64s", &[0, 1]));
    let out = run(&load(node, 2).unwrap().unwrap());
    assert_eq!(out[0].data, TensorData::Int(vec![0, 0, 0, 0, 1]));
    let p = floats_of(&out[1]);
    assert!((p[0] - 0.5).abs() < 1e-6 && (p[1] - 0.5).abs() < 1e-6 && (p[9] - 0.7).abs() < 1e-6, "{p:?}");

    // Two classes, margins and LOGISTIC (gradient boosting): [σ(-s), σ(s)].
    let mut node = forest("TreeEnsembleClassifier");
    votes(&mut node, "class", &[0; 5], &[-1.0, 0.5, 1.0, -0.5, 0.25]);
    node.attribute.push(ints("classlabels_int64s", &[0, 1]));
    node.attribute.push(floats("base_values", &[0.1]));
    node.attribute.push(text("post_transform", "LOGISTIC"));
    let out = run(&load(node, 2).unwrap().unwrap());
    assert_eq!(out[0].data, TensorData::Int(vec![0, 1, 1, 0, 1]));
    let s = 0.25f32 - 1.0 + 0.1; // row 0: leaves -1.0 and 0.25
    let p = floats_of(&out[1]);
    assert!((p[1] - 1.0 / (1.0 + (-s).exp())).abs() < 1e-6 && (p[0] + p[1] - 1.0).abs() < 1e-6, "{p:?}");
}

#[test]
fn bad_input_width() {
    let mut node = forest("TreeEnsembleRegressor");
    votes(&mut node, "target", &[0; 5], &[1.0; 5]);
    let model = load(node, -1).unwrap().unwrap();
    assert_eq!(model.inputs()[0].shape, vec![-1, -1]);
    assert!(model.predict(&[Tensor::f32("X", vec![2, 3], vec![0.0; 6])]).is_ok());
    match model.predict(&[Tensor::f32("X", vec![1, 1], vec![0.0])]) {
        Err(InferError::BadInput(msg)) => assert!(msg.contains("at least 2"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refused_ensembles() {
    let with = |op: &str, edit: &dyn Fn(&mut NodeProto)| {
        let mut node = forest(op);
        votes(&mut node, if op == "TreeEnsembleClassifier" { "class" } else { "target" }, &[0; 5], &[1.0; 5]);
        if op == "TreeEnsembleClassifier" {
            node.attribute.push(ints("classlabels_int64s", &[0, 1]));
        }
        edit(&mut node);
        node
    };
    let set = |name: &'static str, attr: AttributeProto| {
        move |n: &mut NodeProto| {
            n.attribute.retain(|a| a.name != name);
            n.attribute.push(attr.clone());
        }
    };
    let cases: Vec<(NodeProto, i64, &str)> = vec![
        (
            with(
                "TreeEnsembleRegressor",
                &set("nodes_truenodeids", ints("nodes_truenodeids", &[2, 0, 0, 0, 0, 1, 0, 0])),
            ),
            2,
            "InvalidModel: tree ensemble: a tree loops",
        ),
        (
            with(
                "TreeEnsembleRegressor",
                &set("nodes_falsenodeids", ints("nodes_falsenodeids", &[9, 0, 4, 0, 0, 2, 0, 0])),
            ),
            2,
            "InvalidModel: tree ensemble: tree 0 node 0: no child node 9",
        ),
        (
            with("TreeEnsembleRegressor", &set("nodes_nodeids", ints("nodes_nodeids", &[0, 1, 2, 3, 4, 0, 1, 1]))),
            2,
            "InvalidModel: tree ensemble: node 1 of tree 1 appears twice",
        ),
        (
            with("TreeEnsembleRegressor", &set("target_ids", ints("target_ids", &[0, 0, 3, 0, 0]))),
            2,
            "InvalidModel: tree ensemble: vote for target 3",
        ),
        (
            with(
                "TreeEnsembleRegressor",
                &set("n_targets", AttributeProto { name: "n_targets".into(), i: 1 << 40, ..Default::default() }),
            ),
            2,
            "InvalidModel: tree ensemble: n_targets 1099511627776 but only 5 target weights",
        ),
        (
            with("TreeEnsembleRegressor", &|_| {}),
            1,
            "InvalidModel: the trees read feature 1 but the input has 1 columns",
        ),
        (
            with("TreeEnsembleRegressor", &set("post_transform", text("post_transform", "LOGISTIC"))),
            2,
            "Unsupported: ONNX ai.onnx.ml.TreeEnsembleRegressor with post_transform LOGISTIC",
        ),
        (
            with("TreeEnsembleClassifier", &set("post_transform", text("post_transform", "PROBIT"))),
            2,
            "Unsupported: ONNX ai.onnx.ml.TreeEnsembleClassifier with post_transform PROBIT",
        ),
        (
            with("TreeEnsembleClassifier", &set("classlabels_strings", strings("classlabels_strings", &["a", "b"]))),
            2,
            "Unsupported: ONNX ai.onnx.ml.TreeEnsembleClassifier with string class labels",
        ),
        (
            with(
                "TreeEnsembleRegressor",
                &set(
                    "nodes_values_as_tensor",
                    AttributeProto { name: "nodes_values_as_tensor".into(), ..Default::default() },
                ),
            ),
            2,
            "Unsupported: ONNX ai.onnx.ml.TreeEnsembleRegressor with nodes_values_as_tensor",
        ),
        (
            with("TreeEnsembleRegressor", &set("nodes_modes", strings("nodes_modes", &["BRANCH_MEMBER"; 8]))),
            2,
            "Unsupported: ONNX ai.onnx.ml.TreeEnsembleRegressor with node mode BRANCH_MEMBER",
        ),
    ];
    for (node, columns, want) in cases {
        let got = match load(node, columns) {
            Ok(Some(_)) => "loaded".to_string(),
            Ok(None) => "not a tree graph".to_string(),
            Err(InferError::Unsupported(m)) => format!("Unsupported: {m}"),
            Err(InferError::InvalidModel(m)) => format!("InvalidModel: {m}"),
            Err(e) => format!("{e:?}"),
        };
        assert!(got.starts_with(want), "want {want}\n got {got}");
    }
}
