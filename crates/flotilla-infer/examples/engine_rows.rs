//! Rows per second of a model directory's engine on one thread, for
//! `scripts/bench_sklearn_engine.py`: loads `MODEL_DIR` (an MLflow model
//! directory), predicts `ROWS_FILE` (little-endian `f64`, `rows × width`) in
//! batches of each size given, and prints one JSON line per batch size:
//! `{"batch": n, "rows_per_s": r}` (the median of 5 timed runs of at least
//! 0.2 s each).
//!
//! Run: `cargo run --release -p flotilla-infer --example engine_rows -- MODEL_DIR ROWS_FILE WIDTH 1,100,10000`.

use std::time::{Duration, Instant};

use flotilla_infer::{InferError, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, rows_file, width, batches] = &args[..] else {
        return Err("usage: engine_rows MODEL_DIR ROWS_FILE WIDTH BATCHES".into());
    };
    let dir = std::path::Path::new(dir);
    let mlmodel = std::fs::read(dir.join("MLmodel"))?;
    let mut read =
        |name: &str| std::fs::read(dir.join(name)).map_err(|e| InferError::MissingFile(format!("{name}: {e}")));
    let model = flotilla_infer::load(&mlmodel, &mut read)?;
    let width: usize = width.parse()?;
    let values: Vec<f64> =
        std::fs::read(rows_file)?.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect();
    let available = values.len() / width;
    for batch in batches.split(',') {
        let batch: usize = batch.parse()?;
        let inputs: Vec<Tensor> = (0..available / batch)
            .map(|i| {
                Tensor::f64("input", vec![batch, width], values[i * batch * width..(i + 1) * batch * width].to_vec())
            })
            .collect();
        let mut rates = Vec::new();
        for _ in 0..5 {
            let (start, mut rows) = (Instant::now(), 0usize);
            for input in inputs.iter().cycle() {
                if start.elapsed() >= Duration::from_millis(200) {
                    break;
                }
                model.predict(std::slice::from_ref(input))?;
                rows += batch;
            }
            rates.push(rows as f64 / start.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        println!("{{\"batch\": {batch}, \"rows_per_s\": {:.1}}}", rates[2]);
    }
    Ok(())
}
