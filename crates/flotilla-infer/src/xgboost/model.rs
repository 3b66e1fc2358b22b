//! Reads the model document `Booster.save_model` writes (the same tree in
//! JSON and UBJSON) into plain per-tree arrays, checking what the evaluator
//! relies on: the booster kind, `learner_model_param`, the objective, and
//! array lengths.

use super::objective::Objective;
use super::value::Value;
use crate::InferError;

/// A booster as the document describes it, before flattening.
#[derive(Debug)]
pub(crate) struct Booster {
    pub(crate) objective: Objective,
    pub(crate) num_feature: usize,
    /// Output groups: classes for multi-class objectives, targets otherwise.
    pub(crate) num_groups: usize,
    /// The starting margin of each group (`base_score` through the link).
    pub(crate) base_margins: Vec<f32>,
    pub(crate) trees: Vec<RawTree>,
}

/// One tree in XGBoost's own node numbering; leaf values sit in `conditions`.
#[derive(Debug, Default)]
pub(crate) struct RawTree {
    pub(crate) left: Vec<i64>,
    pub(crate) right: Vec<i64>,
    pub(crate) features: Vec<i64>,
    pub(crate) conditions: Vec<f32>,
    pub(crate) default_left: Vec<i64>,
    /// For each categorical split node, by node id: (node id, the categories that go right).
    pub(crate) categorical: Vec<(usize, Vec<i64>)>,
    /// The output group the tree adds to (`tree_info`).
    pub(crate) group: usize,
    /// DART's weight for the tree; 1 for gbtree.
    pub(crate) weight: f32,
}

fn invalid(msg: impl Into<String>) -> InferError {
    InferError::InvalidModel(msg.into())
}

fn field<'a>(v: &'a Value, path: &str, key: &str) -> Result<&'a Value, InferError> {
    v.get(key).ok_or_else(|| invalid(format!("XGBoost model has no '{path}.{key}'")))
}

fn count(v: &Value, what: &str) -> Result<usize, InferError> {
    v.as_i64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid(format!("XGBoost '{what}' is not a non-negative integer")))
}

/// `base_score` is "5E-1" before 3.0, "[5E-1]" or "[a,b,c]" (one per output) since.
fn base_scores(v: &Value) -> Result<Vec<f32>, InferError> {
    let bad = || invalid("XGBoost 'base_score' is not a number or a list of numbers");
    if let Some(s) = v.as_str() {
        let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
        return inner.split(',').map(|x| x.trim().parse::<f32>().map_err(|_| bad())).collect();
    }
    if let Some(x) = v.as_f64() {
        return Ok(vec![x as f32]);
    }
    v.to_f32s().ok_or_else(bad)
}

impl Booster {
    pub(crate) fn from_document(doc: &Value) -> Result<Self, InferError> {
        let learner =
            doc.get("learner").ok_or_else(|| invalid("no 'learner' object: not an XGBoost model document"))?;
        let params = field(learner, "learner", "learner_model_param")?;
        let objective_name = field(learner, "learner", "objective")?
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("XGBoost model has no 'learner.objective.name'"))?;
        let objective = Objective::from_name(objective_name)?;
        let num_feature = count(field(params, "learner_model_param", "num_feature")?, "num_feature")?;
        if num_feature == 0 || num_feature >= super::forest::MAX_FEATURES {
            return Err(invalid(format!("XGBoost 'num_feature' {num_feature} is out of range")));
        }
        let num_class = params.get("num_class").map(|v| count(v, "num_class")).transpose()?.unwrap_or(0);
        let num_target = params.get("num_target").map(|v| count(v, "num_target")).transpose()?.unwrap_or(1);
        let num_groups = if objective.is_multiclass() { num_class } else { num_target.max(1) };
        if num_groups == 0 || num_groups > 1 << 16 {
            return Err(invalid(format!("XGBoost '{objective_name}' model with {num_groups} outputs (num_class)")));
        }
        let scores = base_scores(field(params, "learner_model_param", "base_score")?)?;
        let base_margins = match scores.len() {
            1 => vec![objective.base_margin(scores[0])?; num_groups],
            n if n == num_groups => scores.iter().map(|s| objective.base_margin(*s)).collect::<Result<_, _>>()?,
            n => return Err(invalid(format!("XGBoost 'base_score' has {n} values for {num_groups} outputs"))),
        };
        let trees = read_booster(field(learner, "learner", "gradient_booster")?, num_groups)?;
        Ok(Self { objective, num_feature, num_groups, base_margins, trees })
    }
}

