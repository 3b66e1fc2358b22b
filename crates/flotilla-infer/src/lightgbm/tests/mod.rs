//! Unit tests on hand-written models: decision rules and objectives
//! ([`semantics`]), malformed files ([`malformed`]), and parsing arbitrary or
//! mutated text without panicking ([`fuzz`]).

mod fuzz;
mod malformed;
mod semantics;

use crate::{InferError, Model, Tensor, TensorData};

/// Four features; feature 3 is categorical. Tree 0 has one split of each
/// missing type, tree 1 a categorical split on {1, 3, 33}, tree 2 one leaf.
/// The trailer after `end of trees` is what LightGBM and pandas add.
pub(super) const TINY: &str = "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=3
objective=regression
feature_names=a b c d
feature_infos=[0:3] [0:1] [-2:2] 0:1:2:3
tree_sizes=400 300 100

Tree=0
num_leaves=4
num_cat=0
split_feature=0 1 2
split_gain=10 5 2
threshold=1.5 0.5 -1
decision_type=10 4 2
left_child=1 -1 -3
right_child=2 -2 -4
leaf_value=1 2 3 4
leaf_weight=1 1 1 1
leaf_count=1 1 1 1
internal_value=0 0 0
internal_weight=0 0 0
internal_count=4 2 2
is_linear=0
shrinkage=1


Tree=1
num_leaves=2
num_cat=1
split_feature=3
split_gain=1
threshold=0
decision_type=1
left_child=-1
right_child=-2
leaf_value=10 20
leaf_weight=1 1
leaf_count=1 1
internal_value=0
internal_weight=0
internal_count=2
cat_boundaries=0 2
cat_threshold=10 2
is_linear=0
shrinkage=0.1


Tree=2
num_leaves=1
num_cat=0
split_feature=
split_gain=
threshold=
decision_type=
left_child=
right_child=
leaf_value=100
leaf_weight=
leaf_count=
internal_value=
internal_weight=
internal_count=
is_linear=0
shrinkage=1


end of trees

feature_importances:
a=1
b=1

parameters:
[boosting: gbdt]
[objective: regression]
end of parameters

pandas_categorical:null
";

/// `TINY` with one piece of text replaced (which must occur).
pub(super) fn tiny_with(from: &str, to: &str) -> String {
    assert!(TINY.contains(from), "{from:?} is not in TINY");
    TINY.replacen(from, to, 1)
}

pub(super) fn load(text: &str) -> Result<Box<dyn Model>, InferError> {
    super::load(text.as_bytes())
}

/// Runs a model on rows of f64 and returns `(predict, label)`.
pub(super) fn run(model: &dyn Model, width: usize, rows: &[f64]) -> (Vec<f64>, Option<Vec<i64>>) {
    let input = Tensor::f64("input", vec![rows.len() / width, width], rows.to_vec());
    let out = model.predict(&[input]).expect("predict");
    let TensorData::F64(predict) = &out[0].data else { panic!("predict is {:?}", out[0]) };
    let label = out.get(1).map(|t| {
        let TensorData::Int(label) = &t.data else { panic!("label is {t:?}") };
        label.clone()
    });
    (predict.clone(), label)
}
