//! Serving telemetry (issue 15, point 1): what every served version did per
//! base window, recorded on the hot path and flushed to the store's
//! windows (`flotilla_store::monitor`), which roll up into hours and days.
//!
//! Recording touches only the request's own version: versions live in a
//! map sharded by hash (a shard's lock is held for a lookup), each behind
//! its own mutex, so requests to different versions never wait on each
//! other. A version's state holds the open window and the windows closed
//! since the last flush; [`run_flusher`] closes windows on the boundary
//! and writes every closed one in ONE store transaction on the blocking
//! pool, prunes by retention every so often, and drops versions idle for
//! [`IDLE_WINDOWS`] windows, so memory is bounded by the versions active
//! recently. The V2 statistics (`/v2/models/{m}/stats`) are this state's
//! cumulative counters, since the version's state was made.

pub mod ingest;
pub mod ingest_arrow;
pub mod post;
pub mod read;
pub mod reference;
pub mod stats;
pub mod synthetic;
mod tensors;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flotilla_core::VersionNumber;
use flotilla_drift::{Reference, Window};
use flotilla_infer::Tensor;
use flotilla_store::Store;
use flotilla_store::monitor::{CacheCounts, ErrorCounts, Retention, WindowDelta};

use self::stats::{ColumnStats, LATENCY_BUCKETS, StatsMerger, WindowStats, latency_bucket};
use self::tensors::{Drift, column_names, record_tensor, rows_of, width};

/// Windows a version may stay idle before its state is dropped.
pub const IDLE_WINDOWS: u32 = 10;
const SHARDS: usize = 64;
/// The most columns recorded per version (wider inputs count rows only).
pub const MAX_RECORDED_COLUMNS: usize = 1024;

/// Telemetry's settings (`--monitor`, `--monitor-window`, `--monitor-retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelemetryConfig {
    pub window_ms: i64,
    pub retention: Retention,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { window_ms: 60_000, retention: Retention::default() }
    }
}

/// How a failed request is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// 4xx.
    Client,
    /// 503.
    Unavailable,
    /// 507.
    TooLarge,
    /// Other 5xx.
    Server,
}

impl ErrorClass {
    /// The class of an HTTP status, `None` for a success.
    pub fn of_status(status: u16) -> Option<ErrorClass> {
        match status {
            0..400 => None,
            503 => Some(ErrorClass::Unavailable),
            507 => Some(ErrorClass::TooLarge),
            400..500 => Some(ErrorClass::Client),
            _ => Some(ErrorClass::Server),
        }
    }
}

/// Where a request's time went, in nanoseconds (V2's figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    pub total_ns: u64,
    /// Decoding the request's tensors.
    pub input_ns: u64,
    /// Resolving, loading and predicting.
    pub infer_ns: u64,
    /// Encoding the answer.
    pub output_ns: u64,
}

/// One request, as the V2 adapter saw it.
pub struct InferRecord<'a> {
    pub inputs: &'a [Tensor],
    pub outputs: &'a [&'a Tensor],
    /// The input column names of the model's signature (empty without one).
    pub signature: &'a [String],
    pub timing: Timing,
    pub error: Option<ErrorClass>,
    /// How the model was found (`None` when no model answered).
    pub cache: Option<CacheUse>,
}

/// How a request found its model in the serving cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheUse {
    /// In memory already; else the request waited for its load.
    pub hit: bool,
    /// The loaded model's measured bytes.
    pub model_bytes: u64,
}

/// A (count, cumulative ns) pair of V2's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Duration2 {
    pub count: u64,
    pub ns: u64,
}

impl Duration2 {
    fn add(&mut self, ns: u64) {
        self.count += 1;
        self.ns += ns;
    }
}

/// A version's V2 statistics since its state was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct V2Stats {
    pub last_inference_ms: i64,
    pub inference_count: u64,
    pub execution_count: u64,
    pub success: Duration2,
    pub fail: Duration2,
    pub queue: Duration2,
    pub compute_input: Duration2,
    pub compute_infer: Duration2,
    pub compute_output: Duration2,
}

