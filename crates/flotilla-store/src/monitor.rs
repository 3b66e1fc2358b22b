//! Serving telemetry's store (issue 15; SQLite: `sqlite/monitor.rs`,
//! migration 15): windows per model version and grain, the versions that
//! have any, and the predictions kept until their label arrives.
//!
//! The contract:
//! - A window is keyed by `(grain, model version, start_ms)`; grains are the
//!   base window (`--monitor-window`, its length kept per row), the hour and
//!   the day (UTC). Requests, rows and errors by kind are plain columns; all
//!   the rest (latency histogram, per-column figures, the drift counts of
//!   `flotilla_drift::Window` bytes against the reference whose fingerprint
//!   is kept beside them, performance, a day's full profile) is one encoded
//!   blob the store does not read: `flotilla_app::monitor::telemetry::stats`
//!   defines it and merges it, through [`StatsMerge`].
//! - Writing is a batch of base-window deltas ([`MonitorStore::merge_windows`]):
//!   in ONE transaction each delta is added into its base window, its hour
//!   and its day (the roll-up), each only when the window is still inside
//!   that grain's retention ([`Retention`]), so a late delta (posted
//!   predictions, labels) lands where its time falls. Deltas of unknown
//!   models or versions are skipped and counted, never an error.
//! - Reading is per model (one version or all) over a time range at a
//!   grain ([`MonitorStore::windows`]), or for fleet jobs: the versions
//!   with telemetry in a range, paged by `(rm_id, version)`
//!   ([`MonitorStore::active_versions`], keyset on `monitor_versions`' key,
//!   so a walk of the fleet reads each version once), then their windows
//!   in one call ([`MonitorStore::windows_of`]).
//! - Retention ([`MonitorStore::prune_windows`]) deletes windows older than
//!   each grain's cut and kept predictions older than the base cut.
//! - Predictions with ids are kept per version up to a cap (the oldest go
//!   first) and claimed, i.e. read and deleted, when their label comes.

use flotilla_core::VersionNumber;

use crate::error::StoreResult;
use crate::health::Baseline;

/// The most ids one `keep_predictions` or `claim_predictions` call carries.
pub const MAX_IDS_PER_CALL: usize = 10_000;
/// The most versions one `windows_of` call reads.
pub const MAX_VERSIONS_PER_CALL: usize = 1000;
/// The most windows one read answers.
pub const MAX_WINDOWS_PER_READ: usize = 20_000;

/// A window's length class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    /// `--monitor-window` long.
    Base,
    Hour,
    Day,
}

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

impl Grain {
    pub const ALL: [Grain; 3] = [Grain::Base, Grain::Hour, Grain::Day];

    pub fn tag(self) -> i64 {
        match self {
            Grain::Base => 0,
            Grain::Hour => 1,
            Grain::Day => 2,
        }
    }

    pub fn from_tag(tag: i64) -> Option<Grain> {
        match tag {
            0 => Some(Grain::Base),
            1 => Some(Grain::Hour),
            2 => Some(Grain::Day),
            _ => None,
        }
    }

    /// The start of the window holding `t_ms`, and its length, given the
    /// base window's length.
    pub fn window_of(self, t_ms: i64, base_ms: i64) -> (i64, i64) {
        let len = match self {
            Grain::Base => base_ms.max(1),
            Grain::Hour => HOUR_MS,
            Grain::Day => DAY_MS,
        };
        (t_ms.div_euclid(len) * len, len)
    }
}

/// How long each grain's windows are kept, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub base_ms: i64,
    pub hour_ms: i64,
    pub day_ms: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { base_ms: 2 * DAY_MS, hour_ms: 30 * DAY_MS, day_ms: 400 * DAY_MS }
    }
}

impl Retention {
    pub fn of(&self, grain: Grain) -> i64 {
        match grain {
            Grain::Base => self.base_ms,
            Grain::Hour => self.hour_ms,
            Grain::Day => self.day_ms,
        }
    }

    /// The oldest window start of `grain` kept at `now_ms`.
    pub fn cut(&self, grain: Grain, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.of(grain))
    }
}

