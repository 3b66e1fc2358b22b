//! What hand-written models compute: LightGBM's missing-value and categorical
//! rules, the objective transforms, labels, shapes and size accounting.

use super::{TINY, load, run, tiny_with};
use crate::{DataType, InferError, Tensor, TensorSpec};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// Rows of TINY and the sum of its three trees, with why.
const TINY_CASES: &[([f64; 4], f64, &str)] = &[
    ([1.0, 0.2, 0.0, 1.0], 111.0, "left, left; category 1 is in the set"),
    ([NAN, 0.7, 0.0, 3.0], 112.0, "NaN on a NaN-missing split takes default left"),
    ([1.0, 0.0, 0.0, 2.0], 122.0, "zero on a zero-missing split takes default right; 2 not in set"),
    ([1.0, NAN, 0.0, 33.0], 112.0, "NaN on a zero-missing split is zero; 33 is in the second word"),
    ([1.0, 1e-36, 0.0, 0.0], 122.0, "|x| <= 1e-35 is zero; category 0 is not in the set"),
    ([1.0, -1e-36, 0.0, 0.0], 122.0, "negative tiny is zero too"),
    ([1.0, 1e-30, 0.0, 0.0], 121.0, "1e-30 is not zero"),
    ([1.0, -0.3, 0.0, NAN], 121.0, "categorical NaN goes right"),
    ([1.5, 0.5, 0.0, 1.7], 111.0, "x == threshold goes left; 1.7 truncates to category 1"),
    ([2.0, 0.0, -1.0, 64.0], 123.0, "category beyond the bitset goes right"),
    ([2.0, 0.0, NAN, -0.5], 124.0, "NaN on a None split is 0.0, default_left ignored; -0.5 truncates to 0"),
    ([2.0, 0.0, -2.0, -1.0], 123.0, "negative category goes right"),
    ([INF, 0.0, -2.0, 3.0], 113.0, "+inf goes right"),
    ([-INF, 0.7, 0.0, 1e10], 122.0, "-inf goes left; a category past i32 goes right"),
    ([2.0, 0.0, -1.0000001, 35.0], 123.0, "35 is not in the set"),
];

fn tiny_rows() -> Vec<f64> {
    TINY_CASES.iter().flat_map(|(row, _, _)| row.iter().copied()).collect()
}

#[test]
fn decision_rules() {
    let model = load(TINY).unwrap();
    let (got, label) = run(model.as_ref(), 4, &tiny_rows());
    assert_eq!(label, None);
    for ((row, want, why), got) in TINY_CASES.iter().zip(&got) {
        assert_eq!(got, want, "{row:?}: {why}");
    }
}

/// TINY's trees `times` over, so that trees are walked side by side
/// ([`crate::lightgbm::tree::Forest::add_outputs`]) and one by one.
fn tiny_repeated(times: usize) -> String {
    let (start, end) = (TINY.find("Tree=0").unwrap(), TINY.find("end of trees").unwrap());
    let blocks: Vec<&str> = TINY[start..end].split("Tree=").skip(1).map(|b| b.split_once('\n').unwrap().1).collect();
    let mut text = TINY[..start].to_string();
    for i in 0..times * blocks.len() {
        text += &format!("Tree={i}\n{}", blocks[i % blocks.len()]);
    }
    text + &TINY[end..]
}

#[test]
fn decision_rules_in_every_lane() {
    for times in [2, 3, 5] {
        let model = load(&tiny_repeated(times)).unwrap();
        let (got, _) = run(model.as_ref(), 4, &tiny_rows());
        for ((row, want, why), got) in TINY_CASES.iter().zip(&got) {
            assert_eq!(*got, want * times as f64, "{times}× {row:?}: {why}");
        }
    }
}