#[derive(Debug, Default)]
struct Open {
    start_ms: i64,
    requests: u64,
    rows: u64,
    errors: ErrorCounts,
    cache: CacheCounts,
    stats: WindowStats,
    /// The reference `stats.drift` is binned against.
    fingerprint: Option<u64>,
}

impl Open {
    fn new(start_ms: i64, reference: Option<&Reference>) -> Open {
        let mut open = Open { start_ms, ..Open::default() };
        if let Some(r) = reference {
            open.stats.drift = Some(Window::new(r));
            open.fingerprint = Some(r.fingerprint);
        }
        open
    }

    fn is_empty(&self) -> bool {
        self.requests == 0 && self.rows == 0
    }
}

#[derive(Debug, Default)]
struct VersionState {
    open: Open,
    closed: Vec<Open>,
    columns: Option<(usize, Vec<String>)>,
    columns_sent: bool,
    idle: u32,
    v2: V2Stats,
    reference: Option<Arc<Reference>>,
    /// Each column's reference feature, once columns and reference are known.
    map: Option<Vec<Option<usize>>>,
}

impl VersionState {
    /// Takes the reference: windows from now on are binned against it.
    fn set_reference(&mut self, reference: Arc<Reference>) {
        if self.open.stats.drift.is_none() {
            self.open.stats.drift = Some(Window::new(&reference));
            self.open.fingerprint = Some(reference.fingerprint);
        }
        self.reference = Some(reference);
        self.map = None;
    }

    /// Maps the columns onto the reference (renaming positional inputs).
    fn ensure_map(&mut self) {
        if self.map.is_some() {
            return;
        }
        let (Some(reference), Some((inputs, columns))) = (&self.reference, &mut self.columns) else { return };
        let (map, names) = reference::map_columns(*inputs, columns, reference);
        if let Some(names) = names {
            *columns = names;
            self.columns_sent = false;
        }
        self.map = Some(map);
    }
}

/// A shard: models by name (a lookup by `&str`, no allocation per
/// request), each with its active versions.
type Shard = HashMap<String, Vec<(VersionNumber, Arc<Mutex<VersionState>>)>>;

