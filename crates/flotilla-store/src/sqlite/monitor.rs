//! Telemetry windows on SQLite (migration 15). A batch merge reads and
//! rewrites each touched window by primary key `(grain, rm_id, version,
//! start_ms)`, adding the counting columns in SQL and the stats blob
//! through the caller's [`StatsMerge`]. Fleet walks page `monitor_versions`
//! by its key; retention deletes by `(grain, start_ms)` in bounded chunks.

use std::collections::HashMap;

use flotilla_core::{Error, VersionNumber};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::registry::rm_id;
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::monitor::{
    ActivePage, ActiveQuery, CacheCounts, ErrorCounts, Grain, KeptPrediction, MAX_IDS_PER_CALL, MAX_VERSIONS_PER_CALL,
    MAX_WINDOWS_PER_READ, MergeOutcome, MonitorStore, MonitoredVersion, Retention, StatsMerge, VersionFacts,
    WindowDelta, WindowQuery, WindowRow, Windows,
};

/// Rows one prune statement deletes at most (the writer is not held long).
const PRUNE_CHUNK: i64 = 20_000;

/// The columns [`window_row`] reads, in its order (a macro, so statements can `concat!` them).
macro_rules! window_columns {
    () => {
        "grain, rm_id, version, start_ms, length_ms, requests, rows, errors_client, errors_unavailable, \
         errors_too_large, errors_server, fingerprint, stats, cache_hits, cache_misses, model_bytes"
    };
}
const WINDOW_COLUMNS: &str = window_columns!();

// Statements run once per version of a page carry no bound `LIMIT`: SQLite
// (3.50) reads a bound LIMIT's value while planning, so every new value
// re-prepares the statement (parsing and planning it again), which was half
// of the daily pass's CPU at 10⁶ versions. Their caps are kept in Rust.

/// One version's windows of a grain in `[from, to)`, oldest first.
pub(super) const WINDOW_PROBE: &str = concat!(
    "SELECT ",
    window_columns!(),
    " FROM monitor_windows WHERE grain = ?1 AND rm_id = ?2 AND version = ?3 \
     AND start_ms >= ?4 AND start_ms < ?5 ORDER BY start_ms"
);

fn version_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<VersionNumber> {
    let v: i64 = r.get(i)?;
    VersionNumber::new(v).ok_or(rusqlite::Error::IntegralValueOutOfRange(i, v))
}

fn window_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WindowRow> {
    let grain: i64 = r.get(0)?;
    Ok(WindowRow {
        grain: Grain::from_tag(grain).ok_or(rusqlite::Error::IntegralValueOutOfRange(0, grain))?,
        rm_id: r.get(1)?,
        version: version_at(r, 2)?,
        start_ms: r.get(3)?,
        length_ms: r.get(4)?,
        requests: r.get::<_, i64>(5)? as u64,
        rows: r.get::<_, i64>(6)? as u64,
        errors: ErrorCounts {
            client: r.get::<_, i64>(7)? as u64,
            unavailable: r.get::<_, i64>(8)? as u64,
            too_large: r.get::<_, i64>(9)? as u64,
            server: r.get::<_, i64>(10)? as u64,
        },
        fingerprint: r.get::<_, Option<i64>>(11)?.map(|f| f as u64),
        stats: r.get(12)?,
        cache: CacheCounts {
            hits: r.get::<_, i64>(13)? as u64,
            misses: r.get::<_, i64>(14)? as u64,
            model_bytes: r.get::<_, i64>(15)? as u64,
        },
    })
}

