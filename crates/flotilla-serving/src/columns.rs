//! Column inputs, MLServer's pandas-codec convention: a model whose MLflow
//! signature is a column schema, and whose engine takes one row-major 2-D
//! input, also accepts one input per column (shape `[N]` or `[N, 1]`), which
//! are assembled here into that input in the signature's order.
//!
//! Numbers only: a text column (BYTES) is refused naming it. The hook for
//! engines that take categories as text is their own inputs: an engine that
//! declares one input per column ([`flotilla_infer::Model::inputs`] named
//! after the columns, BYTES for text) gets the columns by name, unchanged,
//! and nothing is assembled.

use std::borrow::Cow;

use flotilla_infer::{DataType, Tensor, TensorData, TensorSpec};

use crate::{LoadedModel, ServingError};

impl LoadedModel {
    /// The model's inputs as columns (one per signature column, shape `[-1]`,
    /// the column's V2 datatype), when its signature has columns and its
    /// engine takes them as the one row `[-1, columns]`.
    pub fn column_inputs(&self) -> Option<Vec<TensorSpec>> {
        self.row_input()?;
        Some(self.columns.iter().map(|c| TensorSpec::new(c.name.clone(), c.kind.datatype(), vec![-1])).collect())
    }

    /// What a caller sends: the columns when the model takes them, else the
    /// engine's own tensors.
    pub fn declared_inputs(&self) -> Cow<'_, [TensorSpec]> {
        match self.column_inputs() {
            Some(columns) => Cow::Owned(columns),
            None => Cow::Borrowed(self.model.inputs()),
        }
    }

    /// The engine's one input, if it is a row of exactly the signature's columns.
    fn row_input(&self) -> Option<&TensorSpec> {
        let [spec] = self.model.inputs() else { return None };
        let fits = match spec.shape.as_slice() {
            [_, width] => *width < 0 || *width as usize == self.columns.len(),
            _ => false,
        };
        (fits && !self.columns.is_empty()).then_some(spec)
    }
}

/// The request's inputs as the engine takes them: columns assembled into its
/// one row input when the request names columns, else as given.
pub(crate) fn assemble(loaded: &LoadedModel, given: Vec<Tensor>) -> Result<Vec<Tensor>, ServingError> {
    let Some(spec) = loaded.row_input() else { return Ok(given) };
    let is_column = |name: &str| name != spec.name && loaded.columns.iter().any(|c| c.name == name);
    if !given.iter().any(|t| is_column(&t.name)) {
        return Ok(given);
    }
    let names = || loaded.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(stray) = given.iter().find(|t| !is_column(&t.name)) {
        return Err(ServingError::BadRequest(format!(
            "unknown column '{}'; the model's columns are {}",
            stray.name,
            names()
        )));
    }
    let width = loaded.columns.len();
    let mut rows: Option<usize> = None;
    let mut values: Vec<f64> = Vec::new();
    for (index, column) in loaded.columns.iter().enumerate() {
        let tensor = given.iter().find(|t| t.name == column.name).ok_or_else(|| {
            ServingError::BadRequest(format!("missing column '{}'; the model's columns are {}", column.name, names()))
        })?;
        let n = column_rows(tensor)?;
        match rows {
            None => {
                rows = Some(n);
                values = vec![0.0; n * width];
            }
            Some(first) if first != n => {
                return Err(ServingError::BadRequest(format!(
                    "column '{}' has {n} rows; column '{}' has {first}",
                    column.name, loaded.columns[0].name
                )));
            }
            Some(_) => {}
        }
        for (row, value) in numbers(tensor)?.enumerate() {
            values[row * width + index] = value;
        }
    }
    let rows = rows.unwrap_or(0);
    // The engine's float width; every engine reads either.
    let data = if spec.datatype == DataType::Fp64 {
        TensorData::F64(values)
    } else {
        TensorData::F32(values.into_iter().map(|v| v as f32).collect())
    };
    let datatype = if matches!(data, TensorData::F64(_)) { DataType::Fp64 } else { DataType::Fp32 };
    Ok(vec![Tensor { name: spec.name.clone(), shape: vec![rows, width], datatype, data }])
}

/// The rows of a column: shape `[N]` or `[N, 1]`.
fn column_rows(tensor: &Tensor) -> Result<usize, ServingError> {
    match tensor.shape.as_slice() {
        [n] | [n, 1] if *n == tensor.data.len() => Ok(*n),
        other => Err(ServingError::BadRequest(format!(
            "column '{}' has shape {other:?}; a column is [rows] or [rows, 1]",
            tensor.name
        ))),
    }
}