/// The recorder and its state; one per server.
pub struct Telemetry {
    config: TelemetryConfig,
    /// Where references are looked up; `None`: windows carry no drift counts.
    store: Option<Arc<dyn Store>>,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<RwLock<Shard>>,
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Telemetry {
    pub fn new(config: TelemetryConfig) -> Telemetry {
        Telemetry {
            config,
            store: None,
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }

    /// Looks up each newly active version's training reference in `store`
    /// (on the blocking pool), so its windows carry drift counts.
    pub fn with_references(mut self, store: Arc<dyn Store>) -> Telemetry {
        self.store = Some(store);
        self
    }

    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    fn shard(&self, model: &str) -> &RwLock<Shard> {
        &self.shards[(self.hasher.hash_one(model) as usize) % SHARDS]
    }

    fn state(&self, model: &str, version: VersionNumber) -> Arc<Mutex<VersionState>> {
        let shard = self.shard(model);
        let find = |map: &Shard| {
            map.get(model).and_then(|vs| vs.iter().find(|(v, _)| *v == version)).map(|(_, s)| Arc::clone(s))
        };
        if let Some(s) = find(&shard.read().unwrap_or_else(|p| p.into_inner())) {
            return s;
        }
        let mut map = shard.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = find(&map) {
            return s;
        }
        let state = Arc::new(Mutex::new(VersionState::default()));
        map.entry(model.to_string()).or_default().push((version, Arc::clone(&state)));
        drop(map);
        self.look_up_reference(model, version, &state);
        state
    }

    fn look_up_reference(&self, model: &str, version: VersionNumber, state: &Arc<Mutex<VersionState>>) {
        let (Some(store), Ok(runtime)) = (self.store.clone(), tokio::runtime::Handle::try_current()) else { return };
        let (model, state) = (model.to_string(), Arc::downgrade(state));
        runtime.spawn_blocking(move || match reference::version_reference(store.as_ref(), &model, version) {
            Ok(Some(r)) => {
                if let Some(state) = state.upgrade() {
                    state.lock().unwrap_or_else(|p| p.into_inner()).set_reference(r);
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(model = %model, version = version.get(), %error, "no telemetry reference"),
        });
    }

    /// Looks up again the reference of each of `model`'s active versions
    /// (after its baseline changed): their next windows are binned against
    /// the new one, as the drift read will judge them.
    pub fn refresh_references(&self, model: &str) {
        let states: Vec<(VersionNumber, Arc<Mutex<VersionState>>)> = {
            let shard = self.shard(model).read().unwrap_or_else(|p| p.into_inner());
            shard.get(model).map(|vs| vs.iter().map(|(v, s)| (*v, Arc::clone(s))).collect()).unwrap_or_default()
        };
        for (version, state) in states {
            self.look_up_reference(model, version, &state);
        }
    }

    fn window_start(&self, t_ms: i64) -> i64 {
        t_ms.div_euclid(self.config.window_ms) * self.config.window_ms
    }

    /// Records one V2 request of `model`'s `version`.
    pub fn record_infer(&self, model: &str, version: VersionNumber, rec: &InferRecord<'_>) {
        let now = now_ms();
        let start = self.window_start(now);
        let state = self.state(model, version);
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        if s.open.start_ms != start {
            let fresh = Open::new(start, s.reference.as_deref());
            let old = std::mem::replace(&mut s.open, fresh);
            if !old.is_empty() {
                s.closed.push(old);
            }
        }
        s.idle = 0;
        let t = rec.timing;
        s.v2.last_inference_ms = now;
        s.v2.inference_count += 1;
        s.v2.execution_count += 1;
        match rec.error {
            None => s.v2.success.add(t.total_ns),
            Some(_) => s.v2.fail.add(t.total_ns),
        }
        s.v2.compute_input.add(t.input_ns);
        s.v2.compute_infer.add(t.infer_ns);
        s.v2.compute_output.add(t.output_ns);
        s.v2.queue.add(0);
        if s.columns.is_none() && rec.error.is_none() {
            s.columns = Some(column_names(rec.inputs, rec.outputs, rec.signature));
        }
        s.ensure_map();
        let n_columns = s.columns.as_ref().map(|(_, c)| c.len()).unwrap_or(0);
        let n_inputs = s.columns.as_ref().map(|(i, _)| *i).unwrap_or(0);
        let s = &mut *s;
        let open = &mut s.open;
        open.requests += 1;
        match rec.error {
            None => {}
            Some(ErrorClass::Client) => open.errors.client += 1,
            Some(ErrorClass::Unavailable) => open.errors.unavailable += 1,
            Some(ErrorClass::TooLarge) => open.errors.too_large += 1,
            Some(ErrorClass::Server) => open.errors.server += 1,
        }
        if open.stats.latency.is_empty() {
            open.stats.latency = vec![0; LATENCY_BUCKETS];
        }
        open.stats.latency[latency_bucket(t.total_ns)] += 1;
        if let Some(c) = rec.cache {
            let used = CacheCounts { hits: c.hit.into(), misses: (!c.hit).into(), model_bytes: c.model_bytes };
            open.cache.add(&used);
        }
        if rec.error.is_some() {
            return;
        }
        open.rows += rec.inputs.first().map(rows_of).unwrap_or(0) as u64;
        if open.stats.columns.len() < n_columns {
            open.stats.columns.resize(n_columns, ColumnStats::default());
        }
        let mut drift = match (&s.reference, &mut open.stats.drift, &s.map) {
            (Some(reference), Some(window), Some(map)) => Some(Drift { reference, window, map }),
            _ => None,
        };
        let mut at = 0;
        for tensor in rec.inputs {
            record_tensor(&mut open.stats.columns, at, tensor, &mut drift);
            at += width(tensor);
        }
        let mut at = n_inputs;
        for tensor in rec.outputs {
            record_tensor(&mut open.stats.columns, at, tensor, &mut drift);
            at += width(tensor);
        }
    }

    /// The V2 statistics of the versions of `model` with state (one version, or all).
    pub fn v2_stats(&self, model: &str, version: Option<VersionNumber>) -> Vec<(VersionNumber, V2Stats)> {
        let map = self.shard(model).read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(VersionNumber, V2Stats)> = map
            .get(model)
            .into_iter()
            .flatten()
            .filter(|(v, _)| version.is_none_or(|want| want == *v))
            .map(|(v, s)| (*v, s.lock().unwrap_or_else(|p| p.into_inner()).v2))
            .collect();
        out.sort_by_key(|(v, _)| *v);
        out
    }

    /// Versions with state now (what memory holds).
    pub fn active(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum::<usize>())
            .sum()
    }

    /// Takes the closed windows (every window, `all`: at shutdown) as
    /// deltas, and drops versions idle for [`IDLE_WINDOWS`].
    pub fn take_closed(&self, now_ms: i64, all: bool) -> Vec<WindowDelta> {
        let current = self.window_start(now_ms);
        let mut deltas = Vec::new();
        for shard in &self.shards {
            let mut map = shard.write().unwrap_or_else(|p| p.into_inner());
            for (model, versions) in map.iter_mut() {
                versions.retain(|(version, state)| {
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    if s.open.start_ms < current || all {
                        let fresh = Open::new(current, s.reference.as_deref());
                        let old = std::mem::replace(&mut s.open, fresh);
                        if !old.is_empty() {
                            s.closed.push(old);
                        }
                    }
                    let closed = std::mem::take(&mut s.closed);
                    if closed.is_empty() && s.open.is_empty() {
                        s.idle += 1;
                    }
                    for w in closed {
                        let columns = if s.columns_sent { None } else { s.columns.clone() };
                        s.columns_sent |= columns.is_some();
                        deltas.push(WindowDelta {
                            model: model.clone(),
                            version: *version,
                            start_ms: w.start_ms,
                            length_ms: self.config.window_ms,
                            requests: w.requests,
                            rows: w.rows,
                            errors: w.errors,
                            cache: w.cache,
                            fingerprint: w.fingerprint,
                            stats: w.stats.to_bytes(),
                            columns,
                        });
                    }
                    s.idle < IDLE_WINDOWS
                });
            }
            map.retain(|_, versions| !versions.is_empty());
        }
        deltas
    }

    /// Writes the closed windows in one transaction (on the calling
    /// thread: the flusher runs it on the blocking pool).
    pub fn flush(&self, store: &dyn Store, now_ms: i64, all: bool) -> usize {
        let deltas = self.take_closed(now_ms, all);
        if deltas.is_empty() {
            return 0;
        }
        match store.merge_windows(&deltas, &self.config.retention, now_ms, &StatsMerger) {
            Ok(out) => {
                tracing::debug!(windows = out.windows, skipped = out.skipped, "telemetry flushed");
                deltas.len()
            }
            Err(error) => {
                tracing::warn!(%error, deltas = deltas.len(), "telemetry flush failed, windows dropped");
                0
            }
        }
    }
}

/// Flushes on every window boundary (and prunes every hour's worth of
/// windows), until `shutdown` resolves; then flushes everything once more.
pub async fn run_flusher(
    telemetry: Arc<Telemetry>,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let window = telemetry.config.window_ms.max(1) as u64;
    let prune_every = (3_600_000 / window).max(1);
    let mut ticks = 0u64;
    tokio::pin!(shutdown);
    loop {
        let now = now_ms() as u64;
        // A little past the boundary, so requests finishing on it are in.
        let wait = window - now % window + 20;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            () = &mut shutdown => break,
        }
        let (t, s) = (Arc::clone(&telemetry), Arc::clone(&store));
        let prune = ticks.is_multiple_of(prune_every);
        ticks += 1;
        let _ = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            t.flush(s.as_ref(), now, false);
            if prune && let Err(error) = s.prune_windows(&t.config.retention, now) {
                tracing::warn!(%error, "telemetry prune failed");
            }
        })
        .await;
    }
    let _ = tokio::task::spawn_blocking(move || telemetry.flush(store.as_ref(), now_ms(), true)).await;
}

#[cfg(test)]
mod tests;
