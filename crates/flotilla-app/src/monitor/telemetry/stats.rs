//! The per-window encoded form (`monitor_windows.stats`, see
//! `flotilla_store::monitor`): a latency histogram over fixed log-scale
//! buckets, per column (inputs then outputs, named once per version in
//! `monitor_versions.columns`) counts, nulls, NaN and Σv, Σv², the drift
//! counts (`flotilla_drift::Window` bytes against the reference whose
//! fingerprint the row keeps), and performance once labels arrive (error
//! sums for regression; hits, log-loss and binned score histograms per
//! class for classification, so ROC AUC merges by adding). Everything
//! merges by adding, so minutes roll up into hours and days
//! ([`StatsMerger`]). Bytes: a version byte, then LEB128 varints and
//! little-endian f64; lengths are checked before anything is allocated.

use flotilla_drift::Window;
use flotilla_store::monitor::{Grain, StatsMerge};

const VERSION: u8 = 1;
/// Latency buckets: 4 per doubling from 1 µs, so a quantile read from
/// them is within 10 % of the true one; the last bucket holds the rest.
pub const LATENCY_BUCKETS: usize = 112;
/// Score bins of the per-class histograms ROC AUC is read from.
pub const SCORE_BINS: usize = 50;
/// The most columns a stored window may claim.
pub const MAX_COLUMNS: usize = 4096;

/// One window's statistics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowStats {
    /// Requests per latency bucket ([`latency_bucket`]).
    pub latency: Vec<u64>,
    pub columns: Vec<ColumnStats>,
    /// Drift counts against the version's reference.
    pub drift: Option<Window>,
    pub performance: Option<Performance>,
}

/// One input or output column's figures in a window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ColumnStats {
    /// Finite numbers or category values.
    pub count: u64,
    pub nulls: u64,
    /// NaN and infinities.
    pub nans: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl ColumnStats {
    pub fn record(&mut self, v: f64) {
        if v.is_finite() {
            self.count += 1;
            self.sum += v;
            self.sum_sq += v * v;
        } else {
            self.nans += 1;
        }
    }

    pub fn add(&mut self, o: &ColumnStats) {
        self.count += o.count;
        self.nulls += o.nulls;
        self.nans += o.nans;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    /// The mean of the numbers seen.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// Nulls and NaN over every value seen.
    pub fn null_share(&self) -> f64 {
        let all = self.count + self.nulls + self.nans;
        if all == 0 { 0.0 } else { (self.nulls + self.nans) as f64 / all as f64 }
    }
}

/// Labeled predictions' figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Performance {
    /// Regression: pairs, Σ|e|, Σe².
    pub regression: u64,
    pub abs_error: f64,
    pub sq_error: f64,
    /// Classification: pairs, correct ones, log-loss over pairs with a score.
    pub classified: u64,
    pub correct: u64,
    pub scored: u64,
    pub log_loss: f64,
    /// Scores of positive and of negative labels over [`SCORE_BINS`] bins of [0, 1].
    pub positives: Vec<u64>,
    pub negatives: Vec<u64>,
}

impl Performance {
    pub fn add(&mut self, o: &Performance) {
        self.regression += o.regression;
        self.abs_error += o.abs_error;
        self.sq_error += o.sq_error;
        self.classified += o.classified;
        self.correct += o.correct;
        self.scored += o.scored;
        self.log_loss += o.log_loss;
        add_counts(&mut self.positives, &o.positives);
        add_counts(&mut self.negatives, &o.negatives);
    }

    pub fn rmse(&self) -> Option<f64> {
        (self.regression > 0).then(|| (self.sq_error / self.regression as f64).sqrt())
    }

    pub fn mae(&self) -> Option<f64> {
        (self.regression > 0).then(|| self.abs_error / self.regression as f64)
    }

    pub fn accuracy(&self) -> Option<f64> {
        (self.classified > 0).then(|| self.correct as f64 / self.classified as f64)
    }

    pub fn mean_log_loss(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.log_loss / self.scored as f64)
    }

    /// ROC AUC from the binned histograms (ties within a bin count half).
    pub fn roc_auc(&self) -> Option<f64> {
        let p: u64 = self.positives.iter().sum();
        let n: u64 = self.negatives.iter().sum();
        if p == 0 || n == 0 {
            return None;
        }
        let mut above = 0u64; // positives in higher bins
        let mut area = 0.0;
        for b in (0..SCORE_BINS).rev() {
            let pb = self.positives.get(b).copied().unwrap_or(0);
            let nb = self.negatives.get(b).copied().unwrap_or(0);
            area += nb as f64 * (above as f64 + pb as f64 / 2.0);
            above += pb;
        }
        Some(area / (p as f64 * n as f64))
    }

    /// The bin of a score in [0, 1].
    pub fn score_bin(score: f64) -> usize {
        ((score.clamp(0.0, 1.0) * SCORE_BINS as f64) as usize).min(SCORE_BINS - 1)
    }
}