/// Errors by kind: the client's (4xx), unavailable (503), too large (507),
/// the server's (other 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorCounts {
    pub client: u64,
    pub unavailable: u64,
    pub too_large: u64,
    pub server: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.client + self.unavailable + self.too_large + self.server
    }

    pub fn add(&mut self, o: &ErrorCounts) {
        self.client += o.client;
        self.unavailable += o.unavailable;
        self.too_large += o.too_large;
        self.server += o.server;
    }
}

/// How a window's requests found their model in the serving cache: in
/// memory (a hit) or waiting for it to load (a miss), and the loaded
/// model's measured bytes (the largest seen in the window; 0 unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
    pub model_bytes: u64,
}

impl CacheCounts {
    pub fn add(&mut self, o: &CacheCounts) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.model_bytes = self.model_bytes.max(o.model_bytes);
    }

    /// Hits over the requests that went through the cache (`None` without any).
    pub fn hit_rate(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 / total as f64)
    }
}

/// What one base window of one version adds (a flush, a posted batch, labels).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowDelta {
    pub model: String,
    pub version: VersionNumber,
    /// The base window's start (a multiple of `length_ms`).
    pub start_ms: i64,
    /// The base window's length.
    pub length_ms: i64,
    pub requests: u64,
    pub rows: u64,
    pub errors: ErrorCounts,
    /// The serving cache's part (zero for posted telemetry).
    pub cache: CacheCounts,
    /// The reference the drift counts in `stats` were binned against.
    pub fingerprint: Option<u64>,
    /// The encoded stats (opaque here; merged by [`StatsMerge`]).
    pub stats: Vec<u8>,
    /// The version's columns (inputs then outputs) and how many are inputs,
    /// kept once per version; `None` leaves what is kept.
    pub columns: Option<(usize, Vec<String>)>,
}

impl WindowDelta {
    /// The windows this delta adds into, `(grain, start, length)`: its base
    /// window, hour and day, those still within `retention` at `now_ms`
    /// (every backend merges by this).
    pub fn windows_within(&self, retention: &Retention, now_ms: i64) -> impl Iterator<Item = (Grain, i64, i64)> {
        let (start_ms, length_ms) = (self.start_ms, self.length_ms);
        Grain::ALL.into_iter().filter_map(move |grain| {
            let (start, len) = match grain {
                Grain::Base => (start_ms, length_ms),
                Grain::Hour | Grain::Day => grain.window_of(start_ms, length_ms),
            };
            (start >= retention.cut(grain, now_ms)).then_some((grain, start, len))
        })
    }
}

/// Merges encoded stats; implemented by the application layer, which owns
/// the encoding. `stored` is `None` for a new window: the merge may keep
/// less of the delta at coarser or finer grains (a day keeps full profiles,
/// a minute does not).
pub trait StatsMerge: Sync {
    fn merge(&self, grain: Grain, stored: Option<&[u8]>, delta: &[u8]) -> Result<Vec<u8>, String>;
}

/// What a batch merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeOutcome {
    /// Window rows written (all grains).
    pub windows: u64,
    /// Deltas skipped: unknown model or version, or older than every retention.
    pub skipped: u64,
}

/// One stored window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub rm_id: i64,
    pub version: VersionNumber,
    pub grain: Grain,
    pub start_ms: i64,
    pub length_ms: i64,
    pub requests: u64,
    pub rows: u64,
    pub errors: ErrorCounts,
    pub cache: CacheCounts,
    pub fingerprint: Option<u64>,
    pub stats: Vec<u8>,
}

/// A model's windows over `[from_ms, to_ms)` at `grain`, ordered by
/// version then start; one version or all of them. At most
/// [`MAX_WINDOWS_PER_READ`]; `truncated` says when more matched.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowQuery {
    pub model: String,
    pub version: Option<VersionNumber>,
    pub grain: Grain,
    pub from_ms: i64,
    pub to_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Windows {
    pub rows: Vec<WindowRow>,
    pub truncated: bool,
}

/// A version with telemetry, and what is kept about it.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitoredVersion {
    pub rm_id: i64,
    pub model: String,
    pub version: VersionNumber,
    /// Its first window's start and its last window's end (kept or pruned since).
    pub first_ms: i64,
    pub last_ms: i64,
    /// Its column names, inputs first.
    pub inputs: usize,
    pub columns: Vec<String>,
}

