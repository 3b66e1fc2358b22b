//! The report sections' reads on PostgreSQL (`ReportSectionStore`): each
//! section grouped in SQL over the scope's models, one plan for every scope
//! (the fleet, a family, a partition or tag of it). The scope is one CTE
//! (`scoped`), driven by the family's members when a family is given, else
//! by the registered models; a partition or tag narrows it by an index probe
//! per model. The champions are read from the aliases with their version's
//! time and training data as SQLite's `report_champion_rows` defines them:
//! SQLite keeps them as counters (migration 20) that PostgreSQL does not
//! have yet, so a fleet report here walks the fleet's champions (measured in
//! `docs/benchmarks/postgres-monitor.md`). Serving and traffic of the fleet
//! or a family are read from the per-family day sums and latency counters
//! (migrations 27 and 28, as SQLite's 24), a narrowed scope's from its
//! models' day windows and health.

use postgres::Row;
use postgres::types::ToSql;

use super::{PgStore, Tx};
use crate::error::StoreResult;
use crate::report::{
    DatasetUse, DriftCell, DriftedModel, FamilyServing, FamilyStaleness, PromotionEffect, ReportFilter,
    ReportSectionStore, STALE_DAYS, StaleChampion, TrafficBucket, WEEK_MS,
};

const DAY_MS: i64 = 86_400_000;

/// The `scoped (rm_id, name, family)` CTE for `f`, on parameters `$1`
/// (family), `$2`/`$3` (partition key and value), `$4`/`$5` (tag key and
/// value): see [`Scope::params`].
fn scoped(f: &ReportFilter) -> String {
    let narrow = "($2::text IS NULL OR EXISTS (SELECT 1 FROM member_partitions p
                     WHERE p.rm_id = rm.rm_id AND p.key = $2::text AND p.value = $3::text))
              AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM registered_model_tags t
                     WHERE t.rm_id = rm.rm_id AND t.key = $4::text AND t.value = $5::text))";
    if f.family.is_some() {
        format!(
            "scoped AS (SELECT rm.rm_id, rm.name, f.name AS family
               FROM families f JOIN fleet_members fm ON fm.family_id = f.family_id
               JOIN registered_models rm ON rm.rm_id = fm.rm_id
               WHERE f.name = $1::text AND {narrow})"
        )
    } else {
        format!(
            "scoped AS (SELECT rm.rm_id, rm.name, COALESCE(f.name, '' COLLATE \"C\") AS family
               FROM registered_models rm LEFT JOIN fleet_members fm ON fm.rm_id = rm.rm_id
               LEFT JOIN families f ON f.family_id = fm.family_id
               WHERE $1::text IS NULL AND {narrow})"
        )
    }
}

/// The scope's champions: version, its time, the newest time of its
/// datasets, and whether any of them is superseded (a newer digest of the
/// same name exists), as SQLite's view `report_champion_rows`. Grouped over
/// the champions' lineage in one pass (hash joins at a fleet's size) rather
/// than probed per champion; a dataset is superseded unless it is its name's
/// newest (by time, then id).
const CHAMPIONS: &str = "newest AS (
    SELECT DISTINCT ON (name) ds_id FROM dataset_entities ORDER BY name, creation_time DESC, ds_id DESC),
  champ AS (
    SELECT s.rm_id, s.name, s.family, a.version, mv.creation_time AS made, max(de.creation_time) AS data_time,
      coalesce(bool_or(de.ds_id IS NOT NULL AND n.ds_id IS NULL), FALSE) AS superseded
    FROM scoped s JOIN registered_model_aliases a ON a.rm_id = s.rm_id AND a.alias = 'champion'
    JOIN model_versions mv ON mv.rm_id = a.rm_id AND mv.version = a.version
    LEFT JOIN dataset_versions dv ON dv.rm_id = a.rm_id AND dv.version = a.version
    LEFT JOIN dataset_entities de ON de.ds_id = dv.ds_id
    LEFT JOIN newest n ON n.ds_id = de.ds_id
    GROUP BY s.rm_id, s.name, s.family, a.version, mv.creation_time)";

/// A day's errors of a window.
const ERRORS: &str = "(w.errors_client + w.errors_unavailable + w.errors_too_large + w.errors_server)";

/// The scope's five parameters, then a statement's own.
struct Scope<'a> {
    family: Option<&'a str>,
    pkey: Option<&'a str>,
    pvalue: Option<&'a str>,
    tkey: Option<&'a str>,
    tvalue: Option<&'a str>,
}