#[test]
fn fp32_input_gives_the_same_answers() {
    let model = load(TINY).unwrap();
    let rows: Vec<f32> = tiny_rows().iter().map(|x| *x as f32).collect();
    let out = model.predict(&[Tensor::f32("input", vec![TINY_CASES.len(), 4], rows)]).unwrap();
    let want: Vec<f64> = TINY_CASES.iter().map(|c| c.1).collect();
    // -1.0000001 rounds to -1.0 in f32, which is <= the threshold: leaf 3 → 3.
    assert_eq!(out[0], Tensor::f64("predict", vec![TINY_CASES.len()], want));
}

#[test]
fn binary_probability_and_label() {
    let model = load(
        &tiny_with("leaf_value=100", "leaf_value=-115").replace("objective=regression", "objective=binary sigmoid:0.5"),
    )
    .unwrap();
    let (got, label) = run(model.as_ref(), 4, &tiny_rows());
    for (((_, sum, why), got), label) in TINY_CASES.iter().zip(&got).zip(label.unwrap()) {
        let p = 1.0 / (1.0 + (-0.5 * (sum - 215.0)).exp());
        assert!((got - p).abs() < 1e-15, "{why}: {got} vs {p}");
        assert_eq!(label, i64::from(p > 0.5), "{why}");
    }
}

/// A model of single-leaf trees, `values` in file order.
fn stumps(header: &str, values: &[f64]) -> String {
    let mut text = format!("tree\nversion=v4\n{header}\nmax_feature_idx=1\n\n");
    for (i, v) in values.iter().enumerate() {
        text += &format!("Tree={i}\nnum_leaves=1\nnum_cat=0\nleaf_value={v}\nshrinkage=1\n\n\n");
    }
    text + "end of trees\n"
}

#[test]
fn objectives() {
    let cases: &[(&str, f64, f64, Option<i64>)] = &[
        ("regression", 2.0, 2.0, None),
        ("regression sqrt", -3.0, -9.0, None),
        ("regression_l1 sqrt", 3.0, 9.0, None),
        ("huber", 2.0, 2.0, None),
        ("quantile", -2.0, -2.0, None),
        ("poisson", 1.0, std::f64::consts::E, None),
        ("gamma", 0.0, 1.0, None),
        ("tweedie", 2f64.ln(), 2.0, None),
        ("binary sigmoid:1", 0.0, 0.5, Some(0)),
        ("binary sigmoid:2", 1.0, 1.0 / (1.0 + (-2f64).exp()), Some(1)),
        ("cross_entropy", 0.0, 0.5, None),
        ("cross_entropy_lambda", 0.0, 2f64.ln(), None),
        ("lambdarank", 5.0, 5.0, None),
        ("rank_xendcg", 5.0, 5.0, None),
        ("custom", -5.0, -5.0, None),
    ];
    for (objective, raw, want, want_label) in cases {
        let model = load(&stumps(&format!("num_class=1\nobjective={objective}"), &[*raw])).unwrap();
        let (got, label) = run(model.as_ref(), 2, &[0.0, 0.0]);
        assert!((got[0] - want).abs() < 1e-12, "{objective}: {got:?} vs {want}");
        assert_eq!(label.map(|l| l[0]), *want_label, "{objective}");
    }
    let model = load(&stumps("num_class=1", &[-7.0])).unwrap();
    assert_eq!(run(model.as_ref(), 2, &[0.0, 0.0]).0, [-7.0], "no objective line is the raw score");
}

#[test]
fn multiclass_sums_per_class_then_softmax() {
    // Two iterations of three classes: class c scores values[c] + values[3 + c].
    let values = [1.0, 0.5, -1.0, 0.5, 1.0, 2.0];
    let model =
        load(&stumps("num_class=3\nnum_tree_per_iteration=3\nobjective=multiclass num_class:3", &values)).unwrap();
    assert_eq!(model.outputs()[0], TensorSpec::new("predict", DataType::Fp64, vec![-1, 3]));
    assert_eq!(model.outputs()[1], TensorSpec::new("label", DataType::Int64, vec![-1]));
    let (got, label) = run(model.as_ref(), 2, &[0.0, 0.0, 1.0, 1.0]);
    let raw = [1.5f64, 1.5, 1.0];
    let sum: f64 = raw.iter().map(|x| (x - 1.5).exp()).sum();
    for (i, g) in got.iter().enumerate() {
        assert!((g - (raw[i % 3] - 1.5).exp() / sum).abs() < 1e-15, "{got:?}");
    }
    assert_eq!(label.unwrap(), [0, 0], "ties go to the first class");

    let ova = load(&stumps("num_class=3\nobjective=multiclassova num_class:3 sigmoid:1", &values)).unwrap();
    let (got, label) = run(ova.as_ref(), 2, &[0.0, 0.0]);
    let want: Vec<f64> = raw.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
    assert_eq!(got, want);
    assert_eq!(label.unwrap(), [0]);
}

