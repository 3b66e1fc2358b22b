//! Serving telemetry on PostgreSQL (as `sqlite/monitor.rs`, migrations 15
//! and 25). A batch merge upserts each touched window by primary key
//! `(grain, rm_id, version, start_ms)`, adding the counting columns in SQL
//! and the stats blob through the caller's [`StatsMerge`] (read under the
//! row's lock, so two writers never merge the same blob at once). Fleet
//! walks page `monitor_versions` by its key; retention deletes by `(grain,
//! start_ms)` in bounded chunks. Version facts are not batched here: the
//! trait's default answers none and the health job reads each version's.

use std::collections::HashMap;

use flotilla_core::{Error, VersionNumber};
use postgres::Row;

use super::registry::rm_id;
use super::{PgStore, Tx};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::monitor::{
    ActivePage, ActiveQuery, CacheCounts, ErrorCounts, Grain, KeptPrediction, MAX_IDS_PER_CALL, MAX_VERSIONS_PER_CALL,
    MAX_WINDOWS_PER_READ, MergeOutcome, MonitorStore, MonitoredVersion, Retention, StatsMerge, WindowDelta,
    WindowQuery, WindowRow, Windows,
};

/// Rows one prune statement deletes at most (a writer is not held long).
const PRUNE_CHUNK: i64 = 20_000;

const WINDOW_COLUMNS: &str = "grain, rm_id, version, start_ms, length_ms, requests, rows, errors_client, \
     errors_unavailable, errors_too_large, errors_server, fingerprint, stats, cache_hits, cache_misses, model_bytes";

/// A page of versions' windows: the keys as two arrays, each version's
/// windows by its key range, in the page's order (built once).
static WINDOWS_OF_PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns: Vec<String> = WINDOW_COLUMNS.split(", ").map(|c| format!("w.{c}")).collect();
    format!(
        "SELECT {} FROM monitor_windows w \
         JOIN unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k(rm_id, version, n) \
           ON w.rm_id = k.rm_id AND w.version = k.version \
         WHERE w.grain = $3 AND w.start_ms >= $4 AND w.start_ms < $5 \
         ORDER BY k.n, w.start_ms LIMIT $6",
        columns.join(", ")
    )
});

fn version_at(r: &Row, i: usize) -> StoreResult<VersionNumber> {
    let v: i64 = r.get(i);
    VersionNumber::new(v).ok_or_else(|| Error::internal(format!("stored version {v} is not a version number")).into())
}

fn window_row(r: &Row) -> StoreResult<WindowRow> {
    let grain: i64 = r.get(0);
    let count = |i: usize| r.get::<_, i64>(i) as u64;
    Ok(WindowRow {
        grain: Grain::from_tag(grain).ok_or_else(|| Error::internal(format!("stored grain {grain} is unknown")))?,
        rm_id: r.get(1),
        version: version_at(r, 2)?,
        start_ms: r.get(3),
        length_ms: r.get(4),
        requests: count(5),
        rows: count(6),
        errors: ErrorCounts { client: count(7), unavailable: count(8), too_large: count(9), server: count(10) },
        fingerprint: r.get::<_, Option<i64>>(11).map(|f| f as u64),
        stats: r.get(12),
        cache: CacheCounts { hits: count(13), misses: count(14), model_bytes: count(15) },
    })
}

fn version_exists(tx: &mut Tx<'_>, rm_id: i64, version: VersionNumber) -> StoreResult<bool> {
    let v = version.get();
    Ok(tx.query_opt("SELECT 1 FROM model_versions WHERE rm_id = $1 AND version = $2", &[&rm_id, &v])?.is_some())
}

/// The model's id, checking the version exists (not found otherwise).
fn version_key(tx: &mut Tx<'_>, model: &str, version: VersionNumber) -> StoreResult<i64> {
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
    tx: &mut Tx<'_>,
    rm_id: i64,
    d: &WindowDelta,
    (grain, start, len): (Grain, i64, i64),
    merge: &dyn StatsMerge,
) -> StoreResult<()> {
    let (tag, v) = (grain.tag(), d.version.get());
    let stored: Option<Vec<u8>> = tx
        .query_opt(
            "SELECT stats FROM monitor_windows WHERE grain = $1 AND rm_id = $2 AND version = $3 AND start_ms = $4 \
             FOR UPDATE",
            &[&tag, &rm_id, &v, &start],
        )?
        .map(|r| r.get(0));
    let stats = merge
        .merge(grain, stored.as_deref(), &d.stats)
        .map_err(|e| Error::internal(format!("telemetry window merge: {e}")))?;
    let n = |x: u64| x as i64;
    let fingerprint = d.fingerprint.map(|f| f as i64);
    tx.execute(
        "INSERT INTO monitor_windows (grain, rm_id, version, start_ms, length_ms, requests, rows, errors_client, \
         errors_unavailable, errors_too_large, errors_server, fingerprint, stats, cache_hits, cache_misses, \
         model_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (grain, rm_id, version, start_ms) DO UPDATE SET \
         requests = monitor_windows.requests + excluded.requests, rows = monitor_windows.rows + excluded.rows, \
         errors_client = monitor_windows.errors_client + excluded.errors_client, \
         errors_unavailable = monitor_windows.errors_unavailable + excluded.errors_unavailable, \
         errors_too_large = monitor_windows.errors_too_large + excluded.errors_too_large, \
         errors_server = monitor_windows.errors_server + excluded.errors_server, \
         cache_hits = monitor_windows.cache_hits + excluded.cache_hits, \
         cache_misses = monitor_windows.cache_misses + excluded.cache_misses, \
         model_bytes = GREATEST(monitor_windows.model_bytes, excluded.model_bytes), \
         fingerprint = COALESCE(excluded.fingerprint, monitor_windows.fingerprint), stats = excluded.stats",
        &[
            &tag,
            &rm_id,
            &v,
            &start,
            &len,
            &n(d.requests),
            &n(d.rows),
            &n(d.errors.client),
            &n(d.errors.unavailable),
            &n(d.errors.too_large),
            &n(d.errors.server),
            &fingerprint,
            &stats,
            &n(d.cache.hits),
            &n(d.cache.misses),
            &n(d.cache.model_bytes),
        ],
    )?;
    Ok(())
}

