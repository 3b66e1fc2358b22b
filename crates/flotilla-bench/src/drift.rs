//! `flotilla-bench drift`: how fast flotilla-drift judges a fleet's daily windows (issue 15's
//! target: every model's daily window at 10⁶ models in ≤ 60 s on 2 cores). No server.
//!
//! Models have 10 features (8 numbers, 2 categories). A few distinct reference profiles are
//! generated, profiled and prepared once; each model takes one of them and one of a few stored
//! daily windows (bytes, as telemetry keeps them, half of them shifted). Timed: reading the
//! prepared reference's bytes and the window's and judging it, over `--models` models on
//! `--threads` threads; and, apart, preparing a reference from a stored profile's bytes (what
//! storing the prepared reference saves); and judging each window against a traffic baseline
//! (another stored daily window of the same reference, read too) instead of the reference.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Result;
use flotilla_drift::{DriftConfig, Reference, Verdict, Window, baseline_drift, window_drift};
use flotilla_profile::{ContentType, Profile, Profiler};

/// `flotilla-bench drift`.
#[derive(clap::Args, Debug)]
pub struct DriftArgs {
    /// Models judged (each one window against its reference).
    #[arg(long, default_value_t = 200_000)]
    models: usize,
    /// Threads judging them.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Rows of each reference profile.
    #[arg(long, default_value_t = 20_000)]
    reference_rows: usize,
    /// Rows of each daily window.
    #[arg(long, default_value_t = 50_000)]
    window_rows: usize,
}

const DISTINCT: usize = 16;
const NUMERIC: usize = 8;
const CITIES: [&str; 6] = ["paris", "lyon", "nice", "lille", "brest", "metz"];

struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    fn city(&mut self, skew: f64) -> &'static str {
        let i = (self.uniform().powf(1.0 + skew) * CITIES.len() as f64) as usize;
        CITIES[i.min(CITIES.len() - 1)]
    }
}

fn reference_profile(rows: usize, seed: u64) -> Result<Profile> {
    let mut rng = Rng(seed);
    let mut csv = String::new();
    let header: Vec<String> = (0..NUMERIC).map(|i| format!("n{i}")).chain(["c0".into(), "c1".into()]).collect();
    writeln!(csv, "{}", header.join(","))?;
    for _ in 0..rows {
        for i in 0..NUMERIC {
            write!(csv, "{},", rng.normal() * (i + 1) as f64)?;
        }
        writeln!(csv, "{},{}", rng.city(0.0), rng.city(1.0))?;
    }
    Ok(Profiler::default().profile(csv.as_bytes(), ContentType::Csv)?)
}

fn daily_window(reference: &Reference, rows: usize, shift: f64, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut window = Window::new(reference);
    for _ in 0..rows {
        for i in 0..NUMERIC {
            window.record_number(reference, i, (rng.normal() + shift) * (i + 1) as f64);
        }
        window.record_category(reference, NUMERIC, rng.city(shift));
        window.record_category(reference, NUMERIC + 1, rng.city(1.0 + shift));
    }
    window.to_bytes()
}

