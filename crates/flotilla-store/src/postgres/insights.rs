//! [`InsightStore`] on PostgreSQL (as `sqlite/insights.rs`, with its caps):
//! every query is bounded by its caller's limit and walks a primary key or
//! an index.

use flotilla_core::fleet::{Facets, FleetQuery, PartitionValue};
use flotilla_core::{Error, VersionNumber, validation};

use super::families::{self, find_member, version};
use super::fleet_sql::{self, Sql};
use super::{PgStore, Tx};
use crate::Visible;
use crate::error::StoreResult;
use crate::insights::{FacetBound, InsightStore, MetricSample, TimelinePoint, VersionMetrics};
use crate::sqlite::insights::{MAX_NAMES, MAX_POINTS, MAX_VERSIONS};

/// A registered model's id, or MLflow's not-found error.
pub(super) fn rm_id(tx: &mut Tx<'_>, name: &str) -> StoreResult<i64> {
    Ok(tx
        .query_opt("SELECT rm_id FROM registered_models WHERE name = $1", &[&name])?
        .ok_or_else(|| Error::not_found(format!("Registered Model with name={name} not found")))?
        .get(0))
}

/// The distinct keys after `after` in `sql`'s index, one index step each (a
/// skip scan: a model has few metric keys but may have many versions).
fn distinct_keys(
    tx: &mut Tx<'_>,
    sql: &str,
    owner: &(dyn postgres::types::ToSql + Sync),
    cap: usize,
) -> StoreResult<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    while keys.len() < cap
        && let Some(row) = tx.query_opt(sql, &[owner, &keys.last().map_or("", String::as_str)])?
    {
        keys.push(row.get(0));
    }
    Ok(keys)
}

/// The distinct keys of `model_version_metrics` for one model.
pub(super) fn version_metric_keys(tx: &mut Tx<'_>, rm_id: i64) -> StoreResult<Vec<String>> {
    distinct_keys(
        tx,
        "SELECT key FROM model_version_metrics WHERE rm_id = $1 AND key > $2 ORDER BY key LIMIT 1",
        &rm_id,
        usize::MAX,
    )
}

/// One version's values of `keys` (from [`version_metric_keys`]), one index seek each.
pub(super) fn version_metric_values(
    tx: &mut Tx<'_>,
    rm_id: i64,
    keys: &[String],
    version: i64,
) -> StoreResult<Vec<(String, f64)>> {
    let mut metrics = Vec::new();
    for key in keys {
        if let Some(row) = tx.query_opt(
            "SELECT value FROM model_version_metrics WHERE rm_id = $1 AND key = $2 AND version = $3",
            &[&rm_id, key, &version],
        )? {
            metrics.push((key.clone(), row.get(0)));
        }
    }
    Ok(metrics)
}

impl InsightStore for PgStore {
    fn version_metrics(&self, model: &str, versions: &[VersionNumber]) -> StoreResult<Vec<VersionMetrics>> {
        if versions.len() > MAX_VERSIONS {
            return Err(Error::invalid(format!("at most {MAX_VERSIONS} versions at a time")).into());
        }
        self.read(|tx| {
            let rm_id = rm_id(tx, model)?;
            let keys = version_metric_keys(tx, rm_id)?;
            let mut out = Vec::with_capacity(versions.len());
            for &v in versions {
                let metrics = version_metric_values(tx, rm_id, &keys, v.get())?;
                if !metrics.is_empty() {
                    out.push(VersionMetrics { version: v, metrics });
                }
            }
            Ok(out)
        })
    }