fn note_version(tx: &mut Tx<'_>, rm_id: i64, d: &WindowDelta) -> StoreResult<()> {
    let (inputs, columns) = match &d.columns {
        Some((inputs, names)) => (Some(*inputs as i64), Some(names.join("\n"))),
        None => (None, None),
    };
    let (v, first, last) = (d.version.get(), d.start_ms, d.start_ms + d.length_ms);
    tx.execute(
        "INSERT INTO monitor_versions (rm_id, version, first_ms, last_ms, inputs, columns) \
         VALUES ($1, $2, $3, $4, COALESCE($5::bigint, 0), COALESCE($6::text, '')) \
         ON CONFLICT (rm_id, version) DO UPDATE SET \
         first_ms = LEAST(monitor_versions.first_ms, excluded.first_ms), \
         last_ms = GREATEST(monitor_versions.last_ms, excluded.last_ms), \
         inputs = COALESCE($5::bigint, monitor_versions.inputs), \
         columns = COALESCE($6::text, monitor_versions.columns)",
        &[&rm_id, &v, &first, &last, &inputs, &columns],
    )?;
    Ok(())
}

fn monitored(r: &Row, model: Option<&str>) -> StoreResult<MonitoredVersion> {
    Ok(MonitoredVersion {
        rm_id: r.get(0),
        model: model.map_or_else(|| r.get(1), str::to_string),
        version: version_at(r, 2)?,
        first_ms: r.get(3),
        last_ms: r.get(4),
        inputs: r.get::<_, i64>(5) as usize,
        columns: split_columns(r.get(6)),
    })
}

