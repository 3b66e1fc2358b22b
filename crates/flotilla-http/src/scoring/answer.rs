//! The `{"predictions": ...}` answer, shaped as MLflow's pyfunc scoring
//! server shapes what the model's pyfunc `predict` returns:
//!
//! - XGBoost and LightGBM (and any engine but ONNX) return one array: the
//!   class labels for a scikit-learn-API classifier (`model_class` ending in
//!   `Classifier`, whose `predict` gives labels), else the `predict` output
//!   (a Booster's scores or probabilities). `[N]` and `[N, 1]` are a flat
//!   list, wider outputs a list of rows.
//! - ONNX returns a DataFrame for DataFrame input (`dataframe_*`, CSV), one
//!   column per output, written as records `[{"output": value}, ...]`, and a
//!   dict of outputs for tensor input (`instances`, `inputs`), written as
//!   `{"output": nested list}`. Where pyfunc's DataFrame would fail (an
//!   output with more than one value per row) the dict is answered instead.
//!
//! Non-finite floats are written as `null`: the scoring server writes Python's
//! `NaN` literal, which is not JSON.

use flotilla_infer::{Tensor, TensorData};
use flotilla_serving::LoadedModel;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

/// How the outputs are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One output, by its index.
    One(usize),
    /// Every output, as records (one object per row).
    Records,
    /// Every output, by name.
    Named,
}

fn choose(outputs: &[Tensor], platform: &str, model_class: Option<&str>, tabular: bool, rows: usize) -> Shape {
    let position = |name: &str| outputs.iter().position(|t| t.name == name);
    if platform == "onnx" {
        return if tabular && outputs.iter().all(|t| t.data.len() == rows) { Shape::Records } else { Shape::Named };
    }
    let classifier = model_class.is_some_and(|c| c.ends_with("Classifier"));
    match (classifier.then(|| position("label")).flatten(), position("predict")) {
        (Some(i), _) | (None, Some(i)) => Shape::One(i),
        (None, None) if outputs.len() == 1 => Shape::One(0),
        (None, None) => Shape::Named,
    }
}

/// The answer's body for `outputs` (every output the model produced).
pub fn predictions(outputs: &[Tensor], loaded: &LoadedModel, tabular: bool, rows: usize) -> Vec<u8> {
    let shape = choose(outputs, loaded.model.platform(), loaded.model_class.as_deref(), tabular, rows);
    let answer = Predictions { outputs, shape, rows };
    // Writing to a Vec cannot fail, and every value here serializes.
    serde_json::to_vec(&answer).unwrap_or_default()
}

struct Predictions<'a> {
    outputs: &'a [Tensor],
    shape: Shape,
    rows: usize,
}

impl Serialize for Predictions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self.shape {
            Shape::One(i) => map.serialize_entry("predictions", &Array::of(&self.outputs[i], true))?,
            Shape::Named => map.serialize_entry("predictions", &Named(self.outputs))?,
            Shape::Records => {
                map.serialize_entry("predictions", &Records { outputs: self.outputs, rows: self.rows })?
            }
        }
        map.end()
    }
}

/// Outputs by name, each a nested list.
struct Named<'a>(&'a [Tensor]);

impl Serialize for Named<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for t in self.0 {
            map.serialize_entry(&t.name, &Array::of(t, false))?;
        }
        map.end()
    }
}

/// One object per row, each output's value of that row.
struct Records<'a> {
    outputs: &'a [Tensor],
    rows: usize,
}

impl Serialize for Records<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Row<'a>(&'a [Tensor], usize);
        impl Serialize for Row<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for t in self.0 {
                    map.serialize_entry(&t.name, &Element(&t.data, self.1))?;
                }
                map.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.rows))?;
        for r in 0..self.rows {
            seq.serialize_element(&Row(self.outputs, r))?;
        }
        seq.end()
    }
}

/// A tensor (or the part of it from `offset`) as nested lists by `dims`.
struct Array<'a> {
    data: &'a TensorData,
    dims: &'a [usize],
    offset: usize,
}

