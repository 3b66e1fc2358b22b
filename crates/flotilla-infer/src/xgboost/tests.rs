//! Tiny XGBoost models written by hand, in JSON and in UBJSON, with outputs
//! worked out on paper.

use serde_json::json;

use super::load;
use super::value::Value;
use crate::{InferError, Model, Tensor, TensorData};

/// A tree in XGBoost's arrays; nodes deliberately not in breadth-first order.
fn tree(left: &[i64], right: &[i64], feature: &[i64], cond: &[f32], default_left: &[i64]) -> serde_json::Value {
    json!({
        "tree_param": {"num_nodes": left.len().to_string(), "size_leaf_vector": "1", "num_feature": "2"},
        "left_children": left, "right_children": right, "split_indices": feature,
        "split_conditions": cond, "default_left": default_left, "split_type": vec![0; left.len()],
        "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
        "base_weights": vec![0.0; left.len()],
    })
}

/// x0 < 0.5 (missing: left) → 1.0; else x1 < 2 (missing: right) → -1.0, else 0.5.
fn two_level() -> serde_json::Value {
    tree(&[3, 2, -1, -1, -1], &[1, 4, -1, -1, -1], &[0, 1, 0, 0, 0], &[0.5, 2.0, -1.0, 1.0, 0.5], &[1, 0, 0, 0, 0])
}

fn leaf(value: f32) -> serde_json::Value {
    tree(&[-1], &[-1], &[0], &[value], &[0])
}

fn document(
    objective: &str,
    base_score: &str,
    num_class: u32,
    trees: Vec<serde_json::Value>,
    info: &[u32],
) -> serde_json::Value {
    json!({
        "learner": {
            "attributes": {}, "feature_names": [], "feature_types": [],
            "learner_model_param": {"base_score": base_score, "num_class": num_class.to_string(), "num_feature": "2", "num_target": "1"},
            "objective": {"name": objective},
            "gradient_booster": {"name": "gbtree", "model": {
                "gbtree_model_param": {"num_trees": trees.len().to_string(), "num_parallel_tree": "1"},
                "tree_info": info, "trees": trees,
            }},
        },
        "version": [3, 2, 0],
    })
}

/// A minimal UBJSON writer, the way XGBoost lays documents out.
fn ubjson(v: &serde_json::Value, out: &mut Vec<u8>) {
    let len = |n: usize, out: &mut Vec<u8>| {
        out.push(b'L');
        out.extend_from_slice(&(n as i64).to_be_bytes());
    };
    match v {
        serde_json::Value::Null => out.push(b'Z'),
        serde_json::Value::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => {
                out.push(b'L');
                out.extend_from_slice(&i.to_be_bytes());
            }
            None => {
                out.push(b'd');
                out.extend_from_slice(&(n.as_f64().unwrap_or_default() as f32).to_be_bytes());
            }
        },
        serde_json::Value::String(s) => {
            out.push(b'S');
            len(s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        serde_json::Value::Array(items) if !items.is_empty() && items.iter().all(|x| x.is_f64()) => {
            out.extend_from_slice(b"[$d#");
            len(items.len(), out);
            for x in items {
                out.extend_from_slice(&(x.as_f64().unwrap_or_default() as f32).to_be_bytes());
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() && items.iter().all(|x| x.is_i64()) => {
            out.extend_from_slice(b"[$l#");
            len(items.len(), out);
            for x in items {
                out.extend_from_slice(&(x.as_i64().unwrap_or_default() as i32).to_be_bytes());
            }
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            out.push(b'#');
            len(items.len(), out);
            items.iter().for_each(|x| ubjson(x, out));
        }
        serde_json::Value::Object(fields) => {
            out.push(b'{');
            for (k, x) in fields {
                len(k.len(), out);
                out.extend_from_slice(k.as_bytes());
                ubjson(x, out);
            }
            out.push(b'}');
        }
    }
}

/// Loads `doc` from both encodings and checks they agree.
fn load_both(doc: &serde_json::Value) -> Box<dyn Model> {
    let json_model = load(doc.to_string().as_bytes(), "json").unwrap();
    let mut bytes = Vec::new();
    ubjson(doc, &mut bytes);
    let ubj_model = load(&bytes, "ubj").unwrap();
    let rows = input(&[[0.2, 0.0], [0.7, 1.0], [f32::NAN, 3.0], [0.7, f32::NAN]]);
    assert_eq!(json_model.predict(std::slice::from_ref(&rows)).unwrap(), ubj_model.predict(&[rows]).unwrap());
    json_model
}

fn input(rows: &[[f32; 2]]) -> Tensor {
    Tensor::f32("input", vec![rows.len(), 2], rows.iter().flatten().copied().collect())
}

fn floats(t: &Tensor) -> &[f32] {
    let TensorData::F32(v) = &t.data else { panic!("expected FP32, got {:?}", t.data) };
    v
}

const ROWS: [[f32; 2]; 6] = [[0.2, 0.0], [0.7, 1.0], [0.7, 3.0], [f32::NAN, 3.0], [0.7, f32::NAN], [0.5, 0.0]];
/// The two-level tree's leaf for each of `ROWS`.
const LEAVES: [f32; 6] = [1.0, -1.0, 0.5, 1.0, 0.5, -1.0];

#[test]
fn regression_by_hand() {
    let model = load_both(&document("reg:squarederror", "[5E-1]", 0, vec![two_level(), leaf(0.25)], &[0, 0]));
    let out = model.predict(&[input(&ROWS)]).unwrap();
    let want: Vec<f32> = LEAVES.iter().map(|l| 0.5 + l + 0.25).collect();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].name.as_str(), out[0].shape.as_slice()), ("predict", [6].as_slice()));
    assert_eq!(floats(&out[0]), want.as_slice());
    assert_eq!(model.inputs()[0].shape, vec![-1, 2]);
    assert_eq!(model.platform(), "xgboost");
}

