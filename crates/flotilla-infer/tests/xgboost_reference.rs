//! flotilla's XGBoost engine against `xgboost.Booster.predict(DMatrix)`, on
//! the models `tests/serving/fixtures_xgboost.py` trains and saves with mlflow.
//!
//! Run: `tests/serving/make_fixtures.sh DIR`, then
//! `FLOTILLA_FIXTURES=DIR cargo test -p flotilla-infer --test xgboost_reference -- --ignored --nocapture`.
//! It also prints µs per row for every model (timings only, nothing asserted;
//! build with optimizations for numbers worth quoting).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flotilla_infer::{DataType, InferError, Model, Tensor, TensorData};
use serde_json::Value;

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-6;

fn load_model(model_dir: &Path) -> Result<Box<dyn Model>, InferError> {
    let mlmodel =
        std::fs::read(model_dir.join("MLmodel")).map_err(|e| InferError::MissingFile(format!("MLmodel: {e}")))?;
    let mut read =
        |name: &str| std::fs::read(model_dir.join(name)).map_err(|e| InferError::MissingFile(format!("{name}: {e}")));
    flotilla_infer::load(&mlmodel, &mut read)
}

/// Nested JSON arrays of numbers as (shape, values); `null` is NaN.
fn tensor_of(v: &Value) -> Result<(Vec<usize>, Vec<f64>), String> {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>) -> Result<(), String> {
        match v {
            Value::Array(items) => {
                match shape.get(depth) {
                    Some(n) if *n != items.len() => return Err("ragged array".into()),
                    Some(_) => {}
                    None => shape.push(items.len()),
                }
                items.iter().try_for_each(|x| walk(x, depth + 1, shape, out))
            }
            Value::Null => {
                out.push(f64::NAN);
                Ok(())
            }
            Value::Number(n) => {
                out.push(n.as_f64().ok_or("number")?);
                Ok(())
            }
            Value::Bool(_) | Value::String(_) | Value::Object(_) => Err(format!("not a number: {v}")),
        }
    }
    let (mut shape, mut values) = (Vec::new(), Vec::new());
    walk(v, 0, &mut shape, &mut values)?;
    Ok((shape, values))
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= (RTOL * want.abs()).max(ATOL) || (got.is_nan() && want.is_nan())
}

fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("xgboost-")))
        .filter(|p| p.join("case.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Average µs per row over repeated calls, one row per call and whole batches.
fn time_per_row(model: &dyn Model, input: &Tensor, rows: usize) -> (f64, f64) {
    let TensorData::F32(values) = &input.data else { panic!("expected FP32 input, got {:?}", input.data) };
    let one = Tensor::f32("input", vec![1, input.shape[1]], values[..input.shape[1]].to_vec());
    let measure = |t: &Tensor, per_call: usize| {
        let (start, mut calls) = (Instant::now(), 0usize);
        while start.elapsed() < Duration::from_millis(200) {
            std::hint::black_box(model.predict(std::slice::from_ref(t)).ok());
            calls += 1;
        }
        start.elapsed().as_secs_f64() * 1e6 / (calls * per_call) as f64
    };
    (measure(&one, 1), measure(input, rows))
}

/// Checks one case; returns a one-line summary or what went wrong.
fn check(dir: &Path) -> Result<String, String> {
    let text = std::fs::read(dir.join("case.json")).map_err(|e| e.to_string())?;
    let case: Value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    let loaded = load_model(&dir.join("model"));
    if let Some(kind) = case.get("error").and_then(Value::as_str) {
        let fragment = case["error_contains"].as_str().unwrap_or("");
        let refused = match (&loaded, kind) {
            (Err(InferError::Unsupported(m)), "Unsupported") | (Err(InferError::InvalidModel(m)), "InvalidModel") => {
                m.contains(fragment)
            }
            (Err(_) | Ok(_), _) => false,
        };
        return if refused {
            Ok(format!("refused: {}", loaded.err().map(|e| e.to_string()).unwrap_or_default()))
        } else {
            Err(format!("expected {kind} containing {fragment:?}, got {:?}", loaded.map(|m| m.platform())))
        };
    }
    let model = loaded.map_err(|e| format!("load: {e}"))?;
    let (shape, values) = tensor_of(&case["rows"])?;
    let input = Tensor::f32(
        case["input"].as_str().unwrap_or("input"),
        shape.clone(),
        values.iter().map(|x| *x as f32).collect(),
    );
    let outputs = model.predict(std::slice::from_ref(&input)).map_err(|e| format!("predict: {e}"))?;
    // The rows are float32-representable: FP64 input must give the same answer.
    let fp64 = model.predict(&[Tensor::f64("input", shape.clone(), values)]).map_err(|e| format!("predict: {e}"))?;
    if outputs != fp64 {
        return Err("FP32 and FP64 inputs disagree".into());
    }
    let expected = case["expected"].as_object().ok_or("no 'expected' object")?;
    let names: Vec<&str> = outputs.iter().map(|t| t.name.as_str()).collect();
    if names.len() != expected.len() || expected.keys().any(|k| !names.contains(&k.as_str())) {
        return Err(format!("outputs {names:?}, expected {:?}", expected.keys().collect::<Vec<_>>()));
    }
    for got in &outputs {
        let (want_shape, want) = tensor_of(&expected[&got.name])?;
        if got.shape != want_shape {
            return Err(format!("{}: shape {:?}, expected {want_shape:?}", got.name, got.shape));
        }
        let got_values: Vec<f64> = match (&got.data, got.datatype) {
            (TensorData::F32(v), DataType::Fp32) if got.name == "predict" => v.iter().map(|x| f64::from(*x)).collect(),
            (TensorData::Int(v), DataType::Int64) if got.name == "label" => v.iter().map(|x| *x as f64).collect(),
            (data, datatype) => return Err(format!("{}: unexpected {datatype:?} {data:?}", got.name)),
        };
        let bad: Vec<String> = got_values
            .iter()
            .zip(&want)
            .enumerate()
            .filter(|(_, (g, w))| !close(**g, **w))
            .map(|(i, (g, w))| format!("[{i}] {g} != {w}"))
            .collect();
        if !bad.is_empty() {
            return Err(format!(
                "{}: {} of {} differ: {}",
                got.name,
                bad.len(),
                want.len(),
                bad[..bad.len().min(5)].join(", ")
            ));
        }
    }
    let (single, batched) = time_per_row(model.as_ref(), &input, shape[0]);
    Ok(format!(
        "{} rows match; {} bytes; {single:.2} µs/row one at a time, {batched:.2} µs/row in batches of {}",
        shape[0],
        model.size_bytes(),
        shape[0]
    ))
}

#[test]
#[ignore = "needs FLOTILLA_FIXTURES from tests/serving/make_fixtures.sh"]
fn xgboost_matches_reference() {
    let root = std::env::var_os("FLOTILLA_FIXTURES")
        .map(PathBuf::from)
        .expect("set FLOTILLA_FIXTURES to the directory tests/serving/make_fixtures.sh wrote");
    let dirs = case_dirs(&root);
    assert!(!dirs.is_empty(), "no xgboost-* case under {}: run tests/serving/make_fixtures.sh", root.display());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        match check(dir) {
            Ok(summary) => println!("ok   {name}: {summary}"),
            Err(why) => {
                println!("FAIL {name}: {why}");
                failures.push(name);
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} xgboost cases failed: {failures:?}", failures.len(), dirs.len());
}
