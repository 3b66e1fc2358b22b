//! [`InsightStore`] for SQLite: every query is bounded by its caller's limit
//! and walks a primary key or an index.

use flotilla_core::fleet::{Facets, FleetQuery, PartitionValue};
use flotilla_core::visible::Visible;
use flotilla_core::{Error, VersionNumber, validation};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{SqliteStore, families, registry, rows, visible};
use crate::error::StoreResult;
use crate::insights::{FacetBound, InsightStore, MetricSample, TimelinePoint, VersionMetrics};

pub(crate) const MAX_VERSIONS: usize = 100;
pub(crate) const MAX_NAMES: usize = 1_000;
pub(crate) const MAX_POINTS: usize = 2_000;

/// The distinct keys of `model_version_metrics` for one model, one index
/// step each (a skip scan: a model has few metric keys but may have many
/// versions).
pub(crate) fn version_metric_keys(tx: &Connection, rm_id: i64) -> StoreResult<Vec<String>> {
    let mut next =
        tx.prepare_cached("SELECT key FROM model_version_metrics WHERE rm_id = ? AND key > ? ORDER BY key LIMIT 1")?;
    let mut keys: Vec<String> = Vec::new();
    while let Some(key) =
        next.query_row(params![rm_id, keys.last().map_or("", String::as_str)], |r| r.get::<_, String>(0)).optional()?
    {
        keys.push(key);
    }
    Ok(keys)
}

/// One version's values of `keys` (from [`version_metric_keys`]), one index seek each.
pub(crate) fn version_metric_values(
    tx: &Connection,
    rm_id: i64,
    keys: &[String],
    version: i64,
) -> StoreResult<Vec<(String, f64)>> {
    let mut value =
        tx.prepare_cached("SELECT value FROM model_version_metrics WHERE rm_id = ? AND key = ? AND version = ?")?;
    let mut metrics = Vec::new();
    for key in keys {
        if let Some(v) = value.query_row(params![rm_id, key, version], |r| r.get(0)).optional()? {
            metrics.push((key.clone(), v));
        }
    }
    Ok(metrics)
}

