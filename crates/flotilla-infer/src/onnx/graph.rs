//! Reading the ONNX protobuf and the rewrites and checks done on it before an
//! engine sees it: ZipMap removal, unsupported operators, string tensors.

use std::collections::{BTreeSet, HashSet};

use tract_onnx::pb::{
    GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, tensor_proto::DataType as PbType,
};
use tract_onnx::prelude::Framework;

use crate::InferError;

const ML_DOMAIN: &str = "ai.onnx.ml";

/// A graph ready for an engine, with the names the model answers to.
pub(crate) struct Prepared {
    pub proto: ModelProto,
    /// Graph inputs that are not initializers, in declaration order.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

pub(crate) fn decode(bytes: &[u8]) -> Result<ModelProto, InferError> {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &*bytes)
        .map_err(|e| InferError::InvalidModel(format!("not an ONNX model: {e:#}")))
}

/// Drops ZipMap, refuses string tensors and checks the graph is wired.
pub(crate) fn prepare(mut proto: ModelProto) -> Result<Prepared, InferError> {
    let graph = match proto.graph.as_mut() {
        Some(g) if !g.output.is_empty() => g,
        Some(_) => return Err(InferError::InvalidModel("ONNX graph declares no outputs".into())),
        None => return Err(InferError::InvalidModel("ONNX model holds no graph".into())),
    };
    remove_zipmap(graph);
    check_wiring(graph)?;
    check_tensors(graph)?;
    check_constant_shapes(graph)?;
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<String> =
        graph.input.iter().filter(|i| !initializers.contains(i.name.as_str())).map(|i| i.name.clone()).collect();
    for value in graph.input.iter().filter(|i| !initializers.contains(i.name.as_str())) {
        refuse_strings(value, "input")?;
    }
    for value in &graph.output {
        refuse_strings(value, "output")?;
    }
    let outputs = graph.output.iter().map(|o| o.name.clone()).collect();
    Ok(Prepared { proto, inputs, outputs })
}

/// ZipMap turns the probability tensor into a list of maps, which neither tract
/// nor the V2 protocol carries: it becomes an Identity, so its output keeps its
/// name and holds the tensor. Its declared (sequence) type goes with it.
fn remove_zipmap(graph: &mut GraphProto) {
    let mut rewritten = Vec::new();
    for node in graph.node.iter_mut().filter(|n| n.op_type == "ZipMap" && n.domain == ML_DOMAIN) {
        node.op_type = "Identity".into();
        node.domain = String::new();
        node.attribute.clear();
        rewritten.extend(node.output.iter().cloned());
    }
    for output in graph.output.iter_mut().filter(|o| rewritten.contains(&o.name)) {
        output.r#type = None;
        output.doc_string = "class probabilities as a [rows, classes] tensor (ZipMap removed)".into();
    }
}

/// Names every operator of the graph tract has no implementation for.
pub(crate) fn refuse_unknown_operators(prepared: &Prepared) -> Result<(), InferError> {
    let Some(graph) = &prepared.proto.graph else { return Ok(()) };
    let known = tract_onnx::onnx().op_register;
    let mut missing = BTreeSet::new();
    let mut trees = false;
    visit_nodes(graph, &mut |node| {
        trees |= node.op_type.starts_with("TreeEnsemble");
        if !known.0.contains_key(&node.op_type) {
            missing.insert(qualified(node));
        }
    });
    let note = if trees {
        " (a tree ensemble runs natively when it is the whole graph, give or take Cast and Identity nodes)"
    } else {
        ""
    };
    let missing: Vec<String> = missing.into_iter().collect();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(InferError::Unsupported(format!("ONNX operator {one} is not supported{note}"))),
        many => Err(InferError::Unsupported(format!("ONNX operators {} are not supported{note}", many.join(", ")))),
    }
}

/// `ai.onnx.ml.Scaler`, `ai.onnx.Relu`: the name users find in the ONNX docs.
fn qualified(node: &NodeProto) -> String {
    let domain = if node.domain.is_empty() { "ai.onnx" } else { node.domain.as_str() };
    format!("{domain}.{}", node.op_type)
}

/// Every node, subgraphs (If, Loop, Scan bodies) included.
fn visit_nodes(graph: &GraphProto, f: &mut dyn FnMut(&NodeProto)) {
    for node in &graph.node {
        f(node);
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(attr.graphs.iter()) {
                visit_nodes(sub, f);
            }
        }
    }
}