    fn version_timeline(&self, model: &str, points: usize) -> StoreResult<Vec<TimelinePoint>> {
        let points = points.clamp(2, MAX_POINTS) as i64;
        self.read(|tx| {
            let rm_id = rm_id(tx, model)?;
            let ends =
                tx.query_one("SELECT min(version), max(version) FROM model_versions WHERE rm_id = $1", &[&rm_id])?;
            let (Some(first), Some(last)) = (ends.get::<_, Option<i64>>(0), ends.get::<_, Option<i64>>(1)) else {
                return Ok(Vec::new());
            };
            let span = last - first;
            let mut out: Vec<TimelinePoint> = Vec::new();
            for i in 0..points {
                let target = first + span * i / (points - 1);
                if out.last().is_some_and(|p| p.version.get() >= target) {
                    continue;
                }
                if let Some(row) = tx.query_opt(
                    "SELECT version, creation_time FROM model_versions WHERE rm_id = $1 AND version >= $2
                     ORDER BY version LIMIT 1",
                    &[&rm_id, &target],
                )? {
                    out.push(TimelinePoint { version: version(row.get(0))?, time: row.get(1) });
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
            let mut sql = Sql::default();
            // A member the caller may not read is read (it counts towards the
            // limit) but its value is not shown.
            let shown =
                fleet_sql::visible_models(visible, "rm.name", "rm.rm_id", &mut sql).unwrap_or_else(|| "TRUE".into());
            let (alias_p, key_p) = (sql.bind(alias.to_string()), sql.bind(key.to_string()));
            let members = if partition.is_empty() {
                // The whole family, in the (family, depth, value) index's order: spread over its partitions.
                let (fam_p, limit_p) = (sql.bind(fam.id), sql.bind(limit));
                format!(
                    "SELECT rm_id FROM fleet_members WHERE family_id = {fam_p}
                     ORDER BY family_id, depth, part_value LIMIT {limit_p}"
                )
            } else {
                // The subtree under the partition's member, walked down the parent index.
                let Some(top) = find_member(tx, &fam, partition)? else { return Ok(MetricSample::default()) };
                let (top_p, limit_p) = (sql.bind(top), sql.bind(limit));
                format!(
                    "WITH RECURSIVE sub (rm_id) AS (
                         SELECT {top_p}::BIGINT UNION ALL
                         SELECT fm.rm_id FROM fleet_members fm JOIN sub ON fm.parent = sub.rm_id)
                     SELECT rm_id FROM sub LIMIT {limit_p}"
                )
            };
            let rows = tx.query(
                &format!(
                    "SELECT am.value, {shown} FROM ({members}) m
                     JOIN registered_models rm ON rm.rm_id = m.rm_id
                     LEFT JOIN alias_metrics am ON am.rm_id = m.rm_id AND am.alias = {alias_p} AND am.key = {key_p}"
                ),
                &sql.params(),
            )?;
            let members_read = rows.len() as i64;
            Ok(MetricSample {
                values: rows
                    .iter()
                    .filter(|r| r.get::<_, bool>(1))
                    .filter_map(|r| r.get::<_, Option<f64>>(0))
                    .collect(),
                members_read,
                truncated: members_read >= limit,
            })
        })
    }

    fn alias_metric_values(&self, models: &[String], alias: &str, key: &str) -> StoreResult<Vec<Option<f64>>> {
        if models.len() > MAX_NAMES {
            return Err(Error::invalid(format!("at most {MAX_NAMES} models at a time")).into());
        }
        let models = models.to_vec();
        self.read(|tx| {
            let rows = tx.query(
                "SELECT am.value FROM unnest($1::TEXT[]) WITH ORDINALITY j (name, ord)
                 LEFT JOIN registered_models rm ON rm.name = j.name
                 LEFT JOIN alias_metrics am ON am.rm_id = rm.rm_id AND am.alias = $2 AND am.key = $3
                 ORDER BY j.ord",
                &[&models, &alias, &key],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn alias_metric_keys(&self, alias: &str) -> StoreResult<Vec<String>> {
        let alias = alias.to_string();
        self.read(|tx| {
            distinct_keys(
                tx,
                "SELECT key FROM alias_metrics WHERE alias = $1 AND key > $2 ORDER BY key LIMIT 1",
                &alias,
                100,
            )
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
