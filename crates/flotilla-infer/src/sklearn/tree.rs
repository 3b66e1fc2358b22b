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

/// Rows walked through a tree together: their loads overlap, and a step is
/// a select rather than a branch to mispredict.
const LANES: usize = 8;

/// A leaf points to itself (`left == right ==` its index, feature 0), so a
/// walk that takes one more step stays where it is.
#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    feature: u32,
    /// `[right, left]`: indexed by the comparison, no branch.
    children: [u32; 2],
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
    /// The deepest leaf's depth: the steps every row takes.
    depth: usize,
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
        if count == 0 || width == 0 || values.len() != count * width || n_features == 0 {
            return Err(invalid(format_args!(
                "tree of {count} nodes has {} values over {n_features} features",
                values.len()
            )));
        }
        let mut out = Vec::with_capacity(count);
        let mut depths = vec![0usize; count];
        for i in 0..count {
            let node = if left[i] == -1 {
                Node { threshold: 0.0, feature: 0, children: [i as u32; 2], missing_left: false }
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
                depths[l as usize] = depths[i] + 1;
                depths[r as usize] = depths[i] + 1;
                Node { threshold: threshold[i], feature: f as u32, children: [r, l], missing_left: missing[i] != 0 }
            };
            out.push(node);
        }
        let depth = depths.into_iter().max().unwrap_or(0);
        Ok(Self { nodes: out, values: values.to_f64()?, width, depth })
    }

    /// One step from node `i` for value `x` (a leaf stays).
    fn step(&self, i: usize, x: f32) -> usize {
        let node = &self.nodes[i];
        // NaN compares false, so it goes left only where `missing_go_to_left` says.
        let left = (f64::from(x) <= node.threshold) | (x.is_nan() & node.missing_left);
        node.children[usize::from(left)] as usize
    }

    /// The values of the leaf a row (already `float32`) falls in.
    pub fn leaf_values(&self, row: &[f32]) -> &[f64] {
        let mut i = 0usize;
        while self.nodes[i].children[0] as usize != i {
            i = self.step(i, row[self.nodes[i].feature as usize]);
        }
        &self.values[i * self.width..(i + 1) * self.width]
    }

    /// Adds each row's leaf values to its `width` outputs: rows `cols` wide,
    /// walked [`LANES`] at a time until all of them stand on leaves (at most
    /// `depth` steps).
    pub fn add_leaf_values(&self, rows: &[f32], cols: usize, out: &mut [f64]) {
        let w = self.width;
        for (block, out) in rows.chunks(cols * LANES).zip(out.chunks_mut(w * LANES)) {
            let n = block.len() / cols;
            let mut at = [0usize; LANES];
            for _ in 0..self.depth {
                let mut moved = false;
                for (j, i) in at.iter_mut().enumerate().take(n) {
                    let next = self.step(*i, block[j * cols + self.nodes[*i].feature as usize]);
                    moved |= next != *i;
                    *i = next;
                }
                if !moved {
                    break;
                }
            }
            for (i, out) in at.iter().zip(out.chunks_exact_mut(w)) {
                out.iter_mut().zip(&self.values[i * w..(i + 1) * w]).for_each(|(o, v)| *o += v);
            }
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>() + self.values.capacity() * size_of::<f64>()
    }

    /// Keeps each node's first `k` values divided by their sum (a sum of 0
    /// divides by 1), what `DecisionTreeClassifier.predict_proba` computes per
    /// row: done once here, the same divisions, so a row only adds.
    fn normalize_classes(&mut self, k: usize) {
        let mut values = Vec::with_capacity(self.nodes.len() * k);
        for node in self.values.chunks_exact(self.width) {
            let sum: f64 = node[..k].iter().sum();
            let norm = if sum == 0.0 { 1.0 } else { sum };
            values.extend(node[..k].iter().map(|v| v / norm));
        }
        self.values = values;
        self.width = k;
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
            tree.add_leaf_values(&rows, x.cols, &mut out);
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
        let mut trees = Trees::read(o)?;
        let labels = Labels::read(o.need("classes_")?)?;
        if trees.trees.iter().any(|t| t.width < labels.len()) {
            return Err(invalid(format_args!("a tree has fewer values per node than the {} classes", labels.len())));
        }
        trees.trees.iter_mut().for_each(|t| t.normalize_classes(labels.len()));
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
            tree.add_leaf_values(&rows, x.cols, &mut proba);
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