/// Every stored tensor (initializers, tensor attributes, in subgraphs too)
/// must hold the elements its dims claim: tract sizes a tensor from its dims
/// before copying the data in, so a forged `dims` would be allocated as given.
fn check_tensors(graph: &GraphProto) -> Result<(), InferError> {
    let check = |t: &TensorProto| -> Result<(), InferError> {
        let mut claimed: u64 = 1;
        for d in &t.dims {
            let d = u64::try_from(*d).map_err(|_| {
                InferError::InvalidModel(format!("ONNX tensor '{}' has a negative dimension {d}", t.name))
            })?;
            claimed = claimed.saturating_mul(d);
        }
        // Every element takes at least one byte of raw data or one typed value.
        let present = t.raw_data.len()
            + t.float_data.len()
            + t.int32_data.len()
            + t.int64_data.len()
            + t.double_data.len()
            + t.uint64_data.len()
            + t.string_data.len();
        if claimed > present as u64 {
            return Err(InferError::InvalidModel(format!(
                "ONNX tensor '{}' has dims {:?} ({claimed} elements) but holds data for at most {present}",
                t.name, t.dims
            )));
        }
        Ok(())
    };
    graph.initializer.iter().try_for_each(check)?;
    for node in &graph.node {
        for attr in &node.attribute {
            attr.t.iter().chain(attr.tensors.iter()).try_for_each(check)?;
            attr.g.iter().chain(attr.graphs.iter()).try_for_each(check_tensors)?;
        }
    }
    Ok(())
}

/// Elements a tensor built from a constant shape may have: tract folds such
/// nodes at load, allocating what the shape says.
const MAX_CONSTANT_ELEMENTS: u64 = 1 << 26;

/// `ConstantOfShape`, `Expand` and `Tile` whose shape (or repeats) input is an
/// initializer: the product of its values, refused past
/// [`MAX_CONSTANT_ELEMENTS`] before tract builds the tensor.
fn check_constant_shapes(graph: &GraphProto) -> Result<(), InferError> {
    for node in &graph.node {
        let shape_input = match node.op_type.as_str() {
            "ConstantOfShape" => 0,
            "Expand" | "Tile" => 1,
            _ => continue,
        };
        let Some(name) = node.input.get(shape_input) else { continue };
        let Some(t) = graph.initializer.iter().find(|t| &t.name == name) else { continue };
        let values: Vec<i64> = if t.int64_data.is_empty() {
            t.raw_data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
        } else {
            t.int64_data.clone()
        };
        let mut elements: u64 = 1;
        for v in &values {
            let v = u64::try_from(*v).map_err(|_| {
                InferError::InvalidModel(format!("ONNX {} '{}' has a negative size {v}", node.op_type, node.name))
            })?;
            elements = elements.saturating_mul(v.max(1));
        }
        if elements > MAX_CONSTANT_ELEMENTS {
            return Err(InferError::InvalidModel(format!(
                "ONNX {} '{}' builds a tensor of {elements} elements from constant {values:?}; at most {MAX_CONSTANT_ELEMENTS} are allowed",
                node.op_type, node.name
            )));
        }
    }
    Ok(())
}

/// tract indexes outputs by name and panics on one nothing produces.
fn check_wiring(graph: &GraphProto) -> Result<(), InferError> {
    let mut produced: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    produced.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    produced.extend(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)));
    match graph.output.iter().find(|o| !produced.contains(o.name.as_str())) {
        Some(o) => Err(InferError::InvalidModel(format!("ONNX graph output '{}' is produced by no node", o.name))),
        None => Ok(()),
    }
}

fn refuse_strings(value: &ValueInfoProto, role: &str) -> Result<(), InferError> {
    let elem_type = value.r#type.as_ref().and_then(|t| t.value.as_ref()).map(|v| match v {
        tract_onnx::pb::type_proto::Value::TensorType(t) => t.elem_type,
    });
    if elem_type == Some(PbType::String as i32) {
        let why = if role == "output" { " (string class labels?); train with integer labels" } else { "" };
        return Err(InferError::Unsupported(format!(
            "ONNX {role} '{}' is a string tensor{why}: flotilla runs numeric ONNX tensors only",
            value.name
        )));
    }
    Ok(())
}
