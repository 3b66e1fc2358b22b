//! scikit-learn's `Tree` (the `tree_` of every decision tree) and the
//! estimators made of them: decision trees, random forests and extra trees.
//!
//! As scikit-learn does, a row is cast to `float32` before it meets the
//! (`float64`) thresholds; a NaN goes where `missing_go_to_left` says.
//! Children are checked to come after their parent (scikit-learn builds
//! depth first), so every walk ends.

use std::mem::size_of;

use super::labels::argmax;
use super::{Classify, Labels, Matrix, Regress, Scores, check_width, invalid, n_features_in, unsupported};
use crate::InferError;
use crate::pyvalue::{Object, Value};

const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    /// [`LEAF`] for a leaf.
    feature: u32,
    left: u32,
    right: u32,
    missing_left: bool,
}

/// One fitted `sklearn.tree._tree.Tree`.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    /// `node_count × n_outputs × max_n_classes`.
    values: Vec<f64>,
    /// Values per node (`n_outputs × max_n_classes`).
    width: usize,
}

impl Tree {
    /// Reads a `Tree` object (`tree_`) fitted on `n_features` columns.
    pub fn read(value: &Value, n_features: usize) -> Result<Self, InferError> {
        let o = value.as_object()?;
        let nodes = o.need("nodes")?.as_array()?;
        let count = nodes.len();
        let left = nodes.field_i64("left_child")?;
        let right = nodes.field_i64("right_child")?;
        let feature = nodes.field_i64("feature")?;
        let threshold = nodes.field_f64("threshold")?;
        // Files from before scikit-learn 1.3 have no missing-value routing: NaN goes right.
        let missing = nodes.field_i64("missing_go_to_left").unwrap_or_else(|_| vec![0; count]);
        let values = o.need("values")?.as_array()?;
        let width = values.len().checked_div(count).unwrap_or(0);
        if count == 0 || width == 0 || values.len() != count * width {
            return Err(invalid(format_args!("tree of {count} nodes has {} values", values.len())));
        }
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let node = if left[i] == -1 {
                Node { threshold: 0.0, feature: LEAF, left: 0, right: 0, missing_left: false }
            } else {
                let child = |c: i64| u32::try_from(c).ok().filter(|c| (*c as usize) > i && (*c as usize) < count);
                let (Some(l), Some(r)) = (child(left[i]), child(right[i])) else {
                    return Err(invalid(format_args!(
                        "tree node {i} has children {} and {} of {count}",
                        left[i], right[i]
                    )));
                };
                let f = usize::try_from(feature[i]).ok().filter(|f| *f < n_features).ok_or_else(|| {
                    invalid(format_args!("tree node {i} splits on feature {} of {n_features}", feature[i]))
                })?;
                Node { threshold: threshold[i], feature: f as u32, left: l, right: r, missing_left: missing[i] != 0 }
            };
            out.push(node);
        }
        Ok(Self { nodes: out, values: values.to_f64()?, width })
    }

    /// The values of the leaf a row (already `float32`) falls in.
    pub fn leaf_values(&self, row: &[f32]) -> &[f64] {
        let mut i = 0usize;
        loop {
            let node = &self.nodes[i];
            if node.feature == LEAF {
                return &self.values[i * self.width..(i + 1) * self.width];
            }
            let x = row[node.feature as usize];
            let left = if x.is_nan() { node.missing_left } else { f64::from(x) <= node.threshold };
            i = if left { node.left } else { node.right } as usize;
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>() + self.values.capacity() * size_of::<f64>()
    }
}

/// The batch cast to `float32`, as scikit-learn's trees read it.
pub fn as_f32(x: &Matrix) -> Vec<f32> {
    x.data.iter().map(|v| *v as f32).collect()
}

/// The trees of a forest, or the one tree of a decision tree.
#[derive(Debug)]
struct Trees {
    trees: Vec<Tree>,
    n_features: usize,
}

