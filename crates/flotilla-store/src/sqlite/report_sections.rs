//! [`ReportSectionStore`] for SQLite: each section's figures grouped in
//! SQL over the scope's models. The scope is one CTE (`scoped`): driven by
//! the family's members when a family is given, else by the registered
//! models; a partition or tag narrows it by an index probe per model.
//! Reads of what few models have (telemetry windows, failing health) are
//! driven from those tables (`CROSS JOIN` keeps them outer), not by a probe
//! per model of the scope. No answer holds a row per model: families,
//! weeks and capped lists only.

use rusqlite::{OptionalExtension, Row, named_params};

use super::{SqliteStore, report_counts};
use crate::error::StoreResult;
use crate::report::{
    DatasetUse, DriftCell, DriftedModel, FamilyServing, FamilyStaleness, PromotionEffect, ReportFilter,
    ReportSectionStore, STALE_DAYS, StaleChampion, TrafficBucket, WEEK_MS,
};

/// A day in ms, written into SQL with `{DAY_MS:?}` ("86400000.0": a real, so the
/// ages divide as reals; `{DAY_MS}` prints "86400000" and SQLite divided integers).
const DAY_MS: f64 = 86_400_000.0;

/// The `scoped (rm_id, name, family)` CTE for `f`; its statement takes the
/// named parameters of [`bind`].
fn scoped(f: &ReportFilter) -> String {
    let narrow = "(:pkey IS NULL OR EXISTS (SELECT 1 FROM member_partitions p
                     WHERE p.rm_id = rm.rm_id AND p.key = :pkey AND p.value = :pvalue))
              AND (:tkey IS NULL OR EXISTS (SELECT 1 FROM registered_model_tags t
                     WHERE t.rm_id = rm.rm_id AND t.key = :tkey AND t.value = :tvalue))";
    if f.family.is_some() {
        format!(
            "scoped AS (SELECT rm.rm_id, rm.name, f.name AS family
               FROM families f JOIN fleet_members fm ON fm.family_id = f.family_id
               JOIN registered_models rm ON rm.rm_id = fm.rm_id
               WHERE f.name = :family AND {narrow})"
        )
    } else {
        format!(
            "scoped AS (SELECT rm.rm_id, rm.name, COALESCE(f.name, '') AS family
               FROM registered_models rm LEFT JOIN fleet_members fm ON fm.rm_id = rm.rm_id
               LEFT JOIN families f ON f.family_id = fm.family_id
               WHERE :family IS NULL AND {narrow})"
        )
    }
}

/// The champion versions of the scope with their version time, newest
/// training data time and whether any of it is superseded (migration 20
/// keeps them per champion).
const CHAMPIONS: &str = "champ AS (
    SELECT s.rm_id, s.name, s.family, c.version, c.made, c.data_time, c.superseded
    FROM scoped s JOIN report_champions c ON c.rm_id = s.rm_id)";

/// A scope the counters answer: the fleet or one family, not narrowed.
fn counted(f: &ReportFilter) -> bool {
    f.partition.is_none() && f.tag.is_none()
}

type Bound<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>);

/// The scope's parameters: family, partition key and value, tag key and value.
fn bind(f: &ReportFilter) -> Bound<'_> {
    fn pair(p: &Option<(String, String)>) -> (Option<&str>, Option<&str>) {
        p.as_ref().map(|(k, v)| (k.as_str(), v.as_str())).unzip()
    }
    let (pk, pv) = pair(&f.partition);
    let (tk, tv) = pair(&f.tag);
    (f.family.as_deref(), pk, pv, tk, tv)
}

type ChampionRow = (String, i64, Option<f64>, Option<f64>, i64, i64, Option<f64>, i64);