#[test]
fn random_forest_averages_over_iterations() {
    let model = load(&stumps("num_class=1\nobjective=regression\naverage_output", &[1.0, 2.0, 6.0])).unwrap();
    assert_eq!(run(model.as_ref(), 2, &[0.0, 0.0]).0, [3.0]);
}

#[test]
fn linear_tree_leaves() {
    let text = tiny_with(
        "is_linear=0\nshrinkage=1\n",
        "is_linear=1\nleaf_const=0.5 0 0 0\nnum_features=2 0 1 0\nleaf_features=1 2  0  \nleaf_coeff=2 -1  10  \nshrinkage=1\n",
    );
    let model = load(&text).unwrap();
    // Leaf 0: 0.5 + 2·f1 - f2; leaf 2: 10·f0; NaN among them: the plain leaf value.
    let rows = [1.0, 0.25, 3.0, 1.0, 1.0, 0.25, NAN, 1.0, 2.0, 0.0, -2.0, 1.0];
    let (got, _) = run(model.as_ref(), 4, &rows);
    assert_eq!(got, [0.5 + 0.5 - 3.0 + 110.0, 1.0 + 110.0, 20.0 + 110.0]);
}

#[test]
fn specs_and_inputs() {
    let model = load(TINY).unwrap();
    assert_eq!(model.platform(), "lightgbm");
    assert_eq!(model.inputs(), [TensorSpec::new("input", DataType::Fp32, vec![-1, 4])]);
    assert_eq!(model.outputs(), [TensorSpec::new("predict", DataType::Fp64, vec![-1])]);

    let one_row = model.predict(&[Tensor::f64("input", vec![4], vec![1.0, 0.2, 0.0, 1.0])]).unwrap();
    assert_eq!(one_row[0], Tensor::f64("predict", vec![1], vec![111.0]));
    let empty = model.predict(&[Tensor::f64("input", vec![0, 4], vec![])]).unwrap();
    assert_eq!(empty[0], Tensor::f64("predict", vec![0], vec![]));

    let bad: &[(Vec<Tensor>, &str)] = &[
        (vec![], "no input"),
        (vec![Tensor::f64("input", vec![1, 3], vec![0.0; 3])], "3 features per row"),
        (vec![Tensor::f64("input", vec![1, 5], vec![0.0; 5])], "trained on 4"),
        (vec![Tensor::f64("input", vec![2, 4], vec![0.0; 4])], "elements"),
    ];
    for (inputs, fragment) in bad {
        match model.predict(inputs) {
            Err(InferError::BadInput(m)) => assert!(m.contains(fragment), "{m}"),
            other => panic!("{fragment}: {other:?}"),
        }
    }
}

#[test]
fn size_counts_what_is_held() {
    let small = load(TINY).unwrap().size_bytes();
    // 3 trees, 4 nodes, 7 leaves and 2 bitset words, at least.
    assert!(small >= 3 * 16 + 4 * 32 + 7 * 8 + 2 * 4, "{small}");
    assert!(small < 2048, "{small}");
    let one = load(&stumps("num_class=1", &[1.0])).unwrap().size_bytes();
    let ten = load(&stumps("num_class=1", &[1.0; 10])).unwrap().size_bytes();
    assert!(ten >= one + 9 * (16 + 8), "{one} -> {ten}");
}
