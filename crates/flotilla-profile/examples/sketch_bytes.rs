//! Writes a small dataset, its profile's sketches in the DataSketches binary format, and the
//! estimates flotilla reads from them, for `tests/profile/test_sketch_bytes.py` to check with
//! the Python `datasketches` package.
//!
//! Usage: `cargo run -p flotilla-profile --example sketch_bytes -- OUT_DIR`

use std::fmt::Write as _;
use std::path::PathBuf;

use datasketches::common::SearchCriteria;
use flotilla_profile::{ContentType, Profiler};

const ROWS: u64 = 50_000;
const RANKS: [f64; 9] = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: sketch_bytes OUT_DIR"));
    std::fs::create_dir_all(&out).expect("creating OUT_DIR");

    // x: a skewed number (some empty); city: a category with a heavy head and ~3000 names.
    let mut csv = String::from("x,city\n");
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for i in 0..ROWS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        let x = if i % 101 == 0 { String::new() } else { format!("{:?}", (u * 6.0).exp()) };
        let city = if u < 0.3 { "Paris".to_owned() } else { format!("city-{}", (u * u * 3000.0) as u64) };
        writeln!(csv, "{x},{city}").expect("writing to a string");
    }
    std::fs::write(out.join("data.csv"), &csv).expect("writing data.csv");

    let profile = Profiler::default().profile(csv.as_bytes(), ContentType::Csv).expect("profiling the generated CSV");
    let x = profile.feature("x").expect("x");
    let city = profile.feature("city").expect("city");
    std::fs::write(out.join("x.kll"), x.kll_bytes().expect("x is numeric")).expect("x.kll");
    std::fs::write(out.join("city.hll"), city.hll_bytes().expect("city is a category")).expect("city.hll");
    std::fs::write(out.join("city.freq"), city.frequent_items_bytes().expect("city is a category")).expect("city.freq");
    std::fs::write(out.join("profile.bin"), profile.to_bytes()).expect("profile.bin");

    let kll = &x.numeric().expect("x is numeric").kll;
    let quantiles: Vec<serde_json::Value> = RANKS
        .iter()
        .map(|&rank| {
            let q = kll.quantile(rank, SearchCriteria::Inclusive).expect("a valid rank").expect("a non-empty sketch");
            serde_json::json!({"rank": rank, "value": *q})
        })
        .collect();
    let summary = profile.summary();
    let expected = serde_json::json!({
        "rows": ROWS,
        "x": {"n": kll.n(), "quantiles": quantiles, "rank_error": kll.normalized_rank_error()},
        "city": {
            "distinct": city.category().expect("city is a category").hll.estimate(),
            "summary": summary.features[1].category,
        },
    });
    std::fs::write(out.join("expected.json"), serde_json::to_vec_pretty(&expected).expect("json"))
        .expect("expected.json");
    println!("{}", out.display());
}
