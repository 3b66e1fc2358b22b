//! flotilla's LightGBM engine against `lightgbm.Booster.predict`, on the
//! models `tests/serving/fixtures_lightgbm.py` trains and saves with mlflow.
//!
//! Run: `tests/serving/make_fixtures.sh DIR`, then
//! `FLOTILLA_FIXTURES=DIR cargo test -p flotilla-infer --test lightgbm_reference -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use flotilla_infer::{InferError, Model, Tensor, TensorData};
use serde_json::Value;

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-6;

fn load_model(model_dir: &Path) -> Result<Box<dyn Model>, InferError> {
    let mlmodel = std::fs::read(model_dir.join("MLmodel")).expect("MLmodel");
    let mut read =
        |name: &str| std::fs::read(model_dir.join(name)).map_err(|e| InferError::MissingFile(format!("{name}: {e}")));
    flotilla_infer::load(&mlmodel, &mut read)
}

/// Flattens nested JSON arrays of numbers; `null` is NaN.
fn flatten(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        Value::Null => out.push(f64::NAN),
        Value::Number(n) => out.push(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(_) | Value::String(_) | Value::Object(_) => panic!("not a number: {v}"),
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= (RTOL * want.abs()).max(ATOL) || (got.is_nan() && want.is_nan())
}

fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("lightgbm-")))
        .collect();
    dirs.sort();
    dirs
}

/// Checks one case; returns what went wrong.
fn check(dir: &Path) -> Result<String, String> {
    let case: Value = serde_json::from_slice(&std::fs::read(dir.join("case.json")).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let loaded = load_model(&dir.join("model"));
    if let Some(kind) = case.get("error").and_then(Value::as_str) {
        let fragment = case["error_contains"].as_str().unwrap_or("");
        let got = match &loaded {
            Ok(_) => ("a loaded model", String::new()),
            Err(InferError::Unsupported(m)) => ("Unsupported", m.clone()),
            Err(InferError::InvalidModel(m)) => ("InvalidModel", m.clone()),
            Err(InferError::BadInput(m) | InferError::MissingFile(m)) => ("another error", m.clone()),
        };
        if got.0 == kind && got.1.contains(fragment) {
            return Ok(format!("refused: {}", got.1));
        }
        return Err(format!("expected {kind} containing {fragment:?}, got {}: {}", got.0, got.1));
    }
    let model = loaded.map_err(|e| format!("load: {e}"))?;
    let rows_json = case["rows"].as_array().ok_or("rows")?;
    let (rows, width) = (rows_json.len(), rows_json.first().and_then(Value::as_array).map_or(0, Vec::len));
    let mut values = Vec::new();
    flatten(&case["rows"], &mut values);
    // The rows are float32-representable, so FP32 and FP64 must agree exactly.
    // serde_json's default float parsing can miss by an ulp (no
    // `float_roundtrip`); rounding to f32 restores the values Python wrote.
    let values: Vec<f32> = values.iter().map(|x| *x as f32).collect();
    let fp64 = Tensor::f64("input", vec![rows, width], values.iter().map(|x| f64::from(*x)).collect());
    let fp32 = Tensor::f32("input", vec![rows, width], values);
    let outputs = model.predict(&[fp32]).map_err(|e| format!("predict: {e}"))?;
    let outputs64 = model.predict(&[fp64]).map_err(|e| format!("predict: {e}"))?;
    if format!("{outputs:?}") != format!("{outputs64:?}") {
        return Err("FP32 and FP64 inputs disagree".into());
    }
    let expected = case["expected"].as_object().ok_or("expected")?;
    let mut worst = 0.0f64;
    for (name, want) in expected {
        let got = outputs.iter().find(|t| &t.name == name).ok_or_else(|| format!("no output {name}"))?;
        let mut want_flat = Vec::new();
        flatten(want, &mut want_flat);
        let got_flat: Vec<f64> = match &got.data {
            TensorData::F64(v) => v.clone(),
            TensorData::Int(v) => v.iter().map(|x| *x as f64).collect(),
            TensorData::Bool(_) | TensorData::Uint(_) | TensorData::F32(_) | TensorData::Bytes(_) => {
                return Err(format!("{name} has datatype {:?}", got.datatype));
            }
        };
        let want_shape = match want.as_array().and_then(|a| a.first()).and_then(Value::as_array) {
            Some(inner) => vec![rows, inner.len()],
            None => vec![rows],
        };
        if got.shape != want_shape || got_flat.len() != want_flat.len() {
            return Err(format!("{name}: shape {:?}, expected {want_shape:?}", got.shape));
        }
        let bad: Vec<String> = got_flat
            .iter()
            .zip(&want_flat)
            .enumerate()
            .filter(|(_, (g, w))| !close(**g, **w))
            .map(|(i, (g, w))| format!("[{i}] {g} vs {w}"))
            .take(5)
            .collect();
        if !bad.is_empty() {
            return Err(format!("{name}: {}", bad.join(", ")));
        }
        let diffs = got_flat.iter().zip(&want_flat).filter(|(g, w)| !g.is_nan() && !w.is_nan());
        worst = diffs.map(|(g, w)| (g - w).abs() / w.abs().max(ATOL)).fold(worst, f64::max);
    }
    Ok(format!("{rows} rows match (worst relative difference {worst:.1e}), {} bytes held", model.size_bytes()))
}

/// A timing print for the 100-tree models, not an assertion.
fn time_rows(dir: &Path) {
    let Ok(model) = load_model(&dir.join("model")) else { return };
    let width = usize::try_from(model.inputs()[0].shape[1]).unwrap_or(0);
    let rows = 20_000;
    let values: Vec<f32> = (0..rows * width).map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0).collect();
    let input = Tensor::f32("input", vec![rows, width], values);
    let start = Instant::now();
    let out = model.predict(std::slice::from_ref(&input)).expect("predict");
    let per_row = start.elapsed().as_secs_f64() * 1e6 / rows as f64;
    assert_eq!(out[0].shape[0], rows);
    println!("  timing {}: {per_row:.2} µs/row over {rows} rows", dir.file_name().unwrap().to_string_lossy());
}

#[test]
#[ignore = "needs FLOTILLA_FIXTURES from tests/serving/make_fixtures.sh"]
fn lightgbm_matches_the_reference_library() {
    let Some(root) = std::env::var_os("FLOTILLA_FIXTURES") else {
        eprintln!("FLOTILLA_FIXTURES is not set; nothing to compare");
        return;
    };
    let dirs = case_dirs(Path::new(&root));
    assert!(!dirs.is_empty(), "no lightgbm-* case under {}", Path::new(&root).display());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        match check(dir) {
            Ok(note) => println!("  ok {name}: {note}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    for dir in dirs.iter().filter(|d| d.to_string_lossy().ends_with("-100")) {
        time_rows(dir);
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), dirs.len(), failures.join("\n"));
}