impl<'a> Scope<'a> {
    fn of(f: &'a ReportFilter) -> Self {
        fn pair(p: &Option<(String, String)>) -> (Option<&str>, Option<&str>) {
            p.as_ref().map(|(k, v)| (k.as_str(), v.as_str())).unzip()
        }
        let (pkey, pvalue) = pair(&f.partition);
        let (tkey, tvalue) = pair(&f.tag);
        Self { family: f.family.as_deref(), pkey, pvalue, tkey, tvalue }
    }

    /// `$1`..`$5` for the scope, then `more` from `$6` on.
    fn params<'p>(&'p self, more: &[&'p (dyn ToSql + Sync)]) -> Vec<&'p (dyn ToSql + Sync)> {
        let mut out: Vec<&(dyn ToSql + Sync)> = vec![&self.family, &self.pkey, &self.pvalue, &self.tkey, &self.tvalue];
        out.extend_from_slice(more);
        out
    }
}

fn query(tx: &mut Tx<'_>, f: &ReportFilter, body: &str, more: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
    let scope = Scope::of(f);
    tx.query(&format!("WITH {}, {body}", scoped(f)), &scope.params(more))
}

fn days(ms: i64) -> f64 {
    ms as f64 / DAY_MS as f64
}

/// A scope the day sums answer: the fleet or one family, not narrowed.
fn counted(f: &ReportFilter) -> bool {
    f.partition.is_none() && f.tag.is_none()
}

/// Serving per family of the fleet or of `family` from the day sums
/// (migration 27) and the latency counters (migration 28); busiest families
/// first. The columns of [`FamilyServing`] in order.
fn serving_counted(tx: &mut Tx<'_>, family: Option<&str>, from: i64, to: i64) -> StoreResult<Vec<Row>> {
    let fid: Option<i64> = match family {
        None => None,
        Some(name) => match tx.query_opt("SELECT family_id FROM families WHERE name = $1", &[&name])? {
            Some(r) => Some(r.get(0)),
            None => return Ok(Vec::new()),
        },
    };
    tx.query(
        "WITH fam AS (SELECT family_id, name FROM families WHERE $1::bigint IS NULL OR family_id = $1::bigint
                          UNION ALL SELECT -1, '' COLLATE \"C\" WHERE $1::bigint IS NULL),
                  traffic AS (SELECT d.family_id, max(d.models) AS served, sum(d.requests)::bigint AS requests,
                                     sum(d.rows)::bigint AS rows, sum(d.errors)::bigint AS errors,
                                     sum(d.cache_hits)::bigint AS hits, sum(d.cache_misses)::bigint AS misses,
                                     max(d.model_bytes) AS bytes
                              FROM fam JOIN report_serving_days d ON d.family_id = fam.family_id
                              WHERE d.day >= $2 AND d.day < $3 GROUP BY d.family_id)
             SELECT fam.name, t.served, t.requests, t.errors, coalesce(l.warn, 0), coalesce(l.fail, 0),
                    l.total / nullif(l.valued, 0),
                    t.rows, t.hits, t.misses, t.bytes
             FROM traffic t JOIN fam ON fam.family_id = t.family_id
             LEFT JOIN report_latency l ON l.family_id = t.family_id
             ORDER BY t.requests + t.rows DESC, fam.name",
        &[&fid, &from, &to],
    )
}

/// Serving per family of a narrowed scope, from its models' day windows.
fn serving_walked(tx: &mut Tx<'_>, f: &ReportFilter, from: i64, to: i64) -> StoreResult<Vec<Row>> {
    query(
        tx,
        f,
        &format!(
            "days AS (
               SELECT s.family, w.start_ms, count(DISTINCT w.rm_id) AS served, sum(w.requests) AS requests,
                 sum(w.rows) AS rows, sum({ERRORS}) AS errors, sum(w.cache_hits) AS hits,
                 sum(w.cache_misses) AS misses, sum(w.model_bytes) AS bytes
               FROM monitor_windows w JOIN scoped s ON s.rm_id = w.rm_id
               WHERE w.grain = 2 AND w.start_ms >= $6 AND w.start_ms < $7
               GROUP BY s.family, w.start_ms),
             traffic AS (
               SELECT family, max(served) AS served, sum(requests)::bigint AS requests, sum(rows)::bigint AS rows,
                 sum(errors)::bigint AS errors, sum(hits)::bigint AS hits, sum(misses)::bigint AS misses,
                 max(bytes)::bigint AS bytes
               FROM days GROUP BY family),
             latency AS (
               SELECT s.family, count(*) FILTER (WHERE h.status = 'warn') AS warn,
                 count(*) FILTER (WHERE h.status = 'fail') AS fail, avg(h.value) AS p99
               FROM model_health h JOIN scoped s ON s.rm_id = h.rm_id
               WHERE h.check_name = 'latency_p99'
               GROUP BY s.family)
             SELECT t.family, t.served, t.requests, t.errors, COALESCE(l.warn, 0), COALESCE(l.fail, 0), l.p99,
               t.rows, t.hits, t.misses, t.bytes
             FROM traffic t LEFT JOIN latency l ON l.family = t.family
             ORDER BY t.requests + t.rows DESC, t.family"
        ),
        &[&from, &to],
    )
}