/// A page of the versions whose telemetry spans overlap `[from_ms, to_ms)`
/// (a version idle inside a wider span is included; its windows say so),
/// after `after` in `(rm_id, version)` order.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    pub after: Option<(i64, VersionNumber)>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActivePage {
    pub versions: Vec<MonitoredVersion>,
    /// The cursor of the next page; `None` at the end.
    pub next: Option<(i64, VersionNumber)>,
}

/// What a fleet job judges a version by beside its windows (its age,
/// family, baseline and upstream datasets), read for a page of versions
/// at once ([`MonitorStore::version_facts`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VersionFacts {
    pub model: String,
    pub created_ms: i64,
    /// The family it is a member of.
    pub family: Option<String>,
    pub baseline: Option<Baseline>,
    /// Its upstream datasets, training ones first, then by name and digest
    /// (at most [`MAX_FACT_DATASETS`]).
    pub datasets: Vec<FactDataset>,
}

/// One upstream dataset of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactDataset {
    pub name: String,
    pub digest: String,
    /// Linked with context `training`.
    pub training: bool,
    /// It keeps a profile (a reference can be made from it).
    pub profiled: bool,
    /// A digest of the same name was recorded after this one.
    pub superseded: bool,
}

/// The most upstream datasets a version's facts list.
pub const MAX_FACT_DATASETS: usize = 16;

/// A prediction kept for the label join.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptPrediction {
    pub id: String,
    /// The base window it fell in.
    pub start_ms: i64,
    pub length_ms: i64,
    /// A number predicted (a value, or the positive class's score).
    pub score: Option<f64>,
    /// A class predicted.
    pub class: Option<String>,
}

/// Telemetry windows and kept predictions (SQLite: `sqlite/monitor.rs`).
pub trait MonitorStore: Send + Sync {
    /// Adds each delta into its base, hour and day windows (those still
    /// within `retention` at `now_ms`), in one transaction.
    fn merge_windows(
        &self,
        deltas: &[WindowDelta],
        retention: &Retention,
        now_ms: i64,
        merge: &dyn StatsMerge,
    ) -> StoreResult<MergeOutcome>;
    /// A model's windows (not found when the model, or the version asked
    /// for, does not exist).
    fn windows(&self, query: &WindowQuery) -> StoreResult<Windows>;
    /// The version's kept record; `None` when it has no telemetry.
    fn monitored_version(&self, model: &str, version: VersionNumber) -> StoreResult<Option<MonitoredVersion>>;
    /// Versions with telemetry in a range, a page at a time.
    fn active_versions(&self, query: &ActiveQuery) -> StoreResult<ActivePage>;
    /// The windows of up to [`MAX_VERSIONS_PER_CALL`] versions `(rm_id,
    /// version)` over `[from_ms, to_ms)` at `grain`, ordered by version then start.
    fn windows_of(
        &self,
        versions: &[(i64, VersionNumber)],
        grain: Grain,
        from_ms: i64,
        to_ms: i64,
    ) -> StoreResult<Windows>;
    /// The facts of up to [`MAX_VERSIONS_PER_CALL`] versions `(rm_id,
    /// version)`, in their order, in one read (`None` for a version that
    /// does not exist). A backend without a batched read may answer `None`
    /// for every version: the caller then reads each one through the
    /// registry, lineage and health calls.
    fn version_facts(&self, versions: &[(i64, VersionNumber)]) -> StoreResult<Vec<Option<VersionFacts>>> {
        Ok(vec![None; versions.len()])
    }
    /// Deletes windows and kept predictions past retention; the rows deleted.
    fn prune_windows(&self, retention: &Retention, now_ms: i64) -> StoreResult<u64>;
    /// Keeps predictions for the label join (an id kept again is replaced),
    /// then the newest `cap` of the version. Not found for an unknown
    /// version. Returns how many the version keeps.
    fn keep_predictions(
        &self,
        model: &str,
        version: VersionNumber,
        rows: &[KeptPrediction],
        cap: u64,
    ) -> StoreResult<u64>;
    /// Reads and deletes the kept predictions of `ids` (in their order;
    /// `None` for an id not kept). Not found for an unknown version.
    fn claim_predictions(
        &self,
        model: &str,
        version: VersionNumber,
        ids: &[String],
    ) -> StoreResult<Vec<Option<KeptPrediction>>>;
}
