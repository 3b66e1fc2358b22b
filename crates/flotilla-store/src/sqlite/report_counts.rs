//! The staleness, data and serving sections and the registrations of a
//! report on the whole fleet or one family, read from the counters of
//! migrations 20 and 24 (`report_family_counts`, `report_dataset_champions`,
//! `report_registrations`, `report_serving_days`, `report_latency`, the
//! drifting-health index) and by
//! walking the indexes of `report_champions`: a few rows per family (and
//! day), never a row per model. A
//! scope narrowed by partition or tag walks its models instead
//! (`report_sections.rs`).

use rusqlite::{Connection, OptionalExtension, named_params, params};

use crate::error::StoreResult;
use crate::report::{
    DatasetUse, DriftedModel, FamilyServing, FamilyStaleness, STALE_DAYS, StaleChampion, TrafficBucket,
};

const DAY_MS: f64 = 86_400_000.0;
const DAY: i64 = 86_400_000;

/// The scope's family id: `Some(None)` for the whole fleet, `None` when
/// the family does not exist (the app has refused such a report already).
fn family_id(tx: &Connection, family: Option<&str>) -> StoreResult<Option<Option<i64>>> {
    let Some(name) = family else { return Ok(Some(None)) };
    let id: Option<i64> = tx
        .prepare_cached("SELECT family_id FROM families WHERE name = ?")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    Ok(id.map(Some))
}