/// A numeric column's values as `f64`; a text column is refused by name.
fn numbers(tensor: &Tensor) -> Result<Box<dyn Iterator<Item = f64> + '_>, ServingError> {
    Ok(match &tensor.data {
        TensorData::F64(v) => Box::new(v.iter().copied()),
        TensorData::F32(v) => Box::new(v.iter().map(|x| f64::from(*x))),
        TensorData::Int(v) => Box::new(v.iter().map(|x| *x as f64)),
        TensorData::Uint(v) => Box::new(v.iter().map(|x| *x as f64)),
        TensorData::Bool(v) => Box::new(v.iter().map(|x| f64::from(u8::from(*x)))),
        TensorData::Bytes(_) => {
            return Err(ServingError::BadRequest(format!(
                "column '{}' is text (BYTES); this model's engine takes numbers only",
                tensor.name
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    use flotilla_core::VersionNumber;
    use flotilla_infer::{ColumnSpec, ColumnType, InferError, Model};

    use super::*;

    struct Row(Vec<TensorSpec>);

    impl Model for Row {
        fn inputs(&self) -> &[TensorSpec] {
            &self.0
        }
        fn outputs(&self) -> &[TensorSpec] {
            &[]
        }
        fn predict(&self, _: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
            Ok(Vec::new())
        }
        fn size_bytes(&self) -> usize {
            0
        }
        fn platform(&self) -> &'static str {
            "row"
        }
    }

    fn loaded(width: i64, columns: &[(&str, ColumnType)]) -> LoadedModel {
        LoadedModel {
            name: "m".into(),
            version: VersionNumber::new(1).unwrap(),
            model: Box::new(Row(vec![TensorSpec::new("input", DataType::Fp32, vec![-1, width])])),
            size: 0,
            feature_names: Vec::new(),
            columns: columns.iter().map(|(n, k)| ColumnSpec { name: n.to_string(), kind: *k }).collect(),
            model_class: None,
            warmed: AtomicBool::new(false),
            ledger: Arc::new(AtomicUsize::new(0)),
        }
    }

    const AB: &[(&str, ColumnType)] = &[("a", ColumnType::Double), ("b", ColumnType::Long)];

    #[test]
    fn columns_are_assembled_in_signature_order() {
        let m = loaded(2, AB);
        let given = vec![Tensor::i64("b", vec![2, 1], vec![10, 20]), Tensor::f64("a", vec![2], vec![1.5, 2.5])];
        let got = assemble(&m, given).unwrap();
        assert_eq!(got, vec![Tensor::f32("input", vec![2, 2], vec![1.5, 10.0, 2.5, 20.0])]);
        let specs = m.column_inputs().unwrap();
        let names: Vec<(&str, DataType, &[i64])> =
            specs.iter().map(|s| (s.name.as_str(), s.datatype, s.shape.as_slice())).collect();
        assert_eq!(names, [("a", DataType::Fp64, &[-1][..]), ("b", DataType::Int64, &[-1][..])]);
    }

    #[test]
    fn a_tensor_request_passes_through() {
        let m = loaded(2, AB);
        let given = vec![Tensor::f32("input", vec![1, 2], vec![1.0, 2.0])];
        assert_eq!(assemble(&m, given.clone()).unwrap(), given);
        // A model whose row is not the signature's width takes no columns.
        let narrow = loaded(3, AB);
        assert!(narrow.column_inputs().is_none());
        let cols = vec![Tensor::f64("a", vec![1], vec![1.0])];
        assert_eq!(assemble(&narrow, cols.clone()).unwrap(), cols);
    }

    #[test]
    fn bad_columns_are_named() {
        let m = loaded(-1, &[("a", ColumnType::Double), ("city", ColumnType::String)]);
        let text = Tensor {
            name: "city".into(),
            shape: vec![1],
            datatype: DataType::Bytes,
            data: TensorData::Bytes(vec![b"Oslo".to_vec()]),
        };
        let cases: Vec<(Vec<Tensor>, &str)> = vec![
            (vec![Tensor::f64("a", vec![1], vec![1.0])], "missing column 'city'; the model's columns are a, city"),
            (
                vec![Tensor::f64("a", vec![1], vec![1.0]), Tensor::f64("zip", vec![1], vec![1.0])],
                "unknown column 'zip'",
            ),
            (
                vec![Tensor::f64("a", vec![2], vec![1.0, 2.0]), Tensor::f64("city", vec![1], vec![1.0])],
                "column 'city' has 1 rows; column 'a' has 2",
            ),
            (
                vec![Tensor::f64("a", vec![1, 2], vec![1.0, 2.0]), Tensor::f64("city", vec![1], vec![1.0])],
                "column 'a' has shape [1, 2]",
            ),
            (vec![Tensor::f64("a", vec![1], vec![1.0]), text], "column 'city' is text (BYTES)"),
        ];
        for (given, want) in cases {
            let e = assemble(&m, given).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e} / {want}");
        }
    }
}
