//! flotilla's scikit-learn estimators (read from pickles and skops files,
//! never executed) against scikit-learn's own `predict` and
//! `predict_proba`, on the models `tests/serving/fixtures_sklearn.py` trains
//! and saves with mlflow in each serialization format; and its hostile
//! pickles refused by name with nothing run.
//!
//! Run: `tests/serving/make_fixtures.sh DIR`, then
//! `FLOTILLA_FIXTURES=DIR cargo nextest run -p flotilla-infer --test sklearn_reference --run-ignored only`.

use std::path::{Path, PathBuf};

use flotilla_infer::{InferError, Model, Tensor, TensorData};
use serde_json::Value;

const RTOL: f64 = 1e-6;

fn load_model(model_dir: &Path) -> Result<Box<dyn Model>, InferError> {
    let mlmodel = std::fs::read(model_dir.join("MLmodel")).expect("MLmodel");
    let mut read =
        |name: &str| std::fs::read(model_dir.join(name)).map_err(|e| InferError::MissingFile(format!("{name}: {e}")));
    flotilla_infer::load(&mlmodel, &mut read)
}

fn flatten(v: &Value, out: &mut Vec<Value>) {
    if let Value::Array(items) = v {
        items.iter().for_each(|i| flatten(i, out));
    } else {
        out.push(v.clone());
    }
}

fn tensor_values(t: &Tensor) -> Vec<Value> {
    match &t.data {
        TensorData::F64(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::F32(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Int(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Uint(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Bool(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Bytes(v) => v.iter().map(|x| Value::String(String::from_utf8_lossy(x).into())).collect(),
    }
}

/// Agreement to `RTOL` relative (absolute near zero); strings exactly.
fn close(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) => (g - w).abs() <= RTOL * w.abs().max(1.0),
        _ => got == want || (got.is_null() && want.is_null()),
    }
}

fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("sklearn-")))
        .collect();
    dirs.sort();
    dirs
}

fn check(dir: &Path) -> Result<String, String> {
    let case: Value = serde_json::from_slice(&std::fs::read(dir.join("case.json")).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let loaded = load_model(&dir.join("model"));
    if let Some(kind) = case.get("error").and_then(Value::as_str) {
        let fragment = case["error_contains"].as_str().unwrap_or("");
        let marker = Path::new(case["marker"].as_str().unwrap_or("/nonexistent"));
        if marker.exists() {
            return Err(format!("{} exists: the hostile pickle ran", marker.display()));
        }
        return match loaded {
            Err(InferError::Unsupported(m)) if kind == "Unsupported" && m.contains(fragment) => {
                Ok(format!("refused: {m}"))
            }
            Err(e) => Err(format!("want {kind} containing '{fragment}', got {e}")),
            Ok(_) => Err(format!("want {kind} containing '{fragment}', it loaded")),
        };
    }
    let model = loaded.map_err(|e| format!("load: {e}"))?;
    let rows: Vec<Vec<f64>> = case["rows"]
        .as_array()
        .ok_or("rows")?
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
        .collect();
    let width = rows[0].len();
    let input = Tensor::f64("input", vec![rows.len(), width], rows.concat());
    let outputs = model.predict(&[input]).map_err(|e| format!("predict: {e}"))?;
    let mut worst = 0.0f64;
    for (name, want) in case["expected"].as_object().ok_or("expected")? {
        let got = outputs.iter().find(|t| &t.name == name).ok_or_else(|| format!("no output {name}"))?;
        let (mut want_flat, got_flat) = (Vec::new(), tensor_values(got));
        flatten(want, &mut want_flat);
        if want_flat.len() != got_flat.len() {
            return Err(format!("{name}: {} values, want {}", got_flat.len(), want_flat.len()));
        }
        let bad: Vec<String> = got_flat
            .iter()
            .zip(&want_flat)
            .enumerate()
            .filter(|(_, (g, w))| !close(g, w))
            .map(|(i, (g, w))| format!("[{i}] {g} vs {w}"))
            .take(5)
            .collect();
        if !bad.is_empty() {
            return Err(format!("{name}: {}", bad.join(", ")));
        }
        for (g, w) in got_flat.iter().zip(&want_flat) {
            if let (Some(g), Some(w)) = (g.as_f64(), w.as_f64()) {
                worst = worst.max((g - w).abs() / w.abs().max(1.0));
            }
        }
    }
    Ok(format!("{} rows agree (worst relative difference {worst:.1e}), {} bytes held", rows.len(), model.size_bytes()))
}

#[test]
#[ignore = "needs FLOTILLA_FIXTURES from tests/serving/make_fixtures.sh"]
fn sklearn_matches_the_reference_library() {
    let root = std::env::var_os("FLOTILLA_FIXTURES")
        .unwrap_or_else(|| panic!("FLOTILLA_FIXTURES is not set: run tests/serving/make_fixtures.sh DIR first"));
    let dirs = case_dirs(Path::new(&root));
    assert!(!dirs.is_empty(), "no sklearn-* case under {}", Path::new(&root).display());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        match check(dir) {
            Ok(note) => println!("  ok {name}: {note}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), dirs.len(), failures.join("\n"));
}
