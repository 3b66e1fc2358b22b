//! Profiles a file and prints the time, the profile's bytes and its JSON summary.
//!
//! Usage: `cargo run --release -p flotilla-profile --example profile_file -- FILE [--json] [--threads N]`

use std::time::Instant;

use flotilla_profile::{ContentType, Profiler, ProfilerConfig};

fn main() {
    let path = std::env::args().nth(1).expect("usage: profile_file FILE [--json]");
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let mut config = ProfilerConfig::default();
    if let Some(at) = args.iter().position(|a| a == "--threads") {
        config.threads = args.get(at + 1).and_then(|n| n.parse().ok()).expect("--threads N");
    }
    let content_type = ContentType::from_path(path.as_ref()).expect("a .csv, .parquet or .arrows file");
    let started = Instant::now();
    let file = std::fs::File::open(&path).expect("opening the file");
    let profile = Profiler::new(config).profile_file(file, content_type).expect("profiling");
    let elapsed = started.elapsed();
    eprintln!(
        "{} rows, {} features in {elapsed:.3?}; {} bytes",
        profile.rows,
        profile.features.len(),
        profile.to_bytes().len()
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&profile.summary()).expect("json"));
    }
}
