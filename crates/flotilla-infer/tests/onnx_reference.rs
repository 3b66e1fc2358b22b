//! ONNX models saved by the mlflow client, run by flotilla and compared with
//! what onnxruntime answered for the same rows (fixtures from
//! `tests/serving/make_fixtures.sh`, cases named `onnx-*`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use flotilla_infer::{InferError, Model, Tensor, TensorData};
use serde_json::Value;

struct Case {
    name: String,
    dir: PathBuf,
    json: Value,
}

/// Every `onnx-*` case; fails when there are none, so a broken fixture run
/// cannot pass as an empty one.
fn cases() -> Vec<Case> {
    let root = std::env::var_os("FLOTILLA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("FLOTILLA_FIXTURES is not set: run tests/serving/make_fixtures.sh DIR first"));
    let mut cases: Vec<Case> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("onnx-")))
        .map(|dir| {
            let json = std::fs::read(dir.join("case.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            Case { name, json: serde_json::from_slice(&json).unwrap(), dir }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!cases.is_empty(), "no onnx-* case under {}", root.display());
    cases
}

fn load(dir: &Path) -> Result<Box<dyn Model>, InferError> {
    let model_dir = dir.join("model");
    let mlmodel = std::fs::read(model_dir.join("MLmodel")).unwrap();
    flotilla_infer::load(&mlmodel, &mut |file| {
        std::fs::read(model_dir.join(file)).map_err(|e| InferError::MissingFile(format!("{file}: {e}")))
    })
}

/// A nested JSON array as (shape, row-major values).
fn flatten(v: &Value) -> (Vec<usize>, Vec<f64>) {
    match v {
        Value::Array(items) => {
            let parts: Vec<_> = items.iter().map(flatten).collect();
            let inner = parts.first().map(|p| p.0.clone()).unwrap_or_default();
            let shape = std::iter::once(items.len()).chain(inner).collect();
            (shape, parts.into_iter().flat_map(|p| p.1).collect())
        }
        Value::Number(n) => (vec![], vec![n.as_f64().unwrap()]),
        Value::Bool(b) => (vec![], vec![f64::from(u8::from(*b))]),
        Value::Null | Value::String(_) | Value::Object(_) => panic!("unexpected value in case.json: {v}"),
    }
}

fn numbers(t: &Tensor) -> Vec<f64> {
    match &t.data {
        TensorData::F32(v) => v.iter().map(|x| f64::from(*x)).collect(),
        TensorData::F64(v) => v.clone(),
        TensorData::Int(v) => v.iter().map(|x| *x as f64).collect(),
        TensorData::Uint(v) => v.iter().map(|x| *x as f64).collect(),
        TensorData::Bool(v) => v.iter().map(|x| f64::from(u8::from(*x))).collect(),
        TensorData::Bytes(_) => panic!("output {} is BYTES", t.name),
    }
}

fn input(case: &Case) -> Tensor {
    let (shape, values) = flatten(&case.json["rows"]);
    Tensor::f32(case.json["input"].as_str().unwrap(), shape, values.into_iter().map(|x| x as f32).collect())
}

#[test]
#[ignore = "needs FLOTILLA_FIXTURES from tests/serving/make_fixtures.sh"]
fn onnx_models_match_onnxruntime() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.json.get("expected").is_some()) {
        let model = load(&case.dir).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let x = input(case);
        assert_eq!(model.inputs()[0].name, x.name, "{}", case.name);
        let outputs = model.predict(std::slice::from_ref(&x)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let rtol = case.json["rtol"].as_f64().unwrap_or(1e-5);
        for (name, want) in case.json["expected"].as_object().unwrap() {
            let got =
                outputs.iter().find(|t| &t.name == name).unwrap_or_else(|| panic!("{}: no output {name}", case.name));
            let (shape, want) = flatten(want);
            let spec = model.outputs().iter().find(|s| &s.name == name).unwrap();
            assert_eq!(got.datatype, spec.datatype, "{}/{name}", case.name);
            assert_eq!(got.shape, shape, "{}/{name}: shape", case.name);
            for (i, (g, w)) in numbers(got).iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= (rtol * w.abs()).max(1e-6),
                    "{}/{name}[{i}]: flotilla {g}, onnxruntime {w}",
                    case.name
                );
            }
        }
        time(&case.name, model.as_ref(), &x);
        checked += 1;
    }
    assert!(checked > 0, "no onnx case with expected outputs");
}

/// Prints µs per row for one row at a time and for the whole batch: a
/// measurement to read, not a timed assertion.
fn time(name: &str, model: &dyn Model, batch: &Tensor) {
    let cols = batch.shape[1];
    let TensorData::F32(values) = &batch.data else { unreachable!() };
    let one = Tensor::f32(batch.name.clone(), vec![1, cols], values[..cols].to_vec());
    let per_row = |x: &Tensor, rows: usize, n: u32| {
        let start = Instant::now();
        for _ in 0..n {
            model.predict(std::slice::from_ref(x)).unwrap();
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(n) / rows as f64
    };
    let single = per_row(&one, 1, 2000);
    let batched = per_row(batch, batch.shape[0], 500);
    println!(
        "{name:<36} 1 row: {single:7.2} µs/row   {} rows: {batched:6.2} µs/row   size {} B",
        batch.shape[0],
        model.size_bytes()
    );
}

#[test]
#[ignore = "needs FLOTILLA_FIXTURES from tests/serving/make_fixtures.sh"]
fn onnx_unsupported_models_are_refused() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.json.get("error").is_some()) {
        let fragment = case.json["error_contains"].as_str().unwrap();
        match (case.json["error"].as_str().unwrap(), load(&case.dir)) {
            ("Unsupported", Err(InferError::Unsupported(msg))) => {
                assert!(msg.contains(fragment), "{}: {msg}", case.name);
                println!("{:<36} {msg}", case.name);
            }
            (kind, Err(e)) => panic!("{}: want {kind}, got {e:?}", case.name),
            (kind, Ok(_)) => panic!("{}: want {kind}, but it loaded", case.name),
        }
        checked += 1;
    }
    assert!(checked > 0, "no onnx case that must be refused");
}