impl Trees {
    fn read(o: &Object) -> Result<Self, InferError> {
        let n_features =
            n_features_in(o)?.ok_or_else(|| invalid(format_args!("{} has no n_features_in_", o.short_class())))?;
        let outputs = o.attr("n_outputs_").map(Value::as_usize).transpose()?.unwrap_or(1);
        if outputs != 1 {
            return Err(unsupported(o, format_args!("n_outputs_={outputs} (multi-output)")));
        }
        let trees = match o.attr("estimators_") {
            Some(list) => list
                .as_list()?
                .iter()
                .map(|e| Tree::read(e.as_object()?.need("tree_")?, n_features))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![Tree::read(o.need("tree_")?, n_features)?],
        };
        if trees.is_empty() {
            return Err(invalid(format_args!("{} has no trees", o.short_class())));
        }
        Ok(Self { trees, n_features })
    }

    fn heap_bytes(&self) -> usize {
        self.trees.capacity() * size_of::<Tree>() + self.trees.iter().map(Tree::heap_bytes).sum::<usize>()
    }
}

/// `DecisionTreeRegressor`, `RandomForestRegressor`, `ExtraTreesRegressor`.
#[derive(Debug)]
pub struct Regressor(Trees);

impl Regressor {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        Ok(Self(Trees::read(o)?))
    }
}

impl Regress for Regressor {
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>, InferError> {
        check_width(x, self.0.n_features, "the tree model")?;
        let rows = as_f32(x);
        let mut out = vec![0.0; x.rows];
        // Tree by tree over the batch (the tree stays in cache), each row's
        // sum still in tree order, as scikit-learn adds them.
        for tree in &self.0.trees {
            for (o, row) in out.iter_mut().zip(rows.chunks_exact(x.cols.max(1))) {
                *o += tree.leaf_values(row)[0];
            }
        }
        if self.0.trees.len() > 1 {
            let n = self.0.trees.len() as f64;
            out.iter_mut().for_each(|o| *o /= n);
        }
        Ok(out)
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.0.n_features)
    }

    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

/// `DecisionTreeClassifier`, `RandomForestClassifier`, `ExtraTreesClassifier`.
#[derive(Debug)]
pub struct Classifier {
    trees: Trees,
    labels: Labels,
}

impl Classifier {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        let trees = Trees::read(o)?;
        let labels = Labels::read(o.need("classes_")?)?;
        if trees.trees.iter().any(|t| t.width < labels.len()) {
            return Err(invalid(format_args!("a tree has fewer values per node than the {} classes", labels.len())));
        }
        Ok(Self { trees, labels })
    }
}

impl Classify for Classifier {
    fn classify(&self, x: &Matrix) -> Result<Scores, InferError> {
        check_width(x, self.trees.n_features, "the tree model")?;
        let k = self.labels.len();
        let rows = as_f32(x);
        let mut proba = vec![0.0; crate::tensor::output_len(x.rows, k)?];
        let n = self.trees.trees.len() as f64;
        for tree in &self.trees.trees {
            for (row, out) in rows.chunks_exact(x.cols.max(1)).zip(proba.chunks_exact_mut(k)) {
                let values = &tree.leaf_values(row)[..k];
                let sum: f64 = values.iter().sum();
                let norm = if sum == 0.0 { 1.0 } else { sum };
                out.iter_mut().zip(values).for_each(|(o, v)| *o += v / norm);
            }
        }
        if self.trees.trees.len() > 1 {
            proba.iter_mut().for_each(|o| *o /= n);
        }
        let label = proba.chunks_exact(k).map(argmax).collect();
        Ok(Scores { proba: Some(proba), label })
    }

    fn classes(&self) -> &Labels {
        &self.labels
    }

    fn has_proba(&self) -> bool {
        true
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.trees.n_features)
    }

    fn heap_bytes(&self) -> usize {
        self.trees.heap_bytes() + self.labels.heap_bytes()
    }
}