fn add_counts(into: &mut Vec<u64>, from: &[u64]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    into.iter_mut().zip(from).for_each(|(a, b)| *a += b);
}

/// The latency bucket of a duration in nanoseconds: `4·log2(ns / 1000)`.
pub fn latency_bucket(ns: u64) -> usize {
    if ns <= 1000 {
        return 0;
    }
    let x = ns as f64 / 1000.0;
    ((x.log2() * 4.0).floor() as usize + 1).min(LATENCY_BUCKETS - 1)
}

/// The upper bound of a bucket, in nanoseconds.
pub fn bucket_upper_ns(bucket: usize) -> f64 {
    1000.0 * 2f64.powf(bucket as f64 / 4.0)
}

/// The `q` quantile (0..1) of a latency histogram, in milliseconds: the
/// upper bound of the bucket holding it.
pub fn latency_quantile_ms(latency: &[u64], q: f64) -> Option<f64> {
    let total: u64 = latency.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (b, c) in latency.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(bucket_upper_ns(b) / 1e6);
        }
    }
    None
}

impl WindowStats {
    /// Adds another window's stats (a roll-up). Drift counts of another
    /// reference replace these (the newer reference wins).
    pub fn add(&mut self, o: &WindowStats) {
        add_counts(&mut self.latency, &o.latency);
        if self.columns.len() < o.columns.len() {
            self.columns.resize(o.columns.len(), ColumnStats::default());
        }
        self.columns.iter_mut().zip(&o.columns).for_each(|(a, b)| a.add(b));
        match (&mut self.drift, &o.drift) {
            (Some(a), Some(b)) => {
                if a.merge(b).is_err() {
                    *a = b.clone();
                }
            }
            (None, Some(b)) => self.drift = Some(b.clone()),
            (_, None) => {}
        }
        match (&mut self.performance, &o.performance) {
            (Some(a), Some(b)) => a.add(b),
            (None, Some(b)) => self.performance = Some(b.clone()),
            (_, None) => {}
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 24 * self.columns.len());
        out.push(VERSION);
        sparse(&mut out, &self.latency);
        varint(&mut out, self.columns.len() as u64);
        for c in &self.columns {
            varint(&mut out, c.count);
            varint(&mut out, c.nulls);
            varint(&mut out, c.nans);
            if c.count > 0 {
                out.extend_from_slice(&c.sum.to_le_bytes());
                out.extend_from_slice(&c.sum_sq.to_le_bytes());
            }
        }
        match &self.drift {
            Some(w) => {
                let bytes = w.to_bytes();
                varint(&mut out, bytes.len() as u64 + 1);
                out.extend_from_slice(&bytes);
            }
            None => varint(&mut out, 0),
        }
        match &self.performance {
            Some(p) => {
                out.push(1);
                for n in [p.regression, p.classified, p.correct, p.scored] {
                    varint(&mut out, n);
                }
                for x in [p.abs_error, p.sq_error, p.log_loss] {
                    out.extend_from_slice(&x.to_le_bytes());
                }
                sparse(&mut out, &p.positives);
                sparse(&mut out, &p.negatives);
            }
            None => out.push(0),
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<WindowStats, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.byte()? != VERSION {
            return Err("unknown telemetry window version".into());
        }
        let latency = r.sparse(LATENCY_BUCKETS)?;
        let n = r.len(MAX_COLUMNS)?;
        let mut columns = Vec::with_capacity(n);
        for _ in 0..n {
            let (count, nulls, nans) = (r.varint()?, r.varint()?, r.varint()?);
            let (sum, sum_sq) = if count > 0 { (r.f64()?, r.f64()?) } else { (0.0, 0.0) };
            columns.push(ColumnStats { count, nulls, nans, sum, sum_sq });
        }
        let drift_len = r.varint()? as usize;
        let drift = if drift_len == 0 {
            None
        } else {
            let raw = r.take(drift_len - 1)?;
            Some(Window::from_bytes(raw).map_err(|e| e.to_string())?)
        };
        let performance = if r.byte()? == 1 {
            let (regression, classified, correct, scored) = (r.varint()?, r.varint()?, r.varint()?, r.varint()?);
            let (abs_error, sq_error, log_loss) = (r.f64()?, r.f64()?, r.f64()?);
            Some(Performance {
                regression,
                abs_error,
                sq_error,
                classified,
                correct,
                scored,
                log_loss,
                positives: r.sparse(SCORE_BINS)?,
                negatives: r.sparse(SCORE_BINS)?,
            })
        } else {
            None
        };
        Ok(WindowStats { latency, columns, drift, performance })
    }
}

/// The merge the store calls: decode both, add, encode. A stored window
/// that does not decode is replaced by the delta (logged), so one bad row
/// never blocks every later flush.
pub struct StatsMerger;

impl StatsMerge for StatsMerger {
    fn merge(&self, grain: Grain, stored: Option<&[u8]>, delta: &[u8]) -> Result<Vec<u8>, String> {
        let Some(stored) = stored else { return Ok(delta.to_vec()) };
        let d = WindowStats::from_bytes(delta)?;
        match WindowStats::from_bytes(stored) {
            Ok(mut s) => {
                s.add(&d);
                Ok(s.to_bytes())
            }
            Err(error) => {
                tracing::warn!(grain = ?grain, %error, "stored telemetry window unreadable, replaced");
                Ok(delta.to_vec())
            }
        }
    }
}

/// Non-zero entries only: (gap since the previous one, count) pairs.
fn sparse(out: &mut Vec<u8>, counts: &[u64]) {
    let nonzero = counts.iter().filter(|c| **c > 0).count();
    varint(out, nonzero as u64);
    let mut last = 0usize;
    for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        varint(out, (i - last) as u64);
        varint(out, *c);
        last = i;
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.at).ok_or("telemetry window truncated")?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("telemetry window varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or("telemetry window truncated")?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn f64(&mut self) -> Result<f64, String> {
        let raw = self.take(8)?;
        Ok(f64::from_le_bytes(raw.try_into().map_err(|_| "telemetry window truncated")?))
    }

