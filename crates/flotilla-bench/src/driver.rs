//! The load driver: N concurrent clients share a fixed number of jobs under a time cap.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::http::{Http, Target};

/// What one operation measured: successful latencies, failures and wall-clock time.
#[derive(Debug, Clone, Default)]
pub struct OpStats {
    pub planned: usize,
    /// Latencies of the successful jobs, sorted ascending.
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub first_errors: Vec<String>,
    pub wall: Duration,
    /// True when the time cap stopped the run before all planned jobs were done.
    pub capped: bool,
}

impl OpStats {
    pub fn ok(&self) -> usize {
        self.latencies.len()
    }

    /// Nearest-rank percentile of the successful latencies, `q` in 0..=1.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        let n = self.latencies.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        Some(self.latencies[rank - 1])
    }

    /// Successful jobs per second of wall-clock time.
    pub fn throughput(&self) -> Option<f64> {
        let secs = self.wall.as_secs_f64();
        (self.ok() > 0 && secs > 0.0).then(|| self.ok() as f64 / secs)
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        let ms = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.2}ms", d.as_secs_f64() * 1e3));
        format!(
            "{}/{} ok, {} errors, {:.2?} wall, p50 {}, p99 {}{}",
            self.ok(),
            self.planned,
            self.errors,
            self.wall,
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            if self.capped { " (time cap hit)" } else { "" }
        )
    }
}

/// Runs jobs `0..total` on `clients` concurrent clients, each with its own connection, until
/// all are done or `cap` has passed. A job gets its client and index and returns the latency it
/// measured, or an error description; errors are counted, never fatal.
pub async fn drive<F, Fut>(base: &Target, clients: usize, total: usize, cap: Duration, job: F) -> OpStats
where
    F: Fn(Http, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Duration, String>> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..clients.max(1) {
        let (job, next, http) = (Arc::clone(&job), Arc::clone(&next), Http::new(base));
        set.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = Vec::new();
            let mut capped = false;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                if start.elapsed() > cap {
                    capped = true;
                    break;
                }
                match job(http.clone(), i).await {
                    Ok(d) => lat.push(d),
                    Err(e) => errors.push(e),
                }
            }
            (lat, errors, capped)
        });
    }
    let mut stats = OpStats { planned: total, ..OpStats::default() };
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((lat, errors, capped)) => {
                stats.latencies.extend(lat);
                stats.errors += errors.len();
                stats.capped |= capped;
                for e in errors {
                    if stats.first_errors.len() < 3 && !stats.first_errors.contains(&e) {
                        stats.first_errors.push(e);
                    }
                }
            }
            Err(e) => {
                stats.errors += 1;
                stats.first_errors.push(format!("client task failed: {e}"));
            }
        }
    }
    stats.wall = start.elapsed();
    stats.latencies.sort_unstable();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ms: &[u64]) -> OpStats {
        let latencies = ms.iter().map(|&m| Duration::from_millis(m)).collect();
        OpStats { latencies, wall: Duration::from_secs(2), ..OpStats::default() }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = stats(&(1..=100).collect::<Vec<_>>());
        for (q, want) in [(0.5, 50), (0.99, 99), (1.0, 100), (0.0, 1)] {
            assert_eq!(s.percentile(q), Some(Duration::from_millis(want)), "q={q}");
        }
        assert_eq!(stats(&[7]).percentile(0.99), Some(Duration::from_millis(7)));
        assert_eq!(stats(&[]).percentile(0.5), None);
    }

    #[test]
    fn throughput_counts_successes_over_wall_time() {
        assert_eq!(stats(&[1, 2, 3, 4]).throughput(), Some(2.0));
        assert_eq!(stats(&[]).throughput(), None);
    }
}
