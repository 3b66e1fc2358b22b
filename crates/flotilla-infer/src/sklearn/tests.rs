//! Estimators built from hand-made value trees: what each refuses (named),
//! what a request gets wrong, and a tree whose children point backwards.
//! Agreement with scikit-learn itself is `tests/sklearn_reference.rs`.

use std::sync::Arc;

use super::load_value;
use crate::pyvalue::{Array, ArrayData, DType, Field, Object, Value};
use crate::{InferError, Tensor};

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn obj(class: &str, attrs: Vec<(&str, Value)>) -> Value {
    let state = Value::Dict(attrs.into_iter().map(|(k, v)| (s(k), v)).collect());
    Value::Object(Box::new(Object { class: class.into(), args: Vec::new(), state }))
}

fn array(shape: Vec<usize>, values: Vec<f64>) -> Value {
    let dtype = DType::parse("<f8").unwrap();
    Value::Array(Arc::new(Array { shape, data: ArrayData::Numeric { dtype, values } }))
}

fn scaler(n: usize) -> Value {
    obj(
        "sklearn.preprocessing._data.StandardScaler",
        vec![
            ("n_features_in_", Value::Int(n as i64)),
            ("mean_", array(vec![n], vec![1.0; n])),
            ("scale_", array(vec![n], vec![2.0; n])),
        ],
    )
}

fn linreg(n: usize) -> Value {
    obj(
        "sklearn.linear_model._base.LinearRegression",
        vec![("coef_", array(vec![n], (1..=n).map(|i| i as f64).collect())), ("intercept_", Value::Float(0.5))],
    )
}

fn pipeline(steps: Vec<Value>) -> Value {
    let steps = steps.into_iter().enumerate().map(|(i, st)| Value::List(vec![s(&format!("s{i}")), st])).collect();
    obj("sklearn.pipeline.Pipeline", vec![("steps", Value::List(steps))])
}

/// A `Tree` with nodes `(left, right, feature, threshold)` and one value each.
fn tree(nodes: &[(i64, i64, i64, f64)], values: Vec<f64>) -> Value {
    let field = |name: &str, d: &str, offset| Field { name: name.into(), dtype: DType::parse(d).unwrap(), offset };
    let dtype = DType {
        kind: 'V',
        size: 32,
        big_endian: false,
        fields: vec![
            field("left_child", "<i8", 0),
            field("right_child", "<i8", 8),
            field("feature", "<i8", 16),
            field("threshold", "<f8", 24),
        ],
    };
    let mut bytes = Vec::new();
    for (l, r, f, t) in nodes {
        [l.to_le_bytes(), r.to_le_bytes(), f.to_le_bytes(), t.to_le_bytes()]
            .iter()
            .for_each(|b| bytes.extend_from_slice(b));
    }
    let nodes = Array::from_bytes(dtype, vec![nodes.len()], &bytes, false).unwrap();
    let state = Value::Dict(vec![
        (s("nodes"), Value::Array(Arc::new(nodes))),
        (s("values"), array(vec![values.len(), 1, 1], values)),
    ]);
    let tree = Value::Object(Box::new(Object { class: "sklearn.tree._tree.Tree".into(), args: Vec::new(), state }));
    obj("sklearn.tree._classes.DecisionTreeRegressor", vec![("n_features_in_", Value::Int(2)), ("tree_", tree)])
}