pub fn run(args: &DriftArgs) -> Result<()> {
    eprintln!("bench: profiling {DISTINCT} references of {} rows and their windows", args.reference_rows);
    let profiles: Vec<Vec<u8>> = (0..DISTINCT)
        .map(|i| reference_profile(args.reference_rows, 0x5eed + i as u64).map(|p| p.to_bytes()))
        .collect::<Result<_>>()?;

    // Preparing a reference from its stored bytes, timed alone: reading the profile, then
    // preparing the reference from it.
    let reps = 200;
    let started = Instant::now();
    let decoded: Vec<Profile> =
        (0..reps).map(|r| Profile::from_bytes(&profiles[r % DISTINCT])).collect::<Result<_, _>>()?;
    let read = started.elapsed().as_secs_f64() / reps as f64;
    let started = Instant::now();
    let mut references: Vec<Reference> = decoded.iter().map(Reference::from_profile).collect();
    let prepare = started.elapsed().as_secs_f64() / reps as f64;
    references.truncate(DISTINCT);
    let prepared: Vec<Vec<u8>> = references.iter().map(Reference::to_bytes).collect();
    let reference_bytes = prepared.iter().map(Vec::len).max().unwrap_or(0);

    let windows: Vec<Vec<u8>> = (0..DISTINCT)
        .map(|i| daily_window(&references[i], args.window_rows, if i % 2 == 0 { 0.0 } else { 0.5 }, 77 + i as u64))
        .collect();
    let window_bytes = windows.iter().map(Vec::len).max().unwrap_or(0);
    let baselines: Vec<Vec<u8>> =
        (0..DISTINCT).map(|i| daily_window(&references[i], args.window_rows, 0.0, 177 + i as u64)).collect();
    let config = DriftConfig::default();

    eprintln!("bench: judging {} models on {} threads", args.models, args.threads);
    let threads = args.threads.max(1);
    let (cached, drifted) = judge(args.models, threads, |m| {
        let window = Window::from_bytes(&windows[m % DISTINCT])?;
        Ok(window_drift(&references[m % DISTINCT], &window, &config)?.verdict)
    })?;
    let (stored, _) = judge(args.models, threads, |m| {
        let reference = Reference::from_bytes(&prepared[m % DISTINCT])?;
        let window = Window::from_bytes(&windows[m % DISTINCT])?;
        Ok(window_drift(&reference, &window, &config)?.verdict)
    })?;
    let (against_traffic, traffic_drifted) = judge(args.models, threads, |m| {
        let baseline = Window::from_bytes(&baselines[m % DISTINCT])?;
        let window = Window::from_bytes(&windows[m % DISTINCT])?;
        Ok(baseline_drift(&references[m % DISTINCT], &baseline, &window, &config)?.verdict)
    })?;
    println!("| drift, 10 features (8 numeric, 2 categorical) | figure |");
    println!("| --- | --- |");
    println!("| models judged | {} on {threads} threads, {drifted} drifted |", args.models);
    println!("| window bytes (a day of {} rows) | {window_bytes} |", args.window_rows);
    println!("| prepared reference bytes | {reference_bytes} |");
    println!("| against a traffic baseline: {traffic_drifted} drifted |");
    let rows = [
        ("reference in memory", cached),
        ("reference read from its bytes", stored),
        ("traffic baseline window read from its bytes", against_traffic),
    ];
    for (label, rate) in rows {
        println!("| {label}: read window + judge, per model per thread | {:.1} µs |", threads as f64 / rate * 1e6);
        println!("| {label}: models/s | {rate:.0} |");
        println!("| {label}: 10⁶ models' daily windows | {:.1} s |", 1e6 / rate);
    }
    println!("| read a stored profile (`Profile::from_bytes`), per model | {:.1} µs |", read * 1e6);
    println!("| prepare the reference from it, per model | {:.1} µs |", prepare * 1e6);
    println!(
        "| 10⁶ references read and prepared, {threads} threads | {:.1} s |",
        1e6 * (read + prepare) / threads as f64
    );
    Ok(())
}

/// Runs `one(model)` for `models` models on `threads` threads: models/s and how many drifted.
fn judge(models: usize, threads: usize, one: impl Fn(usize) -> Result<Verdict> + Sync) -> Result<(f64, usize)> {
    let started = Instant::now();
    let drifted = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let one = &one;
                s.spawn(move || -> Result<usize> {
                    let mut drifted = 0;
                    for m in (t..models).step_by(threads) {
                        drifted += usize::from(one(m)? == Verdict::Drift);
                    }
                    Ok(drifted)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a bench thread panicked")).sum::<Result<usize>>()
    })?;
    Ok((models as f64 / started.elapsed().as_secs_f64(), drifted))
}