    fn len(&mut self, max: usize) -> Result<usize, String> {
        let n = self.varint()? as usize;
        if n > max || n > self.bytes.len() - self.at {
            return Err("telemetry window claims more than it holds".into());
        }
        Ok(n)
    }

    fn sparse(&mut self, size: usize) -> Result<Vec<u64>, String> {
        let n = self.len(size)?;
        let mut out = vec![0; if n == 0 { 0 } else { size }];
        let mut at = 0usize;
        for _ in 0..n {
            at += self.varint()? as usize;
            let c = self.varint()?;
            *out.get_mut(at).ok_or("telemetry window bucket out of range")? = c;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_round_trip_and_merge_by_adding() {
        let mut a = WindowStats { latency: vec![0; LATENCY_BUCKETS], ..WindowStats::default() };
        a.latency[latency_bucket(2_000_000)] += 3;
        a.columns = vec![ColumnStats::default(); 2];
        a.columns[0].record(1.0);
        a.columns[0].record(f64::NAN);
        a.columns[1].nulls = 2;
        let mut p =
            Performance { positives: vec![0; SCORE_BINS], negatives: vec![0; SCORE_BINS], ..Default::default() };
        p.positives[Performance::score_bin(0.9)] = 2;
        p.negatives[Performance::score_bin(0.1)] = 2;
        p.regression = 1;
        p.sq_error = 4.0;
        a.performance = Some(p);
        let back = WindowStats::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back, a);
        let merged = StatsMerger.merge(Grain::Hour, Some(&a.to_bytes()), &a.to_bytes()).unwrap();
        let m = WindowStats::from_bytes(&merged).unwrap();
        assert_eq!(m.latency.iter().sum::<u64>(), 6);
        assert_eq!((m.columns[0].count, m.columns[0].nans, m.columns[1].nulls), (2, 2, 4));
        let perf = m.performance.unwrap();
        assert_eq!((perf.roc_auc(), perf.rmse()), (Some(1.0), Some(2.0)));
        // p50 of 2 ms read back within a bucket (19 %).
        let p50 = latency_quantile_ms(&m.latency, 0.5).unwrap();
        assert!((2.0..2.4).contains(&p50), "{p50}");
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        for bytes in [&[][..], &[1], &[1, 200, 1], &[1, 0, 255, 255, 255, 255, 1], &[2, 0]] {
            assert!(WindowStats::from_bytes(bytes).is_err(), "{bytes:?}");
        }
    }
}
