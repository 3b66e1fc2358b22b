//! Times one-row predictions of a saved model directory:
//! `cargo run --release -p flotilla-infer --example predict_timing -- DIR FEATURES`.

use std::time::Instant;

use flotilla_infer::{DataType, InferError, Tensor, TensorData};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("model dir"));
    let features: usize = args.next().and_then(|f| f.parse().ok()).unwrap_or(4);
    let mlmodel = std::fs::read(dir.join("MLmodel")).expect("MLmodel");
    let model = flotilla_infer::load(&mlmodel, &mut |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| InferError::InvalidModel(e.to_string()))
    })
    .expect("load");
    let input = vec![Tensor {
        name: model.inputs()[0].name.clone(),
        shape: vec![1, features],
        datatype: DataType::Fp32,
        data: TensorData::F32(vec![0.5; features]),
    }];
    for _ in 0..1000 {
        model.predict(&input).unwrap();
    }
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        model.predict(&input).unwrap();
    }
    println!("{:.2} µs per one-row predict", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