/// Models per family of the scope, as the facet counters keep them; the
/// models outside any family are the family `""` (fleet scope only).
fn models_per_family(tx: &Connection, family: Option<i64>) -> StoreResult<Vec<(i64, String, i64)>> {
    let mut out: Vec<(i64, String, i64)> = tx
        .prepare_cached(
            "SELECT f.family_id, f.name, c.n FROM facet_counts c JOIN families f ON f.family_id = CAST(c.value AS INTEGER)
             WHERE c.scope = 0 AND c.dim = 'family' AND c.n > 0 AND (?1 IS NULL OR f.family_id = ?1)",
        )?
        .query_map([family], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    if family.is_none() {
        let all: i64 = tx
            .prepare_cached("SELECT COALESCE(sum(n), 0) FROM facet_counts WHERE scope = 0 AND dim = 'models'")?
            .query_row([], |r| r.get(0))?;
        let members: i64 = out.iter().map(|(_, _, n)| n).sum();
        if all > members {
            out.push((0, String::new(), all - members));
        }
    }
    Ok(out)
}

/// Models with telemetry (a version in `monitor_versions`) per family id.
fn served_per_family(tx: &Connection, family: Option<i64>) -> StoreResult<Vec<(i64, i64)>> {
    let sql = match family {
        // The family's members by the (family_id, ...) unique index, each probed in the telemetry.
        Some(_) => {
            "SELECT fm.family_id, count(*) FROM fleet_members fm
             WHERE fm.family_id = ?1 AND EXISTS (SELECT 1 FROM monitor_versions m WHERE m.rm_id = fm.rm_id)
             GROUP BY fm.family_id"
        }
        None => {
            "SELECT COALESCE(fm.family_id, 0) AS fid, count(*) FROM (SELECT DISTINCT rm_id FROM monitor_versions) m
             LEFT JOIN fleet_members fm ON fm.rm_id = m.rm_id WHERE ?1 IS NULL GROUP BY fid"
        }
    };
    Ok(tx.prepare_cached(sql)?.query_map([family], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?)
}

/// Staleness per family of the fleet or of `family`, ages at `at`.
pub(super) fn staleness(tx: &Connection, family: Option<&str>, at: i64) -> StoreResult<Vec<FamilyStaleness>> {
    let Some(fid) = family_id(tx, family)? else { return Ok(Vec::new()) };
    let served = served_per_family(tx, fid)?;
    let mut counts = tx.prepare_cached(
        "SELECT champions, made_sum, with_data, data_sum, superseded,
           (SELECT min(made) FROM report_champions r WHERE r.family_id = c.family_id),
           (SELECT count(*) FROM report_champions r WHERE r.family_id = c.family_id AND r.made < ?2)
         FROM report_family_counts c WHERE c.family_id = ?1 AND c.champions > 0",
    )?;
    let stale_before = at - STALE_DAYS * DAY_MS as i64;
    let mut out = Vec::new();
    for (id, name, models) in models_per_family(tx, fid)? {
        let served = served.iter().find(|(f, _)| *f == id).map_or(0, |(_, n)| *n);
        let mut s = FamilyStaleness { family: name, models, never_served: models - served, ..Default::default() };
        let row = counts
            .query_row(params![id, stale_before], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .optional()?;
        if let Some((champions, made_sum, with_data, data_sum, superseded, oldest, stale)) = row {
            let at = at as f64;
            s.champions = champions;
            s.champion_age_avg = Some((at - made_sum / champions as f64) / DAY_MS);
            s.champion_age_max = Some((at - oldest as f64) / DAY_MS);
            s.champions_stale = stale;
            s.champions_with_data = with_data;
            s.data_age_avg = (with_data > 0).then(|| (at - data_sum / with_data as f64) / DAY_MS);
            s.on_superseded = superseded;
        }
        out.push(s);
    }
    out.sort_by(|a, b| b.models.cmp(&a.models).then_with(|| a.family.cmp(&b.family)));
    Ok(out)
}

/// The oldest champions of the fleet or of `family`, by the age index.
pub(super) fn oldest_champions(
    tx: &Connection,
    family: Option<&str>,
    at: i64,
    limit: usize,
) -> StoreResult<Vec<StaleChampion>> {
    let Some(fid) = family_id(tx, family)? else { return Ok(Vec::new()) };
    // Two statements so that each walks its own index: (made) for the fleet, (family_id, made) for a family.
    let sql = match fid {
        Some(_) => {
            "SELECT rm.name, f.name, c.version, c.made, c.data_time, c.superseded
             FROM report_champions c JOIN registered_models rm ON rm.rm_id = c.rm_id
             JOIN families f ON f.family_id = c.family_id
             WHERE c.family_id = :fid ORDER BY c.made, rm.name LIMIT :limit"
        }
        None => {
            "SELECT rm.name, COALESCE(f.name, ''), c.version, c.made, c.data_time, c.superseded
             FROM report_champions c JOIN registered_models rm ON rm.rm_id = c.rm_id
             LEFT JOIN families f ON f.family_id = c.family_id
             WHERE :fid IS NULL ORDER BY c.made, rm.name LIMIT :limit"
        }
    };
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map(named_params! {":fid": fid, ":limit": limit as i64}, |r| {
        let made: i64 = r.get(3)?;
        let data_time: Option<i64> = r.get(4)?;
        Ok(StaleChampion {
            model: r.get(0)?,
            family: r.get(1)?,
            version: r.get(2)?,
            age_days: (at - made) as f64 / DAY_MS,
            data_age_days: data_time.map(|t| (at - t) as f64 / DAY_MS),
            superseded: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The champions' training datasets of the fleet or of `family`, most used
/// first (ties: the earlier registered dataset), and how many distinct.
pub(super) fn datasets_in_use(
    tx: &Connection,
    family: Option<&str>,
    limit: usize,
) -> StoreResult<(Vec<DatasetUse>, i64)> {
    let Some(fid) = family_id(tx, family)? else { return Ok((Vec::new(), 0)) };
    let scope = fid.unwrap_or(-1);
    let total: i64 = tx
        .prepare_cached("SELECT count(*) FROM report_dataset_champions WHERE family_id = ?1 AND champions > 0")?
        .query_row([scope], |r| r.get(0))?;
    let mut stmt = tx.prepare_cached(
        "WITH top AS (SELECT ds_id, champions FROM report_dataset_champions
                      WHERE family_id = ?1 AND champions > 0 ORDER BY champions DESC, ds_id LIMIT ?2)
         SELECT de.name, de.digest, top.champions,
           (SELECT count(*) FROM report_dataset_champions x WHERE x.ds_id = top.ds_id AND x.family_id >= 0
              AND x.champions > 0 AND (?1 < 0 OR x.family_id = ?1)),
           EXISTS (SELECT 1 FROM dataset_entities d2 WHERE d2.name = de.name AND (d2.creation_time > de.creation_time
             OR (d2.creation_time = de.creation_time AND d2.ds_id > de.ds_id)))
         FROM top JOIN dataset_entities de ON de.ds_id = top.ds_id
         ORDER BY top.champions DESC, de.name, de.digest",
    )?;
    let rows = stmt.query_map(params![scope, limit as i64], |r| {
        Ok(DatasetUse {
            name: r.get(0)?,
            digest: r.get(1)?,
            champions: r.get(2)?,
            families: r.get(3)?,
            superseded: r.get(4)?,
        })
    })?;
    Ok((rows.collect::<Result<Vec<_>, _>>()?, total))
}

/// Models registered in `[from, to)` in the fleet or `family`: the whole
/// UTC days from `report_registrations`, the partial days at either end on
/// the creation-time index. `None` for a family that does not exist.
pub(super) fn registered(tx: &Connection, family: Option<&str>, from: i64, to: i64) -> StoreResult<Option<i64>> {
    let Some(fid) = family_id(tx, family)? else { return Ok(None) };
    if to <= from {
        return Ok(Some(0));
    }
    // The counters' days are `creation_time / 86400000` in SQL, which truncates: whole days only for times >= 0.
    let first_day = if from <= 0 { 0 } else { (from + DAY - 1) / DAY };
    let end_day = to.max(0) / DAY;
    let mut edge = tx.prepare_cached(
        "SELECT count(*) FROM registered_models rm WHERE rm.creation_time >= ?1 AND rm.creation_time < ?2
           AND (?3 IS NULL OR EXISTS (SELECT 1 FROM fleet_members fm WHERE fm.rm_id = rm.rm_id AND fm.family_id = ?3))",
    )?;
    if first_day >= end_day {
        return Ok(Some(edge.query_row(params![from, to, fid], |r| r.get(0))?));
    }
    let whole: i64 = tx
        .prepare_cached(
            "SELECT COALESCE(sum(models), 0) FROM report_registrations
             WHERE (?1 IS NULL OR family_id = ?1) AND day >= ?2 AND day < ?3",
        )?
        .query_row(params![fid, first_day, end_day], |r| r.get(0))?;
    let head: i64 = edge.query_row(params![from, first_day * DAY, fid], |r| r.get(0))?;
    let tail: i64 = edge.query_row(params![end_day * DAY, to, fid], |r| r.get(0))?;
    Ok(Some(whole + head + tail))
}

/// Serving per family over days starting in `[from, to)`: the day sums, the
/// busiest day's models, and the latency health as the health job last
/// judged it; busiest families first.
pub(super) fn serving(tx: &Connection, family: Option<&str>, from: i64, to: i64) -> StoreResult<Vec<FamilyServing>> {
    let mut stmt = tx.prepare_cached(
        "WITH fam AS (SELECT family_id, name FROM families WHERE :family IS NULL OR name = :family
                      UNION ALL SELECT -1, '' WHERE :family IS NULL),
              traffic AS (SELECT d.family_id, max(d.models) AS served, sum(d.requests) AS requests,
                                 sum(d.rows) AS rows, sum(d.errors) AS errors, sum(d.cache_hits) AS hits,
                                 sum(d.cache_misses) AS misses, max(d.model_bytes) AS bytes
                          FROM fam CROSS JOIN report_serving_days d ON d.family_id = fam.family_id
                          WHERE d.day >= :from AND d.day < :to GROUP BY d.family_id)
         SELECT fam.name, t.served, t.requests, t.errors, coalesce(l.warn, 0), coalesce(l.fail, 0),
                l.total / nullif(l.valued, 0), t.rows, t.hits, t.misses, t.bytes
         FROM traffic t JOIN fam ON fam.family_id = t.family_id
         LEFT JOIN report_latency l ON l.family_id = t.family_id
         ORDER BY t.requests + t.rows DESC, fam.name",
    )?;
    let rows = stmt.query_map(named_params! {":family": family, ":from": from, ":to": to}, family_serving)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Traffic in buckets of `width` from `from`, summed over the scope's families' days.
pub(super) fn traffic(
    tx: &Connection,
    family: Option<&str>,
    from: i64,
    to: i64,
    width: i64,
) -> StoreResult<Vec<TrafficBucket>> {
    let mut stmt = tx.prepare_cached(
        "WITH fam AS (SELECT family_id FROM families WHERE :family IS NULL OR name = :family
                      UNION ALL SELECT -1 WHERE :family IS NULL)
         SELECT :from + ((d.day - :from) / :width) * :width AS b, sum(d.requests), sum(d.rows), sum(d.errors)
         FROM fam CROSS JOIN report_serving_days d ON d.family_id = fam.family_id
         WHERE d.day >= :from AND d.day < :to
         GROUP BY b ORDER BY b",
    )?;
    let rows = stmt.query_map(named_params! {":family": family, ":from": from, ":to": to, ":width": width}, |r| {
        Ok(TrafficBucket { start: r.get(0)?, requests: r.get(1)?, rows: r.get(2)?, errors: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The most drifted models of the fleet or one family: the failing or
/// warning drift checks walked from their index (migration 24), each with
/// its model's name and family by key.
pub(super) fn drifted_models(tx: &Connection, family: Option<&str>, limit: usize) -> StoreResult<Vec<DriftedModel>> {
    let mut stmt = tx.prepare_cached(
        "SELECT rm.name, coalesce(f.name, ''), h.check_name, h.status, h.value
         FROM model_health h
         JOIN registered_models rm ON rm.rm_id = h.rm_id
         LEFT JOIN fleet_members m ON m.rm_id = h.rm_id
         LEFT JOIN families f ON f.family_id = m.family_id
         WHERE h.check_name IN ('data_drift', 'prediction_drift') AND h.status IN ('warn', 'fail')
           AND (:family IS NULL OR f.name = :family)
         ORDER BY h.status = 'fail' DESC, h.value DESC, rm.name, h.check_name LIMIT :limit",
    )?;
    let rows = stmt.query_map(named_params! {":family": family, ":limit": limit as i64}, drifted_model)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A [`FamilyServing`] from a row of (family, models served, requests,
/// errors, latency warn, latency fail, mean p99, rows, cache hits, cache
/// misses, peak day's model bytes), as both serving plans select it.
pub(super) fn family_serving(r: &rusqlite::Row<'_>) -> rusqlite::Result<FamilyServing> {
    Ok(FamilyServing {
        family: r.get(0)?,
        models_served: r.get(1)?,
        requests: r.get(2)?,
        errors: r.get(3)?,
        latency_warn: r.get(4)?,
        latency_fail: r.get(5)?,
        p99_avg_ms: r.get(6)?,
        rows: r.get(7)?,
        cache_hits: r.get(8)?,
        cache_misses: r.get(9)?,
        model_bytes_peak: r.get(10)?,
    })
}

/// A [`DriftedModel`] from a row of (model, family, check, status, value).
pub(super) fn drifted_model(r: &rusqlite::Row<'_>) -> rusqlite::Result<DriftedModel> {
    Ok(DriftedModel { model: r.get(0)?, family: r.get(1)?, check: r.get(2)?, status: r.get(3)?, value: r.get(4)? })
}
