//! An `ai.onnx.ml` TreeEnsembleRegressor or TreeEnsembleClassifier node read
//! from its attributes into flat, checked trees.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{AttributeProto, NodeProto};

use crate::InferError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub mode: Mode,
    pub feature: usize,
    pub threshold: f32,
    pub missing_goes_true: bool,
    pub yes: usize,
    pub no: usize,
    /// `weights[start..end]`: the leaf's votes.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Regressor {
        aggregate: Aggregate,
    },
    /// onnxruntime's two-class special case: every vote is for one class.
    Classifier {
        labels: Vec<i64>,
        binary: bool,
        all_positive: bool,
    },
}

#[derive(Debug)]
pub(crate) struct Ensemble {
    pub kind: Kind,
    pub nodes: Vec<Node>,
    pub roots: Vec<usize>,
    /// `(target or class, weight)` votes, grouped by leaf.
    pub weights: Vec<(usize, f32)>,
    pub base_values: Vec<f32>,
    pub post: PostTransform,
    /// Targets (regressor) or classes (classifier).
    pub width: usize,
    /// One more than the highest feature any split reads.
    pub features: usize,
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn ints<'a>(node: &'a NodeProto, name: &str) -> &'a [i64] {
    attr(node, name).map(|a| a.ints.as_slice()).unwrap_or_default()
}

fn floats<'a>(node: &'a NodeProto, name: &str) -> &'a [f32] {
    attr(node, name).map(|a| a.floats.as_slice()).unwrap_or_default()
}

fn string(node: &NodeProto, name: &str, default: &str) -> String {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned()).unwrap_or_else(|| default.to_string())
}

fn invalid(msg: impl std::fmt::Display) -> InferError {
    InferError::InvalidModel(format!("tree ensemble: {msg}"))
}

fn unsupported(op: &str, what: impl std::fmt::Display) -> InferError {
    InferError::Unsupported(format!("ONNX ai.onnx.ml.{op} with {what} is not supported"))
}

fn index(v: i64, what: &str) -> Result<usize, InferError> {
    usize::try_from(v).map_err(|_| invalid(format!("negative {what} {v}")))
}

impl Ensemble {
    pub(crate) fn parse(node: &NodeProto) -> Result<Self, InferError> {
        let op = node.op_type.as_str();
        for name in
            ["nodes_values_as_tensor", "base_values_as_tensor", "target_weights_as_tensor", "class_weights_as_tensor"]
        {
            if attr(node, name).is_some() {
                return Err(unsupported(op, format!("{name} (double thresholds or weights)")));
            }
        }
        let post = match string(node, "post_transform", "NONE").as_str() {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            other => return Err(unsupported(op, format!("post_transform {other}"))),
        };
        let (kind, prefix, width) = if op == "TreeEnsembleClassifier" {
            if attr(node, "classlabels_strings").is_some_and(|a| !a.strings.is_empty()) {
                return Err(unsupported(op, "string class labels"));
            }
            let labels = ints(node, "classlabels_int64s").to_vec();
            let ids: HashSet<i64> = ints(node, "class_ids").iter().copied().collect();
            let binary = labels.len() == 2 && ids.len() == 1;
            let all_positive = floats(node, "class_weights").iter().all(|w| *w >= 0.0);
            let width = labels.len();
            (Kind::Classifier { labels, binary, all_positive }, "class", width)
        } else {
            if post != PostTransform::None {
                return Err(unsupported(op, format!("post_transform {}", string(node, "post_transform", ""))));
            }
            let aggregate = match string(node, "aggregate_function", "SUM").as_str() {
                "SUM" => Aggregate::Sum,
                "AVERAGE" => Aggregate::Average,
                "MIN" => Aggregate::Min,
                "MAX" => Aggregate::Max,
                other => return Err(unsupported(op, format!("aggregate_function {other}"))),
            };
            let n_targets = attr(node, "n_targets").map(|a| a.i).unwrap_or(1);
            // A claimed count, unlike a classifier's labels: bounded by the
            // weights present (each target needs one) so a forged attribute
            // cannot size every answer.
            let n_targets = index(n_targets, "n_targets")?;
            let present = ints(node, "target_ids").len().max(1);
            if n_targets > present {
                return Err(invalid(format!("n_targets {n_targets} but only {present} target weights")));
            }
            (Kind::Regressor { aggregate }, "target", n_targets)
        };
        if width == 0 {
            return Err(invalid("no class labels or targets"));
        }
        let base_values = floats(node, "base_values").to_vec();
        let mut ensemble = Ensemble {
            kind,
            nodes: Vec::new(),
            roots: Vec::new(),
            weights: Vec::new(),
            base_values,
            post,
            width,
            features: 0,
        };
        let at = ensemble.read_nodes(node)?;
        ensemble.read_votes(node, prefix, &at)?;
        ensemble.check_acyclic()?;
        ensemble.nodes.shrink_to_fit();
        ensemble.roots.shrink_to_fit();
        ensemble.weights.shrink_to_fit();
        Ok(ensemble)
    }