fn version_exists(tx: &Connection, rm_id: i64, version: VersionNumber) -> StoreResult<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM model_versions WHERE rm_id = ?1 AND version = ?2")?
        .query_row(params![rm_id, version.get()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The model's id, checking the version exists (not found otherwise).
fn version_key(tx: &Connection, model: &str, version: VersionNumber) -> StoreResult<i64> {
    let id = rm_id(tx, model)?;
    if !version_exists(tx, id, version)? {
        return Err(
            Error::not_found(format!("Model Version (name={model}, version={}) not found", version.get())).into()
        );
    }
    Ok(id)
}

fn split_columns(columns: &str) -> Vec<String> {
    if columns.is_empty() { Vec::new() } else { columns.split('\n').map(str::to_string).collect() }
}

fn merge_one(
    tx: &Connection,
    rm_id: i64,
    d: &WindowDelta,
    grain: Grain,
    start: i64,
    len: i64,
    merge: &dyn StatsMerge,
) -> StoreResult<()> {
    let stored: Option<Vec<u8>> = tx
        .prepare_cached(
            "SELECT stats FROM monitor_windows WHERE grain = ?1 AND rm_id = ?2 AND version = ?3 AND start_ms = ?4",
        )?
        .query_row(params![grain.tag(), rm_id, d.version.get(), start], |r| r.get(0))
        .optional()?;
    let stats = merge
        .merge(grain, stored.as_deref(), &d.stats)
        .map_err(|e| Error::internal(format!("telemetry window merge: {e}")))?;
    tx.prepare_cached(
        "INSERT INTO monitor_windows (grain, rm_id, version, start_ms, length_ms, requests, rows, errors_client, \
         errors_unavailable, errors_too_large, errors_server, fingerprint, stats, cache_hits, cache_misses, \
         model_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
         ON CONFLICT (grain, rm_id, version, start_ms) DO UPDATE SET \
         requests = requests + excluded.requests, rows = rows + excluded.rows, \
         errors_client = errors_client + excluded.errors_client, \
         errors_unavailable = errors_unavailable + excluded.errors_unavailable, \
         errors_too_large = errors_too_large + excluded.errors_too_large, \
         errors_server = errors_server + excluded.errors_server, \
         cache_hits = cache_hits + excluded.cache_hits, cache_misses = cache_misses + excluded.cache_misses, \
         model_bytes = max(model_bytes, excluded.model_bytes), \
         fingerprint = coalesce(excluded.fingerprint, fingerprint), stats = excluded.stats",
    )?
    .execute(params![
        grain.tag(),
        rm_id,
        d.version.get(),
        start,
        len,
        d.requests as i64,
        d.rows as i64,
        d.errors.client as i64,
        d.errors.unavailable as i64,
        d.errors.too_large as i64,
        d.errors.server as i64,
        d.fingerprint.map(|f| f as i64),
        stats,
        d.cache.hits as i64,
        d.cache.misses as i64,
        d.cache.model_bytes as i64,
    ])?;
    Ok(())
}

fn note_version(tx: &Connection, rm_id: i64, d: &WindowDelta) -> StoreResult<()> {
    let (inputs, columns) = match &d.columns {
        Some((inputs, names)) => (Some(*inputs as i64), Some(names.join("\n"))),
        None => (None, None),
    };
    tx.prepare_cached(
        "INSERT INTO monitor_versions (rm_id, version, first_ms, last_ms, inputs, columns) \
         VALUES (?1, ?2, ?3, ?4, coalesce(?5, 0), coalesce(?6, '')) \
         ON CONFLICT (rm_id, version) DO UPDATE SET first_ms = min(first_ms, excluded.first_ms), \
         last_ms = max(last_ms, excluded.last_ms), inputs = coalesce(?5, inputs), columns = coalesce(?6, columns)",
    )?
    .execute(params![rm_id, d.version.get(), d.start_ms, d.start_ms + d.length_ms, inputs, columns])?;
    Ok(())
}

impl MonitorStore for SqliteStore {
    fn merge_windows(
        &self,
        deltas: &[WindowDelta],
        retention: &Retention,
        now_ms: i64,
        merge: &dyn StatsMerge,
    ) -> StoreResult<MergeOutcome> {
        self.write(|tx| {
            let mut out = MergeOutcome::default();
            let mut models: HashMap<&str, Option<i64>> = HashMap::new();
            for d in deltas {
                let id = match models.get(d.model.as_str()) {
                    Some(id) => *id,
                    None => {
                        let id = rm_id(tx, &d.model).ok();
                        models.insert(&d.model, id);
                        id
                    }
                };
                let Some(id) = id.filter(|id| version_exists(tx, *id, d.version).unwrap_or(false)) else {
                    out.skipped += 1;
                    continue;
                };
                let mut wrote = false;
                for (grain, start, len) in d.windows_within(retention, now_ms) {
                    merge_one(tx, id, d, grain, start, len, merge)?;
                    out.windows += 1;
                    wrote = true;
                }
                if wrote {
                    note_version(tx, id, d)?;
                } else {
                    out.skipped += 1;
                }
            }
            Ok(out)
        })
    }

    fn windows(&self, query: &WindowQuery) -> StoreResult<Windows> {
        self.read(|tx| {
            let id = match query.version {
                Some(v) => version_key(tx, &query.model, v)?,
                None => rm_id(tx, &query.model)?,
            };
            let limit = MAX_WINDOWS_PER_READ as i64 + 1;
            let mut rows = match query.version {
                Some(v) => tx
                    .prepare_cached(&format!(
                        "SELECT {WINDOW_COLUMNS} FROM monitor_windows WHERE grain = ?1 AND rm_id = ?2 AND version = ?3 \
                         AND start_ms >= ?4 AND start_ms < ?5 ORDER BY start_ms LIMIT ?6"
                    ))?
                    .query_map(params![query.grain.tag(), id, v.get(), query.from_ms, query.to_ms, limit], window_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                None => tx
                    .prepare_cached(&format!(
                        "SELECT {WINDOW_COLUMNS} FROM monitor_windows WHERE grain = ?1 AND rm_id = ?2 \
                         AND start_ms >= ?3 AND start_ms < ?4 ORDER BY version, start_ms LIMIT ?5"
                    ))?
                    .query_map(params![query.grain.tag(), id, query.from_ms, query.to_ms, limit], window_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            let truncated = rows.len() > MAX_WINDOWS_PER_READ;
            rows.truncate(MAX_WINDOWS_PER_READ);
            Ok(Windows { rows, truncated })
        })
    }

    fn monitored_version(&self, model: &str, version: VersionNumber) -> StoreResult<Option<MonitoredVersion>> {
        self.read(|tx| {
            let id = version_key(tx, model, version)?;
            Ok(tx
                .prepare_cached(
                    "SELECT first_ms, last_ms, inputs, columns FROM monitor_versions WHERE rm_id = ?1 AND version = ?2",
                )?
                .query_row(params![id, version.get()], |r| {
                    Ok(MonitoredVersion {
                        rm_id: id,
                        model: model.to_string(),
                        version,
                        first_ms: r.get(0)?,
                        last_ms: r.get(1)?,
                        inputs: r.get::<_, i64>(2)? as usize,
                        columns: split_columns(&r.get::<_, String>(3)?),
                    })
                })
                .optional()?)
        })
    }

    fn active_versions(&self, query: &ActiveQuery) -> StoreResult<ActivePage> {
        let limit = query.limit.clamp(1, 10_000);
        self.read(|tx| {
            let (after_id, after_v) = query.after.map(|(id, v)| (id, v.get())).unwrap_or((i64::MIN, i64::MIN));
            let mut versions = tx
                .prepare_cached(
                    "SELECT mv.rm_id, rm.name, mv.version, mv.first_ms, mv.last_ms, mv.inputs, mv.columns \
                     FROM monitor_versions mv JOIN registered_models rm ON rm.rm_id = mv.rm_id \
                     WHERE mv.rm_id >= ?1 AND (mv.rm_id > ?1 OR +mv.version > ?2) \
                     AND mv.last_ms > ?3 AND mv.first_ms < ?4 ORDER BY mv.rm_id, mv.version LIMIT ?5",
                )?
                .query_map(params![after_id, after_v, query.from_ms, query.to_ms, limit as i64 + 1], |r| {
                    Ok(MonitoredVersion {
                        rm_id: r.get(0)?,
                        model: r.get(1)?,
                        version: version_at(r, 2)?,
                        first_ms: r.get(3)?,
                        last_ms: r.get(4)?,
                        inputs: r.get::<_, i64>(5)? as usize,
                        columns: split_columns(&r.get::<_, String>(6)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next = if versions.len() > limit {
                versions.truncate(limit);
                versions.last().map(|v| (v.rm_id, v.version))
            } else {
                None
            };
            Ok(ActivePage { versions, next })
        })
    }

    fn windows_of(
        &self,
        versions: &[(i64, VersionNumber)],
        grain: Grain,
        from_ms: i64,
        to_ms: i64,
    ) -> StoreResult<Windows> {
        if versions.len() > MAX_VERSIONS_PER_CALL {
            return Err(Error::invalid(format!("at most {MAX_VERSIONS_PER_CALL} versions per call")).into());
        }
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(WINDOW_PROBE)?;
            let mut out = Windows::default();
            'versions: for (id, v) in versions {
                let mut rows = stmt.query(params![grain.tag(), id, v.get(), from_ms, to_ms])?;
                while let Some(r) = rows.next()? {
                    if out.rows.len() == MAX_WINDOWS_PER_READ {
                        out.truncated = true;
                        break 'versions;
                    }
                    out.rows.push(window_row(r)?);
                }
            }
            Ok(out)
        })
    }

    fn version_facts(&self, versions: &[(i64, VersionNumber)]) -> StoreResult<Vec<Option<VersionFacts>>> {
        if versions.len() > MAX_VERSIONS_PER_CALL {
            return Err(Error::invalid(format!("at most {MAX_VERSIONS_PER_CALL} versions per call")).into());
        }
        self.read(|tx| {
            let mut datasets = super::monitor_facts::Datasets::default();
            versions.iter().map(|(id, v)| super::monitor_facts::facts_of(tx, *id, *v, &mut datasets)).collect()
        })
    }

    fn prune_windows(&self, retention: &Retention, now_ms: i64) -> StoreResult<u64> {
        let mut total = 0u64;
        for grain in Grain::ALL {
            let cut = retention.cut(grain, now_ms);
            loop {
                let n = self.write(|tx| {
                    Ok(tx
                        .prepare_cached(
                            "DELETE FROM monitor_windows WHERE (grain, rm_id, version, start_ms) IN \
                             (SELECT grain, rm_id, version, start_ms FROM monitor_windows \
                              WHERE grain = ?1 AND start_ms < ?2 LIMIT ?3)",
                        )?
                        .execute(params![grain.tag(), cut, PRUNE_CHUNK])?)
                })?;
                total += n as u64;
                if (n as i64) < PRUNE_CHUNK {
                    break;
                }
            }
        }
        let cut = retention.cut(Grain::Base, now_ms);
        loop {
            let n = self.write(|tx| {
                Ok(tx
                    .prepare_cached(
                        "DELETE FROM monitor_predictions WHERE (rm_id, version, id) IN \
                         (SELECT rm_id, version, id FROM monitor_predictions WHERE start_ms < ?1 LIMIT ?2)",
                    )?
                    .execute(params![cut, PRUNE_CHUNK])?)
            })?;
            total += n as u64;
            if (n as i64) < PRUNE_CHUNK {
                break;
            }
        }
        Ok(total)
    }

    fn keep_predictions(
        &self,
        model: &str,
        version: VersionNumber,
        rows: &[KeptPrediction],
        cap: u64,
    ) -> StoreResult<u64> {
        if rows.len() > MAX_IDS_PER_CALL {
            return Err(Error::invalid(format!("at most {MAX_IDS_PER_CALL} predictions per call")).into());
        }
        self.write(|tx| {
            let id = version_key(tx, model, version)?;
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO monitor_predictions (rm_id, version, id, start_ms, length_ms, score, class) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for p in rows {
                insert.execute(params![id, version.get(), p.id, p.start_ms, p.length_ms, p.score, p.class])?;
            }
            let kept: i64 = tx
                .prepare_cached("SELECT count(*) FROM monitor_predictions WHERE rm_id = ?1 AND version = ?2")?
                .query_row(params![id, version.get()], |r| r.get(0))?;
            let over = kept - cap as i64;
            if over > 0 {
                tx.prepare_cached(
                    "DELETE FROM monitor_predictions WHERE (rm_id, version, id) IN \
                     (SELECT rm_id, version, id FROM monitor_predictions WHERE rm_id = ?1 AND version = ?2 \
                      ORDER BY start_ms LIMIT ?3)",
                )?
                .execute(params![id, version.get(), over])?;
            }
            let mut change = Change::new("monitor.predictions", "model_version", format!("{model}/{}", version.get()));
            change.count = rows.len() as i64;
            note(change);
            Ok(kept.min(cap as i64) as u64)
        })
    }

    fn claim_predictions(
        &self,
        model: &str,
        version: VersionNumber,
        ids: &[String],
    ) -> StoreResult<Vec<Option<KeptPrediction>>> {
        if ids.len() > MAX_IDS_PER_CALL {
            return Err(Error::invalid(format!("at most {MAX_IDS_PER_CALL} labels per call")).into());
        }
        self.write(|tx| {
            let id = version_key(tx, model, version)?;
            let mut select = tx.prepare_cached(
                "DELETE FROM monitor_predictions WHERE rm_id = ?1 AND version = ?2 AND id = ?3 \
                 RETURNING start_ms, length_ms, score, class",
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for pid in ids {
                let kept = select
                    .query_row(params![id, version.get(), pid], |r| {
                        Ok(KeptPrediction {
                            id: pid.clone(),
                            start_ms: r.get(0)?,
                            length_ms: r.get(1)?,
                            score: r.get(2)?,
                            class: r.get(3)?,
                        })
                    })
                    .optional()?;
                out.push(kept);
            }
            let mut change = Change::new("monitor.labels", "model_version", format!("{model}/{}", version.get()));
            change.count = ids.len() as i64;
            note(change);
            Ok(out)
        })
    }
}
