//! `HistGradientBoosting*`'s trees (`TreePredictor.nodes`, a structured
//! array) walked on raw `float64` values with `num_threshold`, as
//! scikit-learn's `predict` does (the binned thresholds serve training
//! only). A NaN goes where `missing_go_to_left` says. Categorical splits
//! (bitsets) are refused, named.

use std::mem::size_of;

use super::boosting::Boosted;
use super::{invalid, n_features_in, unsupported};
use crate::InferError;
use crate::pyvalue::{Object, Value};

#[derive(Debug, Clone, Copy)]
struct Node {
    value: f64,
    threshold: f64,
    feature: u32,
    /// `[right, left]`: indexed by the comparison, no branch.
    children: [u32; 2],
    leaf: bool,
    missing_left: bool,
}

/// One `TreePredictor`.
#[derive(Debug)]
pub struct HistTree {
    nodes: Vec<Node>,
}

impl HistTree {
    fn read(o: &Object, n_features: usize) -> Result<Self, InferError> {
        let nodes = o.need("nodes")?.as_array()?;
        let count = nodes.len();
        let is_leaf = nodes.field_i64("is_leaf")?;
        if nodes.field_i64("is_categorical").is_ok_and(|c| c.iter().zip(&is_leaf).any(|(c, l)| *c != 0 && *l == 0)) {
            return Err(unsupported(o, "categorical splits"));
        }
        let (value, threshold) = (nodes.field_f64("value")?, nodes.field_f64("num_threshold")?);
        let (feature, left, right) =
            (nodes.field_i64("feature_idx")?, nodes.field_i64("left")?, nodes.field_i64("right")?);
        let missing = nodes.field_i64("missing_go_to_left")?;
        if count == 0 {
            return Err(invalid("a histogram tree has no nodes"));
        }
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let leaf = is_leaf[i] != 0;
            let child = |c: i64| u32::try_from(c).ok().filter(|c| (*c as usize) > i && (*c as usize) < count);
            let (l, r, f) = if leaf {
                (0, 0, 0)
            } else {
                let (Some(l), Some(r)) = (child(left[i]), child(right[i])) else {
                    return Err(invalid(format_args!(
                        "histogram tree node {i} has children {} and {} of {count}",
                        left[i], right[i]
                    )));
                };
                let f = u32::try_from(feature[i]).ok().filter(|f| (*f as usize) < n_features).ok_or_else(|| {
                    invalid(format_args!("histogram tree node {i} splits on feature {} of {n_features}", feature[i]))
                })?;
                (l, r, f)
            };
            out.push(Node {
                value: value[i],
                threshold: threshold[i],
                feature: f,
                children: [r, l],
                leaf,
                missing_left: missing[i] != 0,
            });
        }
        Ok(Self { nodes: out })
    }

    /// The leaf value a row falls in.
    pub fn value(&self, row: &[f64]) -> f64 {
        let mut i = 0usize;
        loop {
            let node = &self.nodes[i];
            if node.leaf {
                return node.value;
            }
            let x = row[node.feature as usize];
            // NaN compares false, so it goes left only where `missing_go_to_left` says.
            let left = (x <= node.threshold) | (x.is_nan() & node.missing_left);
            i = node.children[usize::from(left)] as usize;
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>()
    }
}

/// Reads a fitted `HistGradientBoosting{Regressor,Classifier}`.
pub fn histogram(o: &Object) -> Result<Boosted, InferError> {
    let n_features = n_features_in(o)?.ok_or_else(|| invalid("histogram gradient boosting has no n_features_in_"))?;
    if o.attr("_preprocessor").is_some_and(|v| !v.is_none()) {
        return Err(unsupported(o, "categorical_features (a fitted _preprocessor)"));
    }
    if let Some(Value::Array(cats)) = o.attr("is_categorical_")
        && cats.to_f64()?.iter().any(|c| *c != 0.0)
    {
        return Err(unsupported(o, "categorical_features"));
    }
    let baseline = o.need("_baseline_prediction")?.to_f64s()?;
    let stages = o
        .need("_predictors")?
        .as_list()?
        .iter()
        .map(|iteration| {
            iteration
                .as_list()?
                .iter()
                .map(|p| HistTree::read(p.as_object()?, n_features))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Boosted::new_hist(n_features, baseline, stages, o)
}