/// Deletes up to [`PRUNE_CHUNK`] rows a statement at a time, each in its own transaction.
fn prune_in_chunks(store: &PgStore, sql: &str, params: &[i64]) -> StoreResult<u64> {
    let mut total = 0;
    loop {
        let n = store.write(|tx| {
            let args: Vec<&(dyn postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect();
            tx.execute(sql, &args)
        })?;
        total += n;
        if (n as i64) < PRUNE_CHUNK {
            return Ok(total);
        }
    }
}

impl MonitorStore for PgStore {
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
                let id = match id {
                    Some(id) if version_exists(tx, id, d.version)? => id,
                    Some(_) | None => {
                        out.skipped += 1;
                        continue;
                    }
                };
                let mut wrote = false;
                for window in d.windows_within(retention, now_ms) {
                    merge_one(tx, id, d, window, merge)?;
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
            let (tag, from, to) = (query.grain.tag(), query.from_ms, query.to_ms);
            let rows = match query.version {
                Some(v) => tx.query(
                    &format!(
                        "SELECT {WINDOW_COLUMNS} FROM monitor_windows WHERE grain = $1 AND rm_id = $2 AND version = $3 \
                         AND start_ms >= $4 AND start_ms < $5 ORDER BY start_ms LIMIT $6"
                    ),
                    &[&tag, &id, &v.get(), &from, &to, &limit],
                )?,
                None => tx.query(
                    &format!(
                        "SELECT {WINDOW_COLUMNS} FROM monitor_windows WHERE grain = $1 AND rm_id = $2 \
                         AND start_ms >= $3 AND start_ms < $4 ORDER BY version, start_ms LIMIT $5"
                    ),
                    &[&tag, &id, &from, &to, &limit],
                )?,
            };
            let mut rows = rows.iter().map(window_row).collect::<StoreResult<Vec<_>>>()?;
            let truncated = rows.len() > MAX_WINDOWS_PER_READ;
            rows.truncate(MAX_WINDOWS_PER_READ);
            Ok(Windows { rows, truncated })
        })
    }

    fn monitored_version(&self, model: &str, version: VersionNumber) -> StoreResult<Option<MonitoredVersion>> {
        self.read(|tx| {
            let id = version_key(tx, model, version)?;
            let row = tx.query_opt(
                "SELECT rm_id, '', version, first_ms, last_ms, inputs, columns FROM monitor_versions \
                 WHERE rm_id = $1 AND version = $2",
                &[&id, &version.get()],
            )?;
            row.map(|r| monitored(&r, Some(model))).transpose()
        })
    }

    fn active_versions(&self, query: &ActiveQuery) -> StoreResult<ActivePage> {
        let limit = query.limit.clamp(1, 10_000);
        self.read(|tx| {
            let (after_id, after_v) = query.after.map(|(id, v)| (id, v.get())).unwrap_or((i64::MIN, i64::MIN));
            let rows = tx.query(
                "SELECT mv.rm_id, rm.name, mv.version, mv.first_ms, mv.last_ms, mv.inputs, mv.columns \
                 FROM monitor_versions mv JOIN registered_models rm ON rm.rm_id = mv.rm_id \
                 WHERE (mv.rm_id, mv.version) > ($1, $2) AND mv.last_ms > $3 AND mv.first_ms < $4 \
                 ORDER BY mv.rm_id, mv.version LIMIT $5",
                &[&after_id, &after_v, &query.from_ms, &query.to_ms, &(limit as i64 + 1)],
            )?;
            let mut versions = rows.iter().map(|r| monitored(r, None)).collect::<StoreResult<Vec<_>>>()?;
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
        let ids: Vec<i64> = versions.iter().map(|(id, _)| *id).collect();
        let numbers: Vec<i64> = versions.iter().map(|(_, v)| v.get()).collect();
        self.read(|tx| {
            let rows = tx.query(
                &WINDOWS_OF_PAGE,
                &[&ids, &numbers, &grain.tag(), &from_ms, &to_ms, &(MAX_WINDOWS_PER_READ as i64 + 1)],
            )?;
            let mut rows = rows.iter().map(window_row).collect::<StoreResult<Vec<_>>>()?;
            let truncated = rows.len() > MAX_WINDOWS_PER_READ;
            rows.truncate(MAX_WINDOWS_PER_READ);
            Ok(Windows { rows, truncated })
        })
    }

    fn prune_windows(&self, retention: &Retention, now_ms: i64) -> StoreResult<u64> {
        let mut total = 0u64;
        for grain in Grain::ALL {
            total += prune_in_chunks(
                self,
                "DELETE FROM monitor_windows WHERE (grain, rm_id, version, start_ms) IN \
                 (SELECT grain, rm_id, version, start_ms FROM monitor_windows \
                  WHERE grain = $1 AND start_ms < $2 LIMIT $3)",
                &[grain.tag(), retention.cut(grain, now_ms), PRUNE_CHUNK],
            )?;
        }
        total += prune_in_chunks(
            self,
            "DELETE FROM monitor_predictions WHERE (rm_id, version, id) IN \
             (SELECT rm_id, version, id FROM monitor_predictions WHERE start_ms < $1 LIMIT $2)",
            &[retention.cut(Grain::Base, now_ms), PRUNE_CHUNK],
        )?;
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
            let v = version.get();
            for p in rows {
                tx.execute(
                    "INSERT INTO monitor_predictions (rm_id, version, id, start_ms, length_ms, score, class) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (rm_id, version, id) DO UPDATE SET \
                     start_ms = excluded.start_ms, length_ms = excluded.length_ms, score = excluded.score, \
                     class = excluded.class",
                    &[&id, &v, &p.id, &p.start_ms, &p.length_ms, &p.score, &p.class],
                )?;
            }
            let kept: i64 = tx
                .query_one("SELECT count(*) FROM monitor_predictions WHERE rm_id = $1 AND version = $2", &[&id, &v])?
                .get(0);
            let over = kept - cap as i64;
            if over > 0 {
                tx.execute(
                    "DELETE FROM monitor_predictions WHERE (rm_id, version, id) IN \
                     (SELECT rm_id, version, id FROM monitor_predictions WHERE rm_id = $1 AND version = $2 \
                      ORDER BY start_ms LIMIT $3)",
                    &[&id, &v, &over],
                )?;
            }
            let mut change = Change::new("monitor.predictions", "model_version", format!("{model}/{v}"));
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
            let v = version.get();
            let mut out = Vec::with_capacity(ids.len());
            for pid in ids {
                let kept = tx.query_opt(
                    "DELETE FROM monitor_predictions WHERE rm_id = $1 AND version = $2 AND id = $3 \
                     RETURNING start_ms, length_ms, score, class",
                    &[&id, &v, pid],
                )?;
                out.push(kept.map(|r| KeptPrediction {
                    id: pid.clone(),
                    start_ms: r.get(0),
                    length_ms: r.get(1),
                    score: r.get(2),
                    class: r.get(3),
                }));
            }
            let mut change = Change::new("monitor.labels", "model_version", format!("{model}/{v}"));
            change.count = ids.len() as i64;
            note(change);
            Ok(out)
        })
    }
}
