//! Model files as `flotilla-infer` loads them from the artifact store:
//! XGBoost JSON and UBJSON, LightGBM text, ONNX, and the `MLmodel` YAML.
//!
//! Invariants: loading never panics; a model that loads answers a small batch
//! (an error or outputs whose data match their shapes), never a panic. The
//! memory bound is the fuzzer's RSS limit (`docs/fuzzing.md`).

use flotilla_infer::{DataType, MlModel, Model, Tensor, TensorData, lightgbm, onnx, xgboost};

/// Most elements of the batch a loaded model is asked to predict.
const MAX_BATCH_ELEMENTS: usize = 4096;
/// Values the batch cycles through: ordinary, negative, huge, missing.
const VALUES: [f64; 5] = [0.5, -1.25, 3.0e30, f64::NAN, 7.0];

/// An XGBoost model saved as JSON (`model_format: json`).
pub fn xgboost_json(data: &[u8]) {
    if let Ok(model) = xgboost::load(data, "json") {
        exercise(model.as_ref());
    }
}

/// An XGBoost model saved as UBJSON (`model_format: ubj`).
pub fn ubjson(data: &[u8]) {
    if let Ok(model) = xgboost::load(data, "ubj") {
        exercise(model.as_ref());
    }
}

/// A LightGBM text model (`model.lgb`).
pub fn lightgbm(data: &[u8]) {
    if let Ok(model) = lightgbm::load(data) {
        exercise(model.as_ref());
    }
}

/// An ONNX model (`model.onnx`).
pub fn onnx(data: &[u8]) {
    if let Ok(model) = onnx::load(data) {
        exercise(model.as_ref());
    }
}

/// For the ONNX target's fuzzer: lets a panic unwind silently to whoever
/// catches it, as in the server, where `flotilla-infer` turns a panic inside
/// tract into an error for that model. libFuzzer's own hook would abort at
/// the panic, caught or not; with this one only a panic that escapes the
/// harness aborts (libfuzzer-sys catches it there).
pub fn let_caught_panics_unwind() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// An `MLmodel` file, and the flavor chosen from it.
pub fn mlmodel(data: &[u8]) {
    if let Ok(parsed) = MlModel::parse(data) {
        let _ = parsed.flavor();
    }
}

/// Predicts two rows of cycling values for every input the model declares.
fn exercise(model: &dyn Model) {
    let _ = model.size_bytes();
    let mut inputs = Vec::new();
    for spec in model.inputs() {
        let shape: Vec<usize> = spec.shape.iter().map(|&d| usize::try_from(d).unwrap_or(2)).collect();
        let Some(count) = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else { return };
        if count > MAX_BATCH_ELEMENTS {
            return;
        }
        let values = VALUES.iter().copied().cycle().take(count);
        let data = match spec.datatype {
            DataType::Fp32 => TensorData::F32(values.map(|v| v as f32).collect()),
            DataType::Fp64 => TensorData::F64(values.collect()),
            DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 => {
                TensorData::Int(values.map(|v| if v.is_nan() { 0 } else { v as i64 }).collect())
            }
            DataType::Uint64 | DataType::Uint32 | DataType::Uint16 | DataType::Uint8 => {
                TensorData::Uint(values.map(|v| if v.is_nan() { 0 } else { v as u64 }).collect())
            }
            DataType::Bool => TensorData::Bool(values.map(|v| v > 0.0).collect()),
            DataType::Fp16 | DataType::Bf16 | DataType::Bytes => return,
        };
        inputs.push(Tensor { name: spec.name.clone(), shape, datatype: spec.datatype, data });
    }
    if let Ok(outputs) = model.predict(&inputs) {
        for t in outputs {
            let count = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            assert_eq!(count, Some(t.data.len()), "output {}: shape {:?} holds {}", t.name, t.shape, t.data.len());
        }
    }
}
