//! Synthetic telemetry for the generator (`flotilla fleet generate
//! --telemetry`, issue 15 point 8): a reference profile for the generated
//! fleet's shared training data, and a few encoded windows ([`WindowStats`]
//! bytes, drift counts binned against that profile) per window shape —
//! hour or day, drifting or not, slow or not — which the generator draws
//! per model and window. Encoding a handful of windows once, instead of
//! one per row, keeps the generator as fast as its bulk inserts.

use flotilla_drift::{Reference, Window};
use flotilla_profile::{ContentType, Profile, Profiler};

use super::stats::{ColumnStats, LATENCY_BUCKETS, WindowStats, latency_bucket};

/// The generated versions' columns: four inputs, then the prediction.
pub const COLUMNS: [&str; 5] = ["f0", "f1", "f2", "f3", "prediction"];
pub const INPUTS: usize = 4;
/// Variants per window shape (request volumes).
const VARIANTS: [u64; 4] = [60, 150, 300, 600];
/// Rows of the reference profile.
const REFERENCE_ROWS: usize = 20_000;

/// splitmix64, with uniform and normal draws.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

/// One row of features and the prediction; `drift` moves two inputs and so the prediction.
fn row(rng: &mut Rng, drift: bool) -> [f64; 5] {
    let shift = if drift { 0.8 } else { 0.0 };
    let f0 = rng.normal() + shift;
    let f1 = 10.0 * rng.unit() * if drift { 1.4 } else { 1.0 };
    let f2 = -rng.unit().ln();
    let f3 = 50.0 + 5.0 * rng.normal();
    [f0, f1, f2, f3, 2.0 * f0 + 0.5 * f1 + 0.1 * f3]
}

/// The shared training data's profile (the same bytes for every calendar
/// dataset, so every version's reference has one fingerprint).
pub fn reference_profile(seed: u64) -> Result<Profile, flotilla_profile::ProfileError> {
    let mut rng = Rng(seed ^ 0xA5A5);
    let mut csv = COLUMNS.join(",");
    csv.push('\n');
    for _ in 0..REFERENCE_ROWS {
        let r = row(&mut rng, false);
        let cells: Vec<String> = r.iter().map(|v| format!("{v:.5}")).collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    Profiler::default().profile(csv.as_bytes(), ContentType::Csv)
}

/// One encoded window of `requests` rows.
fn window(reference: &Reference, rng: &mut Rng, requests: u64, drift: bool, slow: bool) -> Vec<u8> {
    let index: Vec<Option<usize>> =
        COLUMNS.iter().map(|c| reference.features.iter().position(|f| f.name == *c)).collect();
    let mut drift_counts = Window::new(reference);
    let mut columns = vec![ColumnStats::default(); COLUMNS.len()];
    let mut latency = vec![0u64; LATENCY_BUCKETS];
    for _ in 0..requests {
        let r = row(rng, drift);
        for (c, v) in r.iter().enumerate() {
            columns[c].record(*v);
            if let Some(i) = index[c] {
                drift_counts.record_number(reference, i, *v);
            }
        }
        // About 4 ms, log-normal; a slow model's tenth take 1.5–3 s.
        let ms = if slow && rng.unit() < 0.1 { 1500.0 + 1500.0 * rng.unit() } else { 4.0 * (0.4 * rng.normal()).exp() };
        latency[latency_bucket((ms * 1e6) as u64)] += 1;
    }
    WindowStats { latency, columns, drift: Some(drift_counts), performance: None }.to_bytes()
}

/// Encoded windows per shape, indexed `day·4 + drifting·2 + slow`, each a
/// list of (requests, stats bytes): hours of [`VARIANTS`] requests, days of 24 times that.
pub fn templates(reference: &Reference, seed: u64) -> [Vec<(u64, Vec<u8>)>; 8] {
    let mut rng = Rng(seed ^ 0x5EED);
    std::array::from_fn(|shape| {
        let (day, drift, slow) = (shape & 4 != 0, shape & 2 != 0, shape & 1 != 0);
        VARIANTS
            .iter()
            .map(|n| {
                let requests = if day { n * 24 } else { *n };
                (requests, window(reference, &mut rng, requests, drift, slow))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_drift::{DriftConfig, Verdict, window_drift};

    #[test]
    fn drifting_templates_drift_and_others_do_not() {
        let profile = reference_profile(7).unwrap();
        let reference = Reference::from_profile(&profile);
        let t = templates(&reference, 7);
        let verdict = |bytes: &[u8]| {
            let stats = WindowStats::from_bytes(bytes).unwrap();
            let w = stats.drift.unwrap();
            let d = window_drift(&reference, &w, &DriftConfig::default()).unwrap();
            d.features.iter().filter(|f| f.verdict == Verdict::Drift).count()
        };
        for (requests, bytes) in &t[4] {
            assert_eq!(verdict(bytes), 0, "a day of {requests} requests without drift");
        }
        for (requests, bytes) in &t[6] {
            assert!(verdict(bytes) >= 2, "a drifting day of {requests} requests");
        }
        let slow = WindowStats::from_bytes(&t[5][3].1).unwrap();
        let p99 = super::super::stats::latency_quantile_ms(&slow.latency, 0.99).unwrap();
        assert!(p99 > 1000.0, "a slow day's p99 is {p99} ms");
    }
}
