//! Synthetic serving telemetry (issue 15, point 8), so every monitoring
//! page, query, report and the daily drift job can be measured at 10⁶
//! models: for each generated store, its champion version's hour and day
//! windows (`monitor_windows`, migration 15) over a recent span, and its
//! `monitor_versions` row. The stats blobs are encoded by the caller
//! (the application layer owns the encoding) as a handful of templates,
//! drawn per window; this module picks and writes them in bulk, 20,000
//! models per transaction, rows in primary-key order.
//!
//! Deterministic for a seed, with the same rules as the synthetic health
//! ([`super::health`]): every third family drifts (a quarter of its models
//! drift over the last [`DRIFT_DAYS`] days), every fifth region errors (8 %
//! server errors), one model in ten is idle (served until
//! [`IDLE_SINCE_DAYS`] days ago, silent since), 2 % are slow (the
//! template's slow latency). The serving cache: a model's loaded size is
//! 200 KiB to 2 MiB (drawn per model), its day windows count 1-3 misses
//! (loads) and an hour window one in 24 of them; the other successful
//! requests are hits. The windows' drift counts are binned against
//! the reference whose fingerprint the caller gives (the shared calendars'
//! profile, found through lineage).

use std::path::Path;

use rusqlite::{Connection, params};

use flotilla_store::StoreResult;

use super::health::mix;

const MODELS_PER_TRANSACTION: usize = 20_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// How many of the last days a drifting model's windows drift in.
pub const DRIFT_DAYS: i64 = 3;
/// Idle models' last served day is this many days before today.
pub const IDLE_SINCE_DAYS: i64 = 3;

/// One encoded window: its requests (the latency histogram's total) and the stats blob.
#[derive(Debug, Clone)]
pub struct Template {
    pub requests: u64,
    pub stats: Vec<u8>,
}

/// A window's kind, for picking a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub day: bool,
    pub drifting: bool,
    pub slow: bool,
}

/// What the caller encodes: templates per shape, the reference they were
/// binned against, and the versions' columns (inputs first).
pub struct TelemetryTemplates {
    pub fingerprint: u64,
    pub inputs: usize,
    pub columns: Vec<String>,
    /// Variants per shape (at least one each), indexed by [`shape_index`].
    pub templates: [Vec<Template>; 8],
}

pub fn shape_index(s: Shape) -> usize {
    usize::from(s.day) * 4 + usize::from(s.drifting) * 2 + usize::from(s.slow)
}