fn error(value: &Value) -> String {
    match load_value(value) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

fn predict(value: &Value, rows: usize, cols: usize, x: Vec<f64>) -> Result<Vec<Tensor>, InferError> {
    load_value(value)?.predict(&[Tensor::f64("input", vec![rows, cols], x)])
}

#[test]
fn a_pipeline_and_a_tree_predict() {
    let out = predict(&pipeline(vec![scaler(2), linreg(2)]), 1, 2, vec![3.0, 5.0]).unwrap();
    // ((3-1)/2)*1 + ((5-1)/2)*2 + 0.5
    assert_eq!(out[0].data, crate::TensorData::F64(vec![5.5]));
    let t = tree(&[(1, 2, 0, 0.5), (-1, -1, -2, -2.0), (-1, -1, -2, -2.0)], vec![0.0, 10.0, 20.0]);
    let out = predict(&t, 3, 2, vec![0.0, 0.0, 1.0, 0.0, f64::NAN, 0.0]).unwrap();
    assert_eq!(
        out[0].data,
        crate::TensorData::F64(vec![10.0, 20.0, 20.0]),
        "NaN goes right without missing_go_to_left"
    );
}

#[test]
fn unsupported_options_are_named() {
    let imputer = |extra: Vec<(&str, Value)>| {
        let mut attrs = vec![("statistics_", array(vec![2], vec![0.0, 1.0])), ("n_features_in_", Value::Int(2))];
        attrs.extend(extra);
        obj("sklearn.impute._base.SimpleImputer", attrs)
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            pipeline(vec![imputer(vec![("add_indicator", Value::Bool(true))]), linreg(2)]),
            "SimpleImputer fitted with add_indicator=True",
        ),
        (
            pipeline(vec![
                obj(
                    "sklearn.preprocessing._encoders.OneHotEncoder",
                    vec![("categories_", Value::List(vec![Value::List(vec![s("a"), s("b")])]))],
                ),
                linreg(2),
            ]),
            "string categories",
        ),
        (
            obj(
                "sklearn.linear_model._stochastic_gradient.SGDClassifier",
                vec![
                    ("coef_", array(vec![1, 2], vec![1.0, 1.0])),
                    ("classes_", array(vec![2], vec![0.0, 1.0])),
                    ("loss", s("my_loss")),
                ],
            ),
            "SGDClassifier fitted with loss='my_loss'",
        ),
        (
            obj(
                "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
                vec![("n_features_in_", Value::Int(2)), ("is_categorical_", array(vec![2], vec![0.0, 1.0]))],
            ),
            "fitted with categorical_features",
        ),
        (
            pipeline(vec![
                obj(
                    "sklearn.compose._column_transformer.ColumnTransformer",
                    vec![
                        ("n_features_in_", Value::Int(2)),
                        (
                            "transformers_",
                            Value::List(vec![Value::List(vec![
                                s("x"),
                                s("passthrough"),
                                Value::List(vec![s("price")]),
                            ])]),
                        ),
                    ],
                ),
                linreg(1),
            ]),
            "selects column 'price' by name",
        ),
        (obj("sklearn.svm._classes.SVC", vec![]), "estimator SVC"),
        (
            obj(
                "sklearn.tree._classes.DecisionTreeRegressor",
                vec![("n_features_in_", Value::Int(2)), ("n_outputs_", Value::Int(3))],
            ),
            "n_outputs_=3",
        ),
    ];
    for (value, want) in cases {
        let e = error(&value);
        assert!(e.contains(want), "want '{want}': {e}");
    }
}

#[test]
fn broken_trees_and_versions_are_named() {
    // A child before its parent would loop: refused.
    let cycle = tree(&[(1, 2, 0, 0.5), (0, 2, 0, 0.5), (-1, -1, -2, -2.0)], vec![0.0; 3]);
    assert!(error(&cycle).contains("tree node 1 has children 0 and 2"));
    let far = tree(&[(1, 2, 7, 0.5), (-1, -1, -2, -2.0), (-1, -1, -2, -2.0)], vec![0.0; 3]);
    assert!(error(&far).contains("splits on feature 7 of 2"));
    // A file from another scikit-learn version whose structure differs says so.
    let Value::Object(mut old) = obj("sklearn.linear_model._base.LinearRegression", vec![]) else { unreachable!() };
    old.state = Value::Dict(vec![(s("_sklearn_version"), s("0.24.2"))]);
    let e = error(&Value::Object(old));
    assert!(e.contains("no attribute 'coef_'") && e.contains("scikit-learn 0.24.2") && e.contains("1.9.1"), "{e}");
}

#[test]
fn bad_requests_are_bad_input() {
    let model = pipeline(vec![scaler(2), linreg(2)]);
    let e = predict(&model, 1, 3, vec![0.0; 3]).unwrap_err();
    assert!(matches!(&e, InferError::BadInput(m) if m.contains("takes 2 features")), "{e}");
    let encoder = obj(
        "sklearn.preprocessing._encoders.OneHotEncoder",
        vec![("categories_", Value::List(vec![array(vec![2], vec![1.0, 2.0])])), ("handle_unknown", s("error"))],
    );
    let model = pipeline(vec![encoder, linreg(2)]);
    assert_eq!(predict(&model, 1, 1, vec![2.0]).unwrap()[0].data, crate::TensorData::F64(vec![2.5]));
    let e = predict(&model, 1, 1, vec![3.0]).unwrap_err();
    assert!(matches!(&e, InferError::BadInput(m) if m.contains("category unknown")), "{e}");
}