fn champion_row(r: &Row<'_>) -> rusqlite::Result<ChampionRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

impl ReportSectionStore for SqliteStore {
    fn staleness(&self, f: &ReportFilter, at: i64) -> StoreResult<Vec<FamilyStaleness>> {
        let (family, pk, pv, tk, tv) = bind(f);
        self.read(|tx| {
            if counted(f) {
                return report_counts::staleness(tx, family, at);
            }
            let mut out: Vec<FamilyStaleness> = Vec::new();
            let sql = format!(
                "WITH {0}, served AS (
                   SELECT s.family, count(DISTINCT m.rm_id) AS n FROM monitor_versions m CROSS JOIN scoped s
                   ON s.rm_id = m.rm_id GROUP BY s.family)
                 SELECT s.family, count(*), count(*) - COALESCE((SELECT n FROM served WHERE served.family = s.family), 0)
                 FROM scoped s GROUP BY s.family ORDER BY count(*) DESC, s.family",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv},
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
            )?;
            for row in rows {
                let (family, models, never_served) = row?;
                out.push(FamilyStaleness { family, models, never_served, ..FamilyStaleness::default() });
            }
            let sql = format!(
                "WITH {}, {CHAMPIONS} SELECT family, count(*), avg((:at - made) / {DAY_MS:?}), max((:at - made) / {DAY_MS:?}),
                   sum(:at - made > {STALE_DAYS} * {DAY_MS:?}), count(data_time), avg((:at - data_time) / {DAY_MS:?}),
                   sum(superseded)
                 FROM champ GROUP BY family",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv, ":at": at},
                champion_row,
            )?;
            for row in rows {
                let (family, champions, age_avg, age_max, stale, with_data, data_age, superseded) = row?;
                if let Some(s) = out.iter_mut().find(|s| s.family == family) {
                    s.champions = champions;
                    s.champion_age_avg = age_avg;
                    s.champion_age_max = age_max;
                    s.champions_stale = stale;
                    s.champions_with_data = with_data;
                    s.data_age_avg = data_age;
                    s.on_superseded = superseded;
                }
            }
            Ok(out)
        })
    }

    fn oldest_champions(&self, f: &ReportFilter, at: i64, limit: usize) -> StoreResult<Vec<StaleChampion>> {
        let (family, pk, pv, tk, tv) = bind(f);
        self.read(|tx| {
            if counted(f) {
                return report_counts::oldest_champions(tx, family, at, limit);
            }
            let sql = format!(
                // The oldest first, then their training data: one pass over the champions' versions.
                "WITH {}, {CHAMPIONS} SELECT name, family, version, (:at - made) / {DAY_MS:?}, (:at - data_time) / {DAY_MS:?},
                   superseded FROM champ ORDER BY made, name LIMIT :limit",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv, ":at": at, ":limit": limit as i64},
                |r| {
                    Ok(StaleChampion {
                        model: r.get(0)?,
                        family: r.get(1)?,
                        version: r.get(2)?,
                        age_days: r.get(3)?,
                        data_age_days: r.get(4)?,
                        superseded: r.get(5)?,
                    })
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn serving(&self, f: &ReportFilter, from: i64, to: i64) -> StoreResult<Vec<FamilyServing>> {
        let (family, pk, pv, tk, tv) = bind(f);
        self.read(|tx| {
            if counted(f) {
                return report_counts::serving(tx, family, from, to);
            }
            let sql = format!(
                "WITH {}, days AS (
                   SELECT s.family, w.start_ms, count(DISTINCT w.rm_id) AS served, sum(w.requests) AS requests,
                     sum(w.rows) AS rows,
                     sum(w.errors_client + w.errors_unavailable + w.errors_too_large + w.errors_server) AS errors,
                     sum(w.cache_hits) AS hits, sum(w.cache_misses) AS misses, sum(w.model_bytes) AS bytes
                   FROM monitor_windows w CROSS JOIN scoped s ON s.rm_id = w.rm_id
                   WHERE w.grain = 2 AND w.start_ms >= :from AND w.start_ms < :to
                   GROUP BY s.family, w.start_ms),
                 traffic AS (
                   SELECT family, max(served) AS served, sum(requests) AS requests, sum(rows) AS rows,
                     sum(errors) AS errors, sum(hits) AS hits, sum(misses) AS misses, max(bytes) AS bytes
                   FROM days GROUP BY family),
                 latency AS (
                   SELECT s.family, sum(h.status = 'warn') AS warn, sum(h.status = 'fail') AS fail, avg(h.value) AS p99
                   FROM model_health h CROSS JOIN scoped s ON s.rm_id = h.rm_id
                   WHERE h.check_name = 'latency_p99'
                   GROUP BY s.family)
                 SELECT t.family, t.served, t.requests, t.errors, COALESCE(l.warn, 0), COALESCE(l.fail, 0), l.p99, t.rows,
                   t.hits, t.misses, t.bytes
                 FROM traffic t LEFT JOIN latency l ON l.family = t.family ORDER BY t.requests + t.rows DESC, t.family",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv, ":from": from, ":to": to},
                report_counts::family_serving,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn traffic(&self, f: &ReportFilter, from: i64, to: i64, width: i64) -> StoreResult<Vec<TrafficBucket>> {
        let (family, pk, pv, tk, tv) = bind(f);
        let width = width.max(1);
        self.read(|tx| {
            if counted(f) {
                return report_counts::traffic(tx, family, from, to, width);
            }
            let sql = format!(
                "WITH {} SELECT :from + ((w.start_ms - :from) / :width) * :width AS b, sum(w.requests), sum(w.rows),
                   sum(w.errors_client + w.errors_unavailable + w.errors_too_large + w.errors_server)
                 FROM monitor_windows w CROSS JOIN scoped s ON s.rm_id = w.rm_id
                 WHERE w.grain = 2 AND w.start_ms >= :from AND w.start_ms < :to
                 GROUP BY b ORDER BY b",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv,
                ":from": from, ":to": to, ":width": width},
                |r| Ok(TrafficBucket { start: r.get(0)?, requests: r.get(1)?, rows: r.get(2)?, errors: r.get(3)? }),
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn drift_weeks(&self, family: Option<&str>, check: &str, from: i64, to: i64) -> StoreResult<Vec<DriftCell>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT scope, :from + ((hour - :from) / :week) * :week AS wk, max(n) FROM health_history
                 WHERE kind = 'family' AND (:family IS NULL OR scope = :family) AND check_name = :check
                   AND status = 'fail' AND hour >= :from AND hour < :to
                 GROUP BY scope, wk ORDER BY scope, wk",
            )?;
            let rows = stmt.query_map(
                named_params! {":from": from, ":to": to, ":week": WEEK_MS, ":family": family, ":check": check},
                |r| Ok(DriftCell { family: r.get(0)?, week: r.get(1)?, models: r.get(2)? }),
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn drifted_models(&self, f: &ReportFilter, limit: usize) -> StoreResult<Vec<DriftedModel>> {
        let (family, pk, pv, tk, tv) = bind(f);
        self.read(|tx| {
            if counted(f) {
                return report_counts::drifted_models(tx, family, limit);
            }
            let sql = format!(
                "WITH {} SELECT s.name, s.family, h.check_name, h.status, h.value
                 FROM model_health_summary hs CROSS JOIN model_health h ON h.rm_id = hs.rm_id
                   AND h.check_name IN ('data_drift', 'prediction_drift') AND h.status IN ('warn', 'fail')
                 CROSS JOIN scoped s ON s.rm_id = hs.rm_id
                 WHERE hs.score > 0
                 ORDER BY h.status = 'fail' DESC, h.value DESC, s.name, h.check_name LIMIT :limit",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv, ":limit": limit as i64},
                report_counts::drifted_model,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn datasets_in_use(&self, f: &ReportFilter, limit: usize) -> StoreResult<(Vec<DatasetUse>, i64)> {
        let (family, pk, pv, tk, tv) = bind(f);
        self.read(|tx| {
            if counted(f) {
                return report_counts::datasets_in_use(tx, family, limit);
            }
            let sql = format!(
                "WITH {}, used AS (
                   SELECT dv.ds_id, count(*) AS champions, count(DISTINCT s.family) AS families
                   FROM scoped s JOIN report_champions c ON c.rm_id = s.rm_id
                   JOIN dataset_versions dv ON dv.rm_id = c.rm_id AND dv.version = c.version
                   GROUP BY dv.ds_id)
                 SELECT de.name, de.digest, u.champions, u.families,
                   EXISTS (SELECT 1 FROM dataset_entities d2 WHERE d2.name = de.name AND (d2.creation_time > de.creation_time
            OR (d2.creation_time = de.creation_time AND d2.ds_id > de.ds_id))),
                   count(*) OVER ()
                 FROM used u JOIN dataset_entities de ON de.ds_id = u.ds_id
                 ORDER BY u.champions DESC, de.name, de.digest LIMIT :limit",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut total = 0;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv, ":limit": limit as i64},
                |r| {
                    Ok((
                        DatasetUse {
                            name: r.get(0)?,
                            digest: r.get(1)?,
                            champions: r.get(2)?,
                            families: r.get(3)?,
                            superseded: r.get(4)?,
                        },
                        r.get::<_, i64>(5)?,
                    ))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (d, n) = row?;
                total = n;
                out.push(d);
            }
            Ok((out, total))
        })
    }

    fn promotion_effects(
        &self,
        f: &ReportFilter,
        key: &str,
        from: i64,
        to: i64,
        ascending: bool,
        limit: usize,
    ) -> StoreResult<(Vec<PromotionEffect>, i64)> {
        let (family, pk, pv, tk, tv) = bind(f);
        self.read(|tx| {
            let first: Option<i64> = tx
                .query_row(
                    "SELECT batch_id FROM alias_batches WHERE time >= ?1 ORDER BY batch_id LIMIT 1",
                    [from],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(first) = first else { return Ok((Vec::new(), 0)) };
            let order = if ascending { "ASC" } else { "DESC" };
            let sql = format!(
                "WITH {} SELECT s.name, s.family, b.time, e.from_version, e.to_version, mo.value, mn.value, count(*) OVER ()
                 FROM alias_batches b JOIN alias_events e ON e.batch_id = b.batch_id
                 JOIN scoped s ON s.rm_id = e.rm_id
                 JOIN model_version_metrics mo ON mo.rm_id = e.rm_id AND mo.key = :key AND mo.version = e.from_version
                 JOIN model_version_metrics mn ON mn.rm_id = e.rm_id AND mn.key = :key AND mn.version = e.to_version
                 WHERE b.batch_id >= :first AND b.time >= :from AND b.time < :to AND e.alias = 'champion'
                   AND e.from_version IS NOT NULL AND e.to_version IS NOT NULL AND e.from_version != e.to_version
                 ORDER BY mn.value - mo.value {order}, b.time, s.name LIMIT :limit",
                scoped(f)
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                named_params! {":family": family, ":pkey": pk, ":pvalue": pv, ":tkey": tk, ":tvalue": tv,
                ":key": key, ":first": first, ":from": from, ":to": to, ":limit": limit as i64},
                |r| {
                    Ok((
                        PromotionEffect {
                            model: r.get(0)?,
                            family: r.get(1)?,
                            time: r.get(2)?,
                            from_version: r.get(3)?,
                            to_version: r.get(4)?,
                            before: r.get(5)?,
                            after: r.get(6)?,
                        },
                        r.get::<_, i64>(7)?,
                    ))
                },
            )?;
            let (mut out, mut total) = (Vec::new(), 0);
            for row in rows {
                let (e, n) = row?;
                total = n;
                out.push(e);
            }
            Ok((out, total))
        })
    }

    fn registered_count(&self, family: Option<&str>, from: i64, to: i64) -> StoreResult<Option<i64>> {
        self.read(|tx| report_counts::registered(tx, family, from, to))
    }

    fn failing_at(&self, family: Option<&str>, at: i64) -> StoreResult<Option<(i64, i64)>> {
        let (kind, scope) = match family {
            Some(f) => ("family", f),
            None => ("fleet", ""),
        };
        self.read(|tx| {
            let hour: Option<i64> = tx
                .query_row(
                    "SELECT max(hour) FROM health_history WHERE kind = ?1 AND scope = ?2 AND hour < ?3",
                    rusqlite::params![kind, scope, at],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let Some(hour) = hour else { return Ok(None) };
            let n: i64 = tx.query_row(
                "SELECT COALESCE(sum(n), 0) FROM health_history WHERE kind = ?1 AND scope = ?2 AND hour = ?3 AND status = 'fail'",
                rusqlite::params![kind, scope, hour],
                |r| r.get(0),
            )?;
            Ok(Some((hour, n)))
        })
    }
}