/// How much to generate: `days` day windows before today's start and
/// `hours` hour windows before the current hour's start.
#[derive(Debug, Clone, Copy)]
pub struct TelemetrySpec {
    pub days: u32,
    pub hours: u32,
    pub seed: u64,
    pub now_ms: i64,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct TelemetryReport {
    pub versions: u64,
    pub windows: u64,
}

struct Member {
    rm_id: i64,
    version: i64,
    family_id: Option<i64>,
    region: Option<String>,
}

/// Writes synthetic telemetry for every store-level model of the store at
/// `path` (opened directly, as the generator does: not while a server runs).
pub fn generate_telemetry(
    path: &Path,
    spec: &TelemetrySpec,
    templates: &TelemetryTemplates,
    progress: &mut dyn FnMut(u64),
) -> StoreResult<TelemetryReport> {
    if templates.templates.iter().any(Vec::is_empty) {
        return Err(flotilla_core::Error::invalid("every window shape needs a template").into());
    }
    let mut conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    let today = spec.now_ms.div_euclid(DAY_MS) * DAY_MS;
    let this_hour = spec.now_ms.div_euclid(HOUR_MS) * HOUR_MS;
    let columns = templates.columns.join("\n");
    let (mut after, mut report) = (0i64, TelemetryReport::default());
    loop {
        let members = {
            let mut page = conn.prepare_cached(
                "SELECT r.rm_id, coalesce((SELECT a.version FROM registered_model_aliases a \
                   WHERE a.rm_id = r.rm_id AND a.alias = 'champion'), r.next_version - 1), m.family_id, \
                 (SELECT p.value FROM member_partitions p WHERE p.rm_id = r.rm_id AND p.key = 'region') \
                 FROM registered_models r JOIN fleet_members m ON m.rm_id = r.rm_id \
                 WHERE r.rm_id > ?1 AND m.depth >= 2 AND r.next_version > 1 ORDER BY r.rm_id LIMIT ?2",
            )?;
            page.query_map(params![after, MODELS_PER_TRANSACTION as i64], |r| {
                Ok(Member { rm_id: r.get(0)?, version: r.get(1)?, family_id: r.get(2)?, region: r.get(3)? })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let Some(last) = members.last() else { break };
        after = last.rm_id;
        let tx = conn.transaction()?;
        {
            let mut window = tx.prepare_cached(
                "INSERT OR REPLACE INTO monitor_windows (grain, rm_id, version, start_ms, length_ms, requests, rows, \
                 errors_client, errors_server, fingerprint, stats, cache_hits, cache_misses, model_bytes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut version = tx.prepare_cached(
                "INSERT OR REPLACE INTO monitor_versions (rm_id, version, first_ms, last_ms, inputs, columns) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            // Grain-major so each grain's rows arrive in key order.
            for (grain, len, count, end) in
                [(1i64, HOUR_MS, i64::from(spec.hours), this_hour), (2, DAY_MS, i64::from(spec.days), today)]
            {
                for m in &members {
                    let h = mix(spec.seed ^ m.rm_id as u64);
                    let idle = h.is_multiple_of(10);
                    let errors = m.region.as_deref().is_some_and(|r| {
                        mix(spec.seed ^ r.bytes().fold(0u64, |a, b| a.wrapping_mul(31) ^ b as u64)).is_multiple_of(5)
                    });
                    let drifts = m.family_id.is_some_and(|f| f % 3 == 0) && (h >> 8).is_multiple_of(4);
                    let slow = (h >> 24).is_multiple_of(50);
                    for k in (1..=count).rev() {
                        let start = end - k * len;
                        if idle && start + len > today - IDLE_SINCE_DAYS * DAY_MS {
                            continue;
                        }
                        let drifting = drifts && start >= today - DRIFT_DAYS * DAY_MS;
                        let shape = Shape { day: grain == 2, drifting, slow };
                        let variants = &templates.templates[shape_index(shape)];
                        let t = &variants[(mix(h ^ start as u64) % variants.len() as u64) as usize];
                        let server = if errors { t.requests * 8 / 100 } else { t.requests / 500 };
                        let client = t.requests / 1000;
                        let misses = match grain {
                            2 => 1 + (h >> 32) % 3,
                            _ => u64::from(mix(h ^ start as u64 ^ 0x5eed).is_multiple_of(24)),
                        };
                        let hits = t.requests.saturating_sub(server + client + misses);
                        let model_bytes = 200 * 1024 + (h >> 40) % (1800 * 1024);
                        window.execute(params![
                            grain,
                            m.rm_id,
                            m.version,
                            start,
                            len,
                            t.requests as i64,
                            client as i64,
                            server as i64,
                            templates.fingerprint as i64,
                            t.stats,
                            hits as i64,
                            misses as i64,
                            model_bytes as i64,
                        ])?;
                        report.windows += 1;
                    }
                }
            }
            for m in &members {
                let idle = mix(spec.seed ^ m.rm_id as u64).is_multiple_of(10);
                let first = (today - i64::from(spec.days) * DAY_MS).min(this_hour - i64::from(spec.hours) * HOUR_MS);
                let last = if idle { today - IDLE_SINCE_DAYS * DAY_MS } else { this_hour };
                if last <= first {
                    continue;
                }
                version.execute(params![m.rm_id, m.version, first, last, templates.inputs as i64, columns])?;
                report.versions += 1;
            }
        }
        tx.commit()?;
        progress(report.versions);
    }
    conn.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE monitor_windows; ANALYZE monitor_versions;")?;
    Ok(report)
}

/// The shared training datasets (name, digest) of a generated fleet: the
/// ones the synthetic telemetry's reference profile is kept on.
pub fn shared_datasets(path: &Path) -> StoreResult<Vec<(String, String)>> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT name, digest FROM dataset_entities WHERE name >= 'holidays-g' AND name < 'holidays-h' ORDER BY name, digest",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