impl ReportSectionStore for PgStore {
    fn staleness(&self, f: &ReportFilter, at: i64) -> StoreResult<Vec<FamilyStaleness>> {
        self.read(|tx| {
            let models = query(
                tx,
                f,
                "counted AS (SELECT s.family, count(*) AS models,
                   count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM monitor_versions m WHERE m.rm_id = s.rm_id))
                     AS never_served
                 FROM scoped s GROUP BY s.family)
                 SELECT family, models, never_served FROM counted ORDER BY models DESC, family",
                &[],
            )?;
            let mut out: Vec<FamilyStaleness> = models
                .iter()
                .map(|r| FamilyStaleness {
                    family: r.get(0),
                    models: r.get(1),
                    never_served: r.get(2),
                    ..FamilyStaleness::default()
                })
                .collect();
            let stale_before = at - STALE_DAYS * DAY_MS;
            let champions = query(
                tx,
                f,
                &format!(
                    "{CHAMPIONS} SELECT family, count(*), avg(made)::float8, min(made),
                       count(*) FILTER (WHERE made < $6), count(data_time), avg(data_time)::float8,
                       count(*) FILTER (WHERE superseded)
                     FROM champ GROUP BY family"
                ),
                &[&stale_before],
            )?;
            let at_f = at as f64;
            for r in champions {
                let family: String = r.get(0);
                let Some(s) = out.iter_mut().find(|s| s.family == family) else { continue };
                s.champions = r.get(1);
                s.champion_age_avg = r.get::<_, Option<f64>>(2).map(|made| (at_f - made) / DAY_MS as f64);
                s.champion_age_max = r.get::<_, Option<i64>>(3).map(|oldest| days(at - oldest));
                s.champions_stale = r.get(4);
                s.champions_with_data = r.get(5);
                s.data_age_avg = r.get::<_, Option<f64>>(6).map(|data| (at_f - data) / DAY_MS as f64);
                s.on_superseded = r.get(7);
            }
            Ok(out)
        })
    }

    fn oldest_champions(&self, f: &ReportFilter, at: i64, limit: usize) -> StoreResult<Vec<StaleChampion>> {
        self.read(|tx| {
            let rows = query(
                tx,
                f,
                &format!(
                    "{CHAMPIONS} SELECT name, family, version, made, data_time, superseded
                     FROM champ ORDER BY made, name LIMIT $6"
                ),
                &[&(limit as i64)],
            )?;
            Ok(rows
                .iter()
                .map(|r| StaleChampion {
                    model: r.get(0),
                    family: r.get(1),
                    version: r.get(2),
                    age_days: days(at - r.get::<_, i64>(3)),
                    data_age_days: r.get::<_, Option<i64>>(4).map(|t| days(at - t)),
                    superseded: r.get(5),
                })
                .collect())
        })
    }

    fn serving(&self, f: &ReportFilter, from: i64, to: i64) -> StoreResult<Vec<FamilyServing>> {
        self.read(|tx| {
            let rows = if counted(f) {
                serving_counted(tx, f.family.as_deref(), from, to)?
            } else {
                serving_walked(tx, f, from, to)?
            };
            Ok(rows
                .iter()
                .map(|r| FamilyServing {
                    family: r.get(0),
                    models_served: r.get(1),
                    requests: r.get(2),
                    errors: r.get(3),
                    latency_warn: r.get(4),
                    latency_fail: r.get(5),
                    p99_avg_ms: r.get(6),
                    rows: r.get(7),
                    cache_hits: r.get(8),
                    cache_misses: r.get(9),
                    model_bytes_peak: r.get(10),
                })
                .collect())
        })
    }

    fn traffic(&self, f: &ReportFilter, from: i64, to: i64, width: i64) -> StoreResult<Vec<TrafficBucket>> {
        let width = width.max(1);
        self.read(|tx| {
            let rows = if counted(f) {
                tx.query(
                    "WITH fam AS (SELECT family_id FROM families WHERE $4::text IS NULL OR name = $4::text
                                  UNION ALL SELECT -1 WHERE $4::text IS NULL)
                     SELECT $1 + ((d.day - $1) / $3) * $3 AS b, sum(d.requests)::bigint, sum(d.rows)::bigint,
                       sum(d.errors)::bigint
                     FROM fam JOIN report_serving_days d ON d.family_id = fam.family_id
                     WHERE d.day >= $1 AND d.day < $2
                     GROUP BY b ORDER BY b",
                    &[&from, &to, &width, &f.family],
                )?
            } else {
                query(
                    tx,
                    f,
                    &format!(
                        "buckets AS (
                           SELECT $6 + ((w.start_ms - $6) / $8) * $8 AS b, w.requests, w.rows, {ERRORS} AS errors
                           FROM monitor_windows w JOIN scoped s ON s.rm_id = w.rm_id
                           WHERE w.grain = 2 AND w.start_ms >= $6 AND w.start_ms < $7)
                         SELECT b, sum(requests)::bigint, sum(rows)::bigint, sum(errors)::bigint
                         FROM buckets GROUP BY b ORDER BY b"
                    ),
                    &[&from, &to, &width],
                )?
            };
            Ok(rows
                .iter()
                .map(|r| TrafficBucket { start: r.get(0), requests: r.get(1), rows: r.get(2), errors: r.get(3) })
                .collect())
        })
    }

    fn drift_weeks(&self, family: Option<&str>, check: &str, from: i64, to: i64) -> StoreResult<Vec<DriftCell>> {
        self.read(|tx| {
            let rows = tx.query(
                "SELECT scope, $1 + ((hour - $1) / $3) * $3 AS wk, max(n) FROM health_history
                 WHERE kind = 'family' AND ($4::text IS NULL OR scope = $4::text) AND check_name = $5
                   AND status = 'fail' AND hour >= $1 AND hour < $2
                 GROUP BY scope, wk ORDER BY scope, wk",
                &[&from, &to, &WEEK_MS, &family, &check],
            )?;
            Ok(rows.iter().map(|r| DriftCell { family: r.get(0), week: r.get(1), models: r.get(2) }).collect())
        })
    }

    fn drifted_models(&self, f: &ReportFilter, limit: usize) -> StoreResult<Vec<DriftedModel>> {
        self.read(|tx| {
            // Walks the drifting checks' index (migration 26), each probed in the scope.
            let rows = query(
                tx,
                f,
                "drifting AS (SELECT h.rm_id, h.check_name, h.status, h.value FROM model_health h
                   WHERE h.check_name IN ('data_drift', 'prediction_drift') AND h.status IN ('warn', 'fail'))
                 SELECT s.name, s.family, d.check_name, d.status, d.value
                 FROM drifting d JOIN scoped s ON s.rm_id = d.rm_id
                 ORDER BY d.status = 'fail' DESC, d.value DESC NULLS LAST, s.name, d.check_name LIMIT $6",
                &[&(limit as i64)],
            )?;
            Ok(rows
                .iter()
                .map(|r| DriftedModel {
                    model: r.get(0),
                    family: r.get(1),
                    check: r.get(2),
                    status: r.get(3),
                    value: r.get(4),
                })
                .collect())
        })
    }

    fn datasets_in_use(&self, f: &ReportFilter, limit: usize) -> StoreResult<(Vec<DatasetUse>, i64)> {
        self.read(|tx| {
            let rows = query(
                tx,
                f,
                "champ AS (SELECT s.rm_id, s.family, a.version FROM scoped s
                   JOIN registered_model_aliases a ON a.rm_id = s.rm_id AND a.alias = 'champion'
                   JOIN model_versions mv ON mv.rm_id = a.rm_id AND mv.version = a.version),
                 used AS (
                   SELECT dv.ds_id, count(*) AS champions, count(DISTINCT c.family) AS families
                   FROM champ c JOIN dataset_versions dv ON dv.rm_id = c.rm_id AND dv.version = c.version
                   GROUP BY dv.ds_id)
                 SELECT de.name, de.digest, u.champions, u.families,
                   EXISTS (SELECT 1 FROM dataset_entities d2 WHERE d2.name = de.name AND (d2.creation_time > de.creation_time
                     OR (d2.creation_time = de.creation_time AND d2.ds_id > de.ds_id))),
                   count(*) OVER ()
                 FROM used u JOIN dataset_entities de ON de.ds_id = u.ds_id
                 ORDER BY u.champions DESC, de.name, de.digest LIMIT $6",
                &[&(limit as i64)],
            )?;
            let total = rows.first().map_or(0, |r| r.get(5));
            let used = rows
                .iter()
                .map(|r| DatasetUse {
                    name: r.get(0),
                    digest: r.get(1),
                    champions: r.get(2),
                    families: r.get(3),
                    superseded: r.get(4),
                })
                .collect();
            Ok((used, total))
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
        self.read(|tx| {
            let first = tx
                .query_opt("SELECT batch_id FROM alias_batches WHERE time >= $1 ORDER BY batch_id LIMIT 1", &[&from])?;
            let Some(first) = first.map(|r| r.get::<_, i64>(0)) else { return Ok((Vec::new(), 0)) };
            let order = if ascending { "ASC" } else { "DESC" };
            let rows = query(
                tx,
                f,
                &format!(
                    "effects AS (SELECT s.name, s.family, b.time AS moved, e.from_version, e.to_version,
                       mo.value AS value_before, mn.value AS value_after
                     FROM alias_batches b JOIN alias_events e ON e.batch_id = b.batch_id
                     JOIN scoped s ON s.rm_id = e.rm_id
                     JOIN model_version_metrics mo ON mo.rm_id = e.rm_id AND mo.key = $6 AND mo.version = e.from_version
                     JOIN model_version_metrics mn ON mn.rm_id = e.rm_id AND mn.key = $6 AND mn.version = e.to_version
                     WHERE b.batch_id >= $7 AND b.time >= $8 AND b.time < $9 AND e.alias = 'champion'
                       AND e.from_version IS NOT NULL AND e.to_version IS NOT NULL AND e.from_version <> e.to_version)
                     SELECT *, count(*) OVER () FROM effects
                     ORDER BY value_after - value_before {order}, moved, name LIMIT $10"
                ),
                &[&key, &first, &from, &to, &(limit as i64)],
            )?;
            let total = rows.first().map_or(0, |r| r.get(7));
            let effects = rows
                .iter()
                .map(|r| PromotionEffect {
                    model: r.get(0),
                    family: r.get(1),
                    time: r.get(2),
                    from_version: r.get(3),
                    to_version: r.get(4),
                    before: r.get(5),
                    after: r.get(6),
                })
                .collect();
            Ok((effects, total))
        })
    }

    fn registered_count(&self, family: Option<&str>, from: i64, to: i64) -> StoreResult<Option<i64>> {
        self.read(|tx| {
            let fid: Option<i64> = match family {
                None => None,
                Some(name) => match tx.query_opt("SELECT family_id FROM families WHERE name = $1", &[&name])? {
                    Some(r) => Some(r.get(0)),
                    None => return Ok(None),
                },
            };
            let n: i64 = tx
                .query_one(
                    "SELECT count(*) FROM registered_models rm WHERE rm.creation_time >= $1 AND rm.creation_time < $2
                       AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM fleet_members fm
                            WHERE fm.rm_id = rm.rm_id AND fm.family_id = $3::bigint))",
                    &[&from, &to, &fid],
                )?
                .get(0);
            Ok(Some(n))
        })
    }

    fn failing_at(&self, family: Option<&str>, at: i64) -> StoreResult<Option<(i64, i64)>> {
        let (kind, scope) = match family {
            Some(f) => ("family", f),
            None => ("fleet", ""),
        };
        self.read(|tx| {
            let hour: Option<i64> = tx
                .query_one(
                    "SELECT max(hour) FROM health_history WHERE kind = $1 AND scope = $2 AND hour < $3",
                    &[&kind, &scope, &at],
                )?
                .get(0);
            let Some(hour) = hour else { return Ok(None) };
            let n: i64 = tx
                .query_one(
                    "SELECT COALESCE(sum(n), 0)::bigint FROM health_history \
                     WHERE kind = $1 AND scope = $2 AND hour = $3 AND status = 'fail'",
                    &[&kind, &scope, &hour],
                )?
                .get(0);
            Ok(Some((hour, n)))
        })
    }
}