    /// Reads the nodes; answers where each `(tree id, node id)` landed.
    fn read_nodes(&mut self, node: &NodeProto) -> Result<HashMap<(i64, i64), usize>, InferError> {
        let tree_ids = ints(node, "nodes_treeids");
        let node_ids = ints(node, "nodes_nodeids");
        let features = ints(node, "nodes_featureids");
        let values = floats(node, "nodes_values");
        let yes = ints(node, "nodes_truenodeids");
        let no = ints(node, "nodes_falsenodeids");
        let missing = ints(node, "nodes_missing_value_tracks_true");
        let modes = attr(node, "nodes_modes").map(|a| a.strings.as_slice()).unwrap_or_default();
        let n = tree_ids.len();
        if [node_ids.len(), features.len(), values.len(), yes.len(), no.len(), modes.len()].iter().any(|l| *l != n) {
            return Err(invalid("nodes_* attributes differ in length"));
        }
        let mut at: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
        for i in 0..n {
            if at.insert((tree_ids[i], node_ids[i]), i).is_some() {
                return Err(invalid(format!("node {} of tree {} appears twice", node_ids[i], tree_ids[i])));
            }
            // onnxruntime's rule: a tree starts where the tree id changes.
            if i == 0 || tree_ids[i] != tree_ids[i - 1] {
                self.roots.push(i);
            }
        }
        for i in 0..n {
            let mode = match modes[i].as_slice() {
                b"BRANCH_LEQ" => Mode::Leq,
                b"BRANCH_LT" => Mode::Lt,
                b"BRANCH_GTE" => Mode::Gte,
                b"BRANCH_GT" => Mode::Gt,
                b"BRANCH_EQ" => Mode::Eq,
                b"BRANCH_NEQ" => Mode::Neq,
                b"LEAF" => Mode::Leaf,
                other => {
                    return Err(unsupported(&node.op_type, format!("node mode {}", String::from_utf8_lossy(other))));
                }
            };
            let child = |id: i64| {
                at.get(&(tree_ids[i], id))
                    .copied()
                    .filter(|c| *c != i)
                    .ok_or_else(|| invalid(format!("tree {} node {}: no child node {id}", tree_ids[i], node_ids[i])))
            };
            let (yes, no, feature) = match mode {
                Mode::Leaf => (i, i, 0),
                Mode::Leq | Mode::Lt | Mode::Gte | Mode::Gt | Mode::Eq | Mode::Neq => {
                    (child(yes[i])?, child(no[i])?, index(features[i], "feature id")?)
                }
            };
            if mode != Mode::Leaf {
                self.features = self.features.max(feature + 1);
            }
            let missing_goes_true = missing.get(i).is_some_and(|m| *m == 1);
            let threshold = values[i];
            self.nodes.push(Node { mode, feature, threshold, missing_goes_true, yes, no, start: 0, end: 0 });
        }
        Ok(at)
    }

    /// Groups the `class_*` / `target_*` votes by node, in attribute order.
    fn read_votes(
        &mut self,
        node: &NodeProto,
        prefix: &str,
        at: &HashMap<(i64, i64), usize>,
    ) -> Result<(), InferError> {
        let tree_ids = ints(node, &format!("{prefix}_treeids"));
        let node_ids = ints(node, &format!("{prefix}_nodeids"));
        let ids = ints(node, &format!("{prefix}_ids"));
        let weights = floats(node, &format!("{prefix}_weights"));
        let n = ids.len();
        if [tree_ids.len(), node_ids.len(), weights.len()].iter().any(|l| *l != n) {
            return Err(invalid(format!("{prefix}_* attributes differ in length")));
        }
        let mut votes: Vec<Vec<(usize, f32)>> = vec![Vec::new(); self.nodes.len()];
        for i in 0..n {
            let Some(&leaf) = at.get(&(tree_ids[i], node_ids[i])) else {
                return Err(invalid(format!("vote for missing node {} of tree {}", node_ids[i], tree_ids[i])));
            };
            let id = index(ids[i], "class or target id")?;
            if id >= self.width {
                return Err(invalid(format!("vote for {prefix} {id}, but there are {}", self.width)));
            }
            votes[leaf].push((id, weights[i]));
        }
        for (node, votes) in self.nodes.iter_mut().zip(votes) {
            node.start = self.weights.len();
            self.weights.extend(votes);
            node.end = self.weights.len();
        }
        Ok(())
    }

    /// A cycle would make a walk loop forever.
    fn check_acyclic(&self) -> Result<(), InferError> {
        let mut state = vec![0u8; self.nodes.len()]; // 0 new, 1 on the path, 2 done
        for &root in &self.roots {
            let mut stack = vec![(root, false)];
            while let Some((i, leaving)) = stack.pop() {
                if leaving {
                    state[i] = 2;
                    continue;
                }
                match state[i] {
                    1 => return Err(invalid("a tree loops back on itself")),
                    2 => continue,
                    _ => {}
                }
                state[i] = 1;
                stack.push((i, true));
                let n = &self.nodes[i];
                if n.mode != Mode::Leaf {
                    stack.extend([(n.yes, false), (n.no, false)]);
                }
            }
        }
        Ok(())
    }

    /// Bytes held on the heap: nodes, votes, labels and base values.
    pub(crate) fn size_bytes(&self) -> usize {
        let labels = match &self.kind {
            Kind::Classifier { labels, .. } => labels.capacity() * size_of::<i64>(),
            Kind::Regressor { .. } => 0,
        };
        self.nodes.capacity() * size_of::<Node>()
            + self.roots.capacity() * size_of::<usize>()
            + self.weights.capacity() * size_of::<(usize, f32)>()
            + self.base_values.capacity() * size_of::<f32>()
            + labels
    }
}