#[test]
fn logistic_with_label() {
    let model = load_both(&document("binary:logistic", "5E-1", 0, vec![two_level()], &[0]));
    let out = model.predict(&[input(&ROWS)]).unwrap();
    let want: Vec<f32> = LEAVES.iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect();
    for (got, want) in floats(&out[0]).iter().zip(&want) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    assert_eq!(out[1].data, TensorData::Int(vec![1, 0, 1, 1, 1, 0]));
    assert_eq!(model.outputs().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["predict", "label"]);
}

#[test]
fn multiclass_groups_by_tree_info() {
    let trees = vec![leaf(1.0), leaf(2.0), leaf(0.5), two_level()];
    let doc = document("multi:softprob", "[0E0,1E0,0E0]", 3, trees.clone(), &[0, 1, 2, 0]);
    let out = load_both(&doc).predict(&[input(&ROWS[..2])]).unwrap();
    // Row 0 margins: [1 + 1, 1 + 2, 0.5]; row 1: [1 - 1, 3, 0.5].
    let softmax = |m: [f32; 3]| {
        let s: f32 = m.iter().map(|x| x.exp()).sum();
        m.map(|x| x.exp() / s)
    };
    let want = [softmax([2.0, 3.0, 0.5]), softmax([0.0, 3.0, 0.5])].concat();
    assert_eq!(out[0].shape, [2, 3]);
    floats(&out[0]).iter().zip(&want).for_each(|(g, w)| assert!((g - w).abs() < 1e-6, "{g} vs {w}"));
    assert_eq!(out[1].data, TensorData::Int(vec![1, 1]));

    let softmax_doc = document("multi:softmax", "[5E-1]", 3, trees, &[0, 1, 2, 0]);
    // Margins [2.5, 2.5, 1] tie: the first wins, as in numpy; then [0.5, 2.5, 1].
    let out = load_both(&softmax_doc).predict(&[input(&[[0.2, 0.0], [0.7, 1.0]])]).unwrap();
    assert_eq!((out.len(), out[0].shape.as_slice(), floats(&out[0])), (1, [2].as_slice(), [0.0, 1.0].as_slice()));
}

#[test]
fn link_functions() {
    let cases: &[(&str, &str, f32)] = &[
        ("count:poisson", "[2E0]", 2.0 * 0.25f32.exp()),
        ("reg:logistic", "[5E-1]", 1.0 / (1.0 + (-0.25f32).exp())),
        ("binary:logitraw", "[5E-1]", 0.75),
        ("binary:hinge", "[0E0]", 1.0),
        ("reg:absoluteerror", "[-1E0]", -0.75),
    ];
    for (objective, base, want) in cases {
        let out =
            load_both(&document(objective, base, 0, vec![leaf(0.25)], &[0])).predict(&[input(&[[0.0, 0.0]])]).unwrap();
        assert!((floats(&out[0])[0] - want).abs() < 1e-6, "{objective}: {:?} vs {want}", out[0]);
        assert_eq!(out.len(), 1, "{objective} has no label output");
    }
}

#[test]
fn categorical_split_sends_the_set_right() {
    let mut doc = document(
        "reg:squarederror",
        "[0E0]",
        0,
        vec![tree(&[1, -1, -1], &[2, -1, -1], &[0, 0, 0], &[0.0, -2.0, 2.0], &[1, 0, 0])],
        &[0],
    );
    let t = &mut doc["learner"]["gradient_booster"]["model"]["trees"][0];
    t["split_type"] = json!([1, 0, 0]);
    t["categories"] = json!([3, 1]);
    t["categories_nodes"] = json!([0]);
    t["categories_segments"] = json!([0]);
    t["categories_sizes"] = json!([2]);
    let model = load_both(&doc);
    let xs = [1.0, 3.0, 3.7, 2.0, 0.0, -1.0, 1e9, f32::NAN];
    let rows: Vec<[f32; 2]> = xs.iter().map(|x| [*x, 0.0]).collect();
    let out = model.predict(&[input(&rows)]).unwrap();
    assert_eq!(floats(&out[0]), [2.0, 2.0, 2.0, -2.0, -2.0, -2.0, -2.0, -2.0]);
}

