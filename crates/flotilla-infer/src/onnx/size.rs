//! Memory a planned tract model holds: its weights, byte for byte, plus a fixed
//! cost per node for the graph around them.
//!
//! Weights live in two places once tract has optimized a graph: `Const` nodes,
//! and matrix products that baked a constant operand into their op, packed
//! into panels (padded to the kernel's tile, so a little more than the raw
//! matrix). Both are counted. Small tables some ops keep (class labels of a
//! `DirectLookup`) fall under the per-node cost.

use tract_onnx::prelude::{Tensor as TractTensor, ToDim, TypedModel, TypedNode};
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::matmul::optimized::{MatMulOperand, OptMatMul, ProtoFusedSpec};

/// What a planned model holds besides weights, measured with a counting
/// allocator as the live bytes after a load, less the weights counted here,
/// over the skl2onnx fixtures (linear and logistic regression, normalizer
/// pipeline, MLPs, a hand-built network: 6 to 20 nodes). A least-squares line
/// through them gives about 4 KiB per model (plan, symbol scope, properties,
/// specs) and 2 KiB per node (name, boxed op, facts, edges, plan lists); this
/// estimate stays within 11% of every measured model.
pub(crate) const MODEL_OVERHEAD: usize = 4096;
pub(crate) const NODE_OVERHEAD: usize = 2048;

pub(crate) fn of_model(model: &TypedModel) -> usize {
    let weights: usize = model.nodes().iter().map(node_weights).sum();
    weights + MODEL_OVERHEAD + model.nodes().len() * NODE_OVERHEAD
}

fn node_weights(node: &TypedNode) -> usize {
    if let Some(k) = node.op_as::<Const>() {
        return tensor_bytes(k.val())
            .unwrap_or_else(|| node.outputs.iter().filter_map(|o| o.fact.mem_size().to_usize().ok()).sum());
    }
    let Some(mm) = node.op_as::<OptMatMul>() else { return 0 };
    let mut bytes = 0;
    for spec in &mm.micro_ops {
        if let ProtoFusedSpec::AddMatMul { a, b, .. } = spec {
            for operand in [a, b] {
                if let MatMulOperand::Const(value) = operand {
                    let size = value.format().mem_size(value.k().to_dim(), value.mn().to_dim());
                    bytes += size.to_usize().unwrap_or(0);
                }
            }
        }
    }
    bytes
}

/// A plain tensor's bytes; `None` for packed or device storage.
fn tensor_bytes(t: &TractTensor) -> Option<usize> {
    t.as_plain_ram_storage().map(|_| t.len() * t.datum_type().size_of())
}