impl<'a> Array<'a> {
    /// `flatten_column`: `[N, 1]` is written as a flat list, as a 1-D array.
    fn of(t: &'a Tensor, flatten_column: bool) -> Self {
        let dims = match t.shape.as_slice() {
            [n, 1] if flatten_column => std::slice::from_ref(n),
            dims => dims,
        };
        Self { data: &t.data, dims, offset: 0 }
    }
}

impl Serialize for Array<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some((&n, inner)) = self.dims.split_first() else {
            return Element(self.data, self.offset).serialize(s);
        };
        let stride: usize = inner.iter().product();
        let mut seq = s.serialize_seq(Some(n))?;
        for i in 0..n {
            if inner.is_empty() {
                seq.serialize_element(&Element(self.data, self.offset + i))?;
            } else {
                seq.serialize_element(&Array { data: self.data, dims: inner, offset: self.offset + i * stride })?;
            }
        }
        seq.end()
    }
}

/// One element; a non-finite float is `null`.
struct Element<'a>(&'a TensorData, usize);

impl Serialize for Element<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.1;
        match self.0 {
            TensorData::Bool(v) => s.serialize_bool(v[i]),
            TensorData::Int(v) => s.serialize_i64(v[i]),
            TensorData::Uint(v) => s.serialize_u64(v[i]),
            TensorData::F32(v) if v[i].is_finite() => s.serialize_f32(v[i]),
            TensorData::F64(v) if v[i].is_finite() => s.serialize_f64(v[i]),
            TensorData::F32(_) | TensorData::F64(_) => s.serialize_none(),
            TensorData::Bytes(v) => s.serialize_str(&String::from_utf8_lossy(&v[i])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(outputs: &[Tensor], shape: Shape, rows: usize) -> String {
        serde_json::to_string(&Predictions { outputs, shape, rows }).unwrap()
    }

    #[test]
    fn shapes_follow_pyfunc() {
        let scores = Tensor::f32("predict", vec![2, 3], vec![0.5, 0.25, 0.25, 0.0, 1.0, f32::NAN]);
        let labels = Tensor::i64("label", vec![2], vec![0, 1]);
        let both = [scores.clone(), labels.clone()];
        let cases: &[(&str, Option<&str>, bool, Shape)] = &[
            ("xgboost", Some("xgboost.sklearn.XGBClassifier"), true, Shape::One(1)),
            ("xgboost", Some("xgboost.core.Booster"), true, Shape::One(0)),
            ("lightgbm", None, false, Shape::One(0)),
            ("onnx", None, true, Shape::Named),
            ("onnx", None, false, Shape::Named),
        ];
        for (platform, class, tabular, want) in cases {
            assert_eq!(choose(&both, platform, *class, *tabular, 2), *want, "{platform} {class:?}");
        }
        let one_per_row = [Tensor::f32("variable", vec![2, 1], vec![1.5, 2.5]), labels.clone()];
        assert_eq!(choose(&one_per_row, "onnx", None, true, 2), Shape::Records);
        assert_eq!(body(&both, Shape::One(0), 2), r#"{"predictions":[[0.5,0.25,0.25],[0.0,1.0,null]]}"#);
        assert_eq!(body(&both, Shape::One(1), 2), r#"{"predictions":[0,1]}"#);
        assert_eq!(
            body(&one_per_row, Shape::Records, 2),
            r#"{"predictions":[{"variable":1.5,"label":0},{"variable":2.5,"label":1}]}"#
        );
        assert_eq!(body(&one_per_row, Shape::Named, 2), r#"{"predictions":{"variable":[[1.5],[2.5]],"label":[0,1]}}"#);
        let column = [Tensor::f64("predict", vec![2, 1], vec![1.0, 2.0])];
        assert_eq!(body(&column, Shape::One(0), 2), r#"{"predictions":[1.0,2.0]}"#);
    }
}