impl InsightStore for SqliteStore {
    fn version_metrics(&self, model: &str, versions: &[VersionNumber]) -> StoreResult<Vec<VersionMetrics>> {
        if versions.len() > MAX_VERSIONS {
            return Err(Error::invalid(format!("at most {MAX_VERSIONS} versions at a time")).into());
        }
        self.read(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            let keys = version_metric_keys(tx, rm_id)?;
            let mut out = Vec::with_capacity(versions.len());
            for &version in versions {
                let metrics = version_metric_values(tx, rm_id, &keys, version.get())?;
                if !metrics.is_empty() {
                    out.push(VersionMetrics { version, metrics });
                }
            }
            Ok(out)
        })
    }

    fn version_timeline(&self, model: &str, points: usize) -> StoreResult<Vec<TimelinePoint>> {
        let points = points.clamp(2, MAX_POINTS) as i64;
        self.read(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            // Two statements: SQLite answers a lone min() or max() from the index's end, but
            // both in one statement scan every version of the model.
            let first: Option<i64> = tx
                .prepare_cached("SELECT min(version) FROM model_versions WHERE rm_id = ?")?
                .query_row([rm_id], |r| r.get(0))?;
            let last: Option<i64> = tx
                .prepare_cached("SELECT max(version) FROM model_versions WHERE rm_id = ?")?
                .query_row([rm_id], |r| r.get(0))?;
            let (Some(first), Some(last)) = (first, last) else { return Ok(Vec::new()) };
            let mut at_or_after = tx.prepare_cached(
                "SELECT version, creation_time FROM model_versions WHERE rm_id = ? AND version >= ?
                 ORDER BY version LIMIT 1",
            )?;
            let span = last - first;
            let mut out: Vec<TimelinePoint> = Vec::new();
            for i in 0..points {
                let target = first + span * i / (points - 1);
                if out.last().is_some_and(|p| p.version.get() >= target) {
                    continue;
                }
                if let Some((version, time)) = at_or_after
                    .query_row(params![rm_id, target], |r| Ok((rows::version_at(r, 0)?, r.get(1)?)))
                    .optional()?
                {
                    out.push(TimelinePoint { version, time });
                }
            }
            Ok(out)
        })
    }

    fn metric_sample_visible(
        &self,
        family: &str,
        partition: &[PartitionValue],
        alias: &str,
        key: &str,
        limit: usize,
        visible: &Visible,
    ) -> StoreResult<MetricSample> {
        validation::alias(alias)?;
        partition.iter().try_for_each(PartitionValue::validate)?;
        self.read(|tx| {
            let fam = families::family(tx, family)?;
            for p in partition {
                fam.depth_of(&p.key)?;
            }
            let limit = limit.max(1) as i64;
            // Whether the caller may read each member: its arguments come first.
            let mut args: Vec<SqlValue> = Vec::new();
            let shown = visible::models(visible, "rm.name", "rm.rm_id", &mut args).unwrap_or_else(|| "1".into());
            let (members, first): (&str, SqlValue) = if partition.is_empty() {
                // The whole family, in the (family, depth, value) index's order: spread over its partitions.
                ("SELECT rm_id FROM fleet_members WHERE family_id = ? LIMIT ?", fam.id.into())
            } else {
                // The subtree under the partition's member, walked down the parent index.
                let Some(top) = fam.find_member(tx, partition)? else { return Ok(MetricSample::default()) };
                (
                    "WITH RECURSIVE sub (rm_id) AS (
                         SELECT ? UNION ALL
                         SELECT fm.rm_id FROM fleet_members fm JOIN sub ON fm.parent = sub.rm_id LIMIT ?)
                     SELECT rm_id FROM sub",
                    top.into(),
                )
            };
            args.extend([first, limit.into(), SqlValue::Text(alias.into()), SqlValue::Text(key.into())]);
            let rows: Vec<(bool, Option<f64>)> = tx
                .prepare_cached(&format!(
                    "SELECT ({shown}), am.value FROM ({members}) m
                     CROSS JOIN registered_models rm ON rm.rm_id = m.rm_id
                     LEFT JOIN alias_metrics am ON am.rm_id = m.rm_id AND am.alias = ? AND am.key = ?"
                ))?
                .query_map(params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let members_read = rows.len() as i64;
            Ok(MetricSample {
                values: rows.into_iter().filter(|(shown, _)| *shown).filter_map(|(_, v)| v).collect(),
                members_read,
                truncated: members_read >= limit,
            })
        })
    }

    fn alias_metric_values(&self, models: &[String], alias: &str, key: &str) -> StoreResult<Vec<Option<f64>>> {
        if models.len() > MAX_NAMES {
            return Err(Error::invalid(format!("at most {MAX_NAMES} models at a time")).into());
        }
        self.read(|tx| {
            let mut value = tx.prepare_cached(
                "SELECT am.value FROM registered_models rm
                 JOIN alias_metrics am ON am.rm_id = rm.rm_id AND am.alias = ? AND am.key = ?
                 WHERE rm.name = ?",
            )?;
            models.iter().map(|name| Ok(value.query_row(params![alias, key, name], |r| r.get(0)).optional()?)).collect()
        })
    }

    fn alias_metric_keys(&self, alias: &str) -> StoreResult<Vec<String>> {
        self.read(|tx| {
            let mut next =
                tx.prepare_cached("SELECT key FROM alias_metrics WHERE alias = ? AND key > ? ORDER BY key LIMIT 1")?;
            let mut keys: Vec<String> = Vec::new();
            while keys.len() < 100
                && let Some(key) = next
                    .query_row(params![alias, keys.last().map_or("", String::as_str)], |r| r.get::<_, String>(0))
                    .optional()?
            {
                keys.push(key);
            }
            Ok(keys)
        })
    }

    fn bounded_facets(
        &self,
        query: &FleetQuery,
        tag_keys: &[String],
        bound: FacetBound,
    ) -> StoreResult<(Facets, bool)> {
        self.facets_within(query, tag_keys, Some(bound))
    }
}