/// The trees of a `gbtree` or `dart` booster, with DART's weights applied.
fn read_booster(booster: &Value, num_groups: usize) -> Result<Vec<RawTree>, InferError> {
    let name = field(booster, "gradient_booster", "name")?.as_str().unwrap_or_default();
    let (model, weights) = match name {
        "gbtree" => (field(booster, "gradient_booster", "model")?, None),
        "dart" => {
            let inner = field(field(booster, "gradient_booster", "gbtree")?, "gradient_booster.gbtree", "model")?;
            let weights = field(booster, "gradient_booster", "weight_drop")?
                .to_f32s()
                .ok_or_else(|| invalid("XGBoost DART 'weight_drop' is not a list of numbers"))?;
            (inner, Some(weights))
        }
        "gblinear" => {
            return Err(InferError::Unsupported(
                "XGBoost linear boosters (gblinear) are not supported; train with booster='gbtree' or 'dart'".into(),
            ));
        }
        other => return Err(InferError::Unsupported(format!("XGBoost booster '{other}' is not supported"))),
    };
    let trees = field(model, "model", "trees")?.as_array().ok_or_else(|| invalid("XGBoost 'trees' is not a list"))?;
    let info = field(model, "model", "tree_info")?
        .to_i64s()
        .ok_or_else(|| invalid("XGBoost 'tree_info' is not a list of integers"))?;
    if info.len() != trees.len() {
        return Err(invalid(format!("XGBoost model has {} trees but {} tree_info entries", trees.len(), info.len())));
    }
    if let Some(w) = weights.as_ref().filter(|w| w.len() != trees.len()) {
        return Err(invalid(format!(
            "XGBoost DART model has {} trees but {} weight_drop entries",
            trees.len(),
            w.len()
        )));
    }
    trees
        .iter()
        .zip(&info)
        .enumerate()
        .map(|(i, (tree, group))| {
            let group = usize::try_from(*group)
                .ok()
                .filter(|g| *g < num_groups)
                .ok_or_else(|| invalid(format!("XGBoost tree {i} adds to output {group} of {num_groups}")))?;
            let weight = weights.as_ref().and_then(|w| w.get(i).copied()).unwrap_or(1.0);
            read_tree(tree, i, group, weight)
        })
        .collect()
}

fn read_tree(tree: &Value, index: usize, group: usize, weight: f32) -> Result<RawTree, InferError> {
    let path = format!("trees[{index}]");
    if let Some(param) = tree.get("tree_param") {
        let leaf_size = param.get("size_leaf_vector").map(|v| count(v, "size_leaf_vector")).transpose()?.unwrap_or(1);
        if leaf_size > 1 {
            return Err(InferError::Unsupported(
                "XGBoost trees with vector leaves (multi_strategy='multi_output_tree') are not supported; \
                 train with the default multi_strategy='one_output_per_tree'"
                    .into(),
            ));
        }
    }
    let ints = |key: &str| -> Result<Vec<i64>, InferError> {
        field(tree, &path, key)?
            .to_i64s()
            .ok_or_else(|| invalid(format!("XGBoost '{path}.{key}' is not a list of integers")))
    };
    let left = ints("left_children")?;
    let right = ints("right_children")?;
    let features = ints("split_indices")?;
    let default_left = ints("default_left")?;
    let conditions = field(tree, &path, "split_conditions")?
        .to_f32s()
        .ok_or_else(|| invalid(format!("XGBoost '{path}.split_conditions' is not a list of numbers")))?;
    let n = left.len();
    if n == 0 || [right.len(), features.len(), default_left.len(), conditions.len()].iter().any(|len| *len != n) {
        return Err(invalid(format!("XGBoost '{path}' has node arrays of different lengths (or none)")));
    }
    let split_type = match tree.get("split_type") {
        Some(v) => v.to_i64s().ok_or_else(|| invalid(format!("XGBoost '{path}.split_type' is not a list")))?,
        None => Vec::new(),
    };
    let categorical =
        if split_type.iter().any(|t| *t != 0) { read_categories(tree, &path, &split_type, n)? } else { Vec::new() };
    Ok(RawTree { left, right, features, conditions, default_left, categorical, group, weight })
}

/// The category sets of categorical splits (`split_type` 1): node ids in
/// `categories_nodes`, each set a slice of `categories`.
fn read_categories(
    tree: &Value,
    path: &str,
    split_type: &[i64],
    n: usize,
) -> Result<Vec<(usize, Vec<i64>)>, InferError> {
    if split_type.len() != n || split_type.iter().any(|t| *t != 0 && *t != 1) {
        return Err(invalid(format!("XGBoost '{path}.split_type' must hold 0 (numeric) or 1 (categorical) per node")));
    }
    let ints = |key: &str| -> Result<Vec<i64>, InferError> {
        field(tree, path, key)?
            .to_i64s()
            .ok_or_else(|| invalid(format!("XGBoost '{path}.{key}' is not a list of integers")))
    };
    let (nodes, segments, sizes, categories) =
        (ints("categories_nodes")?, ints("categories_segments")?, ints("categories_sizes")?, ints("categories")?);
    if segments.len() != nodes.len() || sizes.len() != nodes.len() {
        return Err(invalid(format!("XGBoost '{path}' categories_* arrays differ in length")));
    }
    let mut out = Vec::with_capacity(nodes.len());
    for ((node, start), size) in nodes.iter().zip(&segments).zip(&sizes) {
        let node = usize::try_from(*node).ok().filter(|id| *id < n && split_type[*id] == 1);
        let range = usize::try_from(*start)
            .ok()
            .zip(usize::try_from(*size).ok())
            .and_then(|(s, len)| categories.get(s..s.checked_add(len)?));
        match (node, range) {
            (Some(node), Some(cats)) => out.push((node, cats.to_vec())),
            (None, _) | (_, None) => {
                return Err(invalid(format!("XGBoost '{path}' has a bad categorical split entry")));
            }
        }
    }
    out.sort_unstable_by_key(|(node, _)| *node);
    let distinct = out.windows(2).all(|w| w[0].0 != w[1].0);
    if !distinct || split_type.iter().filter(|t| **t == 1).count() != out.len() {
        return Err(invalid(format!("XGBoost '{path}' has categorical splits without categories")));
    }
    Ok(out)
}