#[test]
fn dart_weights_scale_trees() {
    let mut doc = document("reg:squarederror", "[1E0]", 0, vec![leaf(1.0), leaf(3.0)], &[0, 0]);
    let gb = doc["learner"]["gradient_booster"].take();
    doc["learner"]["gradient_booster"] = json!({"name": "dart", "gbtree": gb, "weight_drop": [0.5, 0.25]});
    let out = load_both(&doc).predict(&[input(&[[0.0, 0.0]])]).unwrap();
    assert_eq!(floats(&out[0]), [1.0 + 0.5 + 0.75]);
}

#[test]
fn size_counts_what_is_held() {
    let trees: Vec<_> = (0..100).map(|_| two_level()).collect();
    let model = load_both(&document("reg:squarederror", "[0E0]", 0, trees, &[0; 100]));
    // 500 nodes of 16 bytes, plus roots and groups, plus the struct and specs.
    let size = model.size_bytes();
    assert!((500 * 16 + 800..500 * 16 + 4096).contains(&size), "{size}");
}

#[test]
fn rejects_what_it_cannot_run() {
    let base = document("reg:squarederror", "[0E0]", 0, vec![two_level()], &[0]);
    let with = |path: &[&str], value: serde_json::Value| {
        let mut doc = base.clone();
        let mut at = &mut doc;
        for key in path {
            at = &mut at[*key];
        }
        *at = value;
        doc
    };
    let tree0 = |key: &str, value| {
        let mut doc = base.clone();
        doc["learner"]["gradient_booster"]["model"]["trees"][0][key] = value;
        doc
    };
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (with(&["learner", "gradient_booster", "name"], json!("gblinear")), "Unsupported"),
        (with(&["learner", "objective", "name"], json!("reg:made_up")), "Unsupported"),
        (tree0("tree_param", json!({"size_leaf_vector": "2"})), "Unsupported"),
        (tree0("left_children", json!([3, 2, -1, -1, 0])), "InvalidModel"),
        (tree0("left_children", json!([3, 3, -1, -1, -1])), "InvalidModel"),
        (tree0("right_children", json!([1, 9, -1, -1, -1])), "InvalidModel"),
        (tree0("split_indices", json!([0, 2, 0, 0, 0])), "InvalidModel"),
        (tree0("split_conditions", json!([0.5])), "InvalidModel"),
        (with(&["learner", "gradient_booster", "model", "tree_info"], json!([1])), "InvalidModel"),
        (with(&["learner", "learner_model_param", "base_score"], json!("[1,2]")), "InvalidModel"),
        (with(&["learner", "learner_model_param", "num_feature"], json!("0")), "InvalidModel"),
        (with(&["learner"], json!(null)), "InvalidModel"),
    ];
    for (doc, want) in cases {
        let got = load(doc.to_string().as_bytes(), "json").map(|_| ());
        assert!(format!("{got:?}").contains(want), "{doc}: got {got:?}, want {want}");
    }
    let legacy = load(b"binf\x00\x00\x00\x3f", "deprecated").map(|_| ());
    assert!(matches!(&legacy, Err(InferError::Unsupported(m)) if m.contains("json or ubj")), "{legacy:?}");
    assert!(matches!(load(b"\x00\x01", "ubj"), Err(InferError::InvalidModel(_))));
    assert!(matches!(load(b"{L\x00", "ubj"), Err(InferError::InvalidModel(_))));
}

#[test]
fn checks_the_input() {
    let model =
        load(document("reg:squarederror", "[0E0]", 0, vec![leaf(1.0)], &[0]).to_string().as_bytes(), "json").unwrap();
    let three = Tensor::f32("input", vec![1, 3], vec![0.0; 3]);
    assert!(matches!(model.predict(&[three]), Err(InferError::BadInput(_))));
    assert!(matches!(model.predict(&[]), Err(InferError::BadInput(_))));
    let ints = Tensor::i64("input", vec![2], vec![1, 2]);
    assert_eq!(model.predict(&[ints]).unwrap()[0].shape, [1]);
    let empty = Tensor::f32("input", vec![0, 2], vec![]);
    assert_eq!(model.predict(&[empty]).unwrap()[0].shape, [0]);
}

#[test]
fn value_accessors_accept_both_encodings() {
    let v = Value::Array(vec![Value::Int(1), Value::Float(2.5), Value::Str("3".into())]);
    assert_eq!(v.to_f32s(), Some(vec![1.0, 2.5, 3.0]));
    assert_eq!(Value::Ints(vec![1, 0]).to_i64s(), Some(vec![1, 0]));
    assert_eq!(Value::Array(vec![Value::Bool(true)]).to_i64s(), Some(vec![1]));
    assert_eq!(Value::Float(2.5).as_i64(), None);
}
