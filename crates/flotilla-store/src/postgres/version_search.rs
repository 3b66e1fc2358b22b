//! Version search across the fleet on PostgreSQL: model versions filtered by
//! their model (family, name prefix, partition, tags) and by themselves
//! (aliases pointing at them, version tags, metrics, creation time), in
//! keyset pages with the rows, order and page tokens of SQLite's
//! (`sqlite/version_search.rs`), as plain indexed SQL: every set filter is an
//! `IN (subquery)` and PostgreSQL's planner picks which one drives.

use std::collections::HashMap;

use flotilla_core::fleet::PartitionValue;
use flotilla_core::fleet_versions::{FleetVersion, VersionOrder, VersionQuery};
use flotilla_core::model::Page;
use flotilla_core::validation;

use super::families::{self, version};
use super::fleet_sql::{Key, Sql, keyset};
use super::insights::{version_metric_keys, version_metric_values};
use super::{PgStore, Tx};
use crate::error::StoreResult;
use crate::fleet::VersionSearchStore;
use crate::paging;
use crate::sqlite::version_search::validate;

fn build_filter(tx: &mut Tx<'_>, q: &VersionQuery, s: &mut Sql) -> StoreResult<()> {
    if let Some(name) = &q.family {
        let family = families::family(tx, name)?;
        if q.partition.is_empty() {
            let id = s.bind(family.id);
            s.and(format!("v.rm_id IN (SELECT rm_id FROM fleet_members WHERE family_id = {id})"));
        }
        for p in &q.partition {
            // Within a family a partition is one member and its subtree, through the parent links.
            let depth = family.depth_of(&p.key)? as i64;
            let (id, d, value) = (s.bind(family.id), s.bind(depth), s.bind(p.value.clone()));
            s.and(format!(
                "v.rm_id IN (WITH RECURSIVE sub (rm_id) AS (
                     SELECT rm_id FROM fleet_members WHERE family_id = {id} AND depth = {d} AND part_value = {value}
                     UNION ALL SELECT fm.rm_id FROM sub JOIN fleet_members fm ON fm.parent = sub.rm_id)
                 SELECT rm_id FROM sub)"
            ));
        }
    } else {
        for PartitionValue { key, value } in &q.partition {
            let (k, v) = (s.bind(key.clone()), s.bind(value.clone()));
            s.and(format!("v.rm_id IN (SELECT rm_id FROM member_partitions WHERE key = {k} AND value = {v})"));
        }
    }
    if let Some(prefix) = q.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        let (lo, hi) = (s.bind(prefix.to_string()), s.bind(format!("{prefix}\u{10FFFF}")));
        s.and(format!("rm.name >= {lo} AND rm.name < {hi}"));
    }
    for (key, value) in &q.tags {
        let (k, v) = (s.bind(key.clone()), s.bind(value.clone()));
        s.and(format!("v.rm_id IN (SELECT rm_id FROM registered_model_tags WHERE key = {k} AND value = {v})"));
    }
    for (key, value) in &q.version_tags {
        let (k, v) = (s.bind(key.clone()), s.bind(value.clone()));
        s.and(format!(
            "(v.rm_id, v.version) IN (SELECT rm_id, version FROM model_version_tags WHERE key = {k} AND value = {v})"
        ));
    }
    for alias in &q.has_alias {
        let a = s.bind(alias.clone());
        s.and(format!(
            "(v.rm_id, v.version) IN (SELECT rm_id, version FROM registered_model_aliases WHERE alias = {a})"
        ));
    }
    for m in &q.metrics {
        let value = s.bind(m.value);
        // A bound on the sorted metric is a range on the sort's join (`sm`).
        if matches!(&q.sort.by, VersionOrder::Metric(sorted) if *sorted == m.key) {
            s.and(format!("sm.value {} {value}", m.op.sql()));
            continue;
        }
        let k = s.bind(m.key.clone());
        s.and(format!(
            "(v.rm_id, v.version) IN (SELECT rm_id, version FROM model_version_metrics WHERE key = {k} AND value {} {value})",
            m.op.sql()
        ));
    }
    if let Some(t) = q.created_after {
        let t = s.bind(t);
        s.and(format!("v.creation_time > {t}"));
    }
    if let Some(t) = q.created_before {
        let t = s.bind(t);
        s.and(format!("v.creation_time < {t}"));
    }
    if let Some(predicate) = super::fleet_sql::visible_models(&q.visible, "rm.name", "rm.rm_id", s) {
        s.and(format!("({predicate})"));
    }
    Ok(())
}

impl VersionSearchStore for PgStore {
    fn search_versions(&self, q: &VersionQuery) -> StoreResult<Page<FleetVersion>> {
        validate(q)?;
        let limit = validation::page_size(q.max_results, (100, 1000), "max_results")?;
        let keys = match &q.sort.by {
            VersionOrder::Version => vec![Key::Text("rm.name"), Key::Int("v.version")],
            VersionOrder::Created => vec![Key::Int("v.creation_time"), Key::Int("v.rm_id"), Key::Int("v.version")],
            VersionOrder::Metric(_) => vec![Key::Real("sm.value"), Key::Int("sm.rm_id"), Key::Int("sm.version")],
        };
        let cursor = paging::decode_opt(q.page_token.as_deref(), keys.len())?;
        self.read(|tx| {
            let mut s = Sql::default();
            let join = match &q.sort.by {
                VersionOrder::Version | VersionOrder::Created => String::new(),
                VersionOrder::Metric(metric) => {
                    let k = s.bind(metric.clone());
                    format!(
                        " JOIN model_version_metrics sm ON sm.rm_id = v.rm_id AND sm.version = v.version AND sm.key = {k}"
                    )
                }
            };
            build_filter(tx, q, &mut s)?;
            let (columns, order) = keyset(&mut s, &keys, cursor.as_deref(), q.sort.descending)?;
            let lim = s.bind(limit as i64 + 1);
            let sql = format!(
                "SELECT v.rm_id, v.version, {columns}
                 FROM model_versions v JOIN registered_models rm ON rm.rm_id = v.rm_id{join}{}
                 ORDER BY {order} LIMIT {lim}",
                s.where_clause()
            );
            let rows = tx.raw().query(&sql, &s.params())?;
            let more = rows.len() > limit;
            let next_page_token = more.then(|| paging::encode(&Key::cursor(&keys, &rows[limit - 1], 2)));
            let pairs: Vec<(i64, i64)> = rows.iter().take(limit).map(|r| (r.get(0), r.get(1))).collect();
            let mut page = load_versions(tx, &pairs)?;
            attach_details(tx, &mut page)?;
            Ok(Page { items: page.into_iter().map(|(_, v)| v).collect(), next_page_token })
        })
    }
}

/// The versions of a page, in its order, in one query.
fn load_versions(tx: &mut Tx<'_>, pairs: &[(i64, i64)]) -> StoreResult<Vec<(i64, FleetVersion)>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, numbers): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
    let rows = tx.query(
        "SELECT v.rm_id, v.version, rm.name, v.creation_time, v.last_update_time, v.current_stage, v.source, v.run_id,
                (SELECT f.name FROM fleet_members fm JOIN families f ON f.family_id = fm.family_id
                 WHERE fm.rm_id = v.rm_id),
                (SELECT t.value FROM registered_model_tags t WHERE t.rm_id = v.rm_id AND t.key = 'flotilla.partition')
         FROM unnest($1::BIGINT[], $2::BIGINT[]) WITH ORDINALITY j (rm_id, version, ord)
         JOIN model_versions v ON v.rm_id = j.rm_id AND v.version = j.version
         JOIN registered_models rm ON rm.rm_id = v.rm_id
         ORDER BY j.ord",
        &[&ids, &numbers],
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.get(0),
                FleetVersion {
                    model: r.get(2),
                    version: version(r.get(1))?,
                    creation_timestamp: r.get(3),
                    last_updated_timestamp: r.get(4),
                    current_stage: r.get(5),
                    source: r.get(6),
                    run_id: r.get(7),
                    family: r.get(8),
                    partition: r.get::<_, Option<String>>(9).unwrap_or_default(),
                    aliases: Vec::new(),
                    metrics: Vec::new(),
                },
            ))
        })
        .collect()
}

/// Aliases (one query) and metrics (index seeks) of a page of versions.
fn attach_details(tx: &mut Tx<'_>, page: &mut [(i64, FleetVersion)]) -> StoreResult<()> {
    if page.is_empty() {
        return Ok(());
    }
    let (ids, numbers): (Vec<i64>, Vec<i64>) = page.iter().map(|(rm_id, v)| (*rm_id, v.version.get())).unzip();
    let position: HashMap<(i64, i64), usize> =
        page.iter().enumerate().map(|(i, (rm_id, v))| ((*rm_id, v.version.get()), i)).collect();
    for r in tx.query(
        "SELECT a.rm_id, a.version, a.alias FROM registered_model_aliases a
         JOIN (SELECT DISTINCT * FROM unnest($1::BIGINT[], $2::BIGINT[])) p (rm_id, version)
           ON a.rm_id = p.rm_id AND a.version = p.version
         ORDER BY a.alias",
        &[&ids, &numbers],
    )? {
        if let Some(&i) = position.get(&(r.get(0), r.get(1))) {
            page[i].1.aliases.push(r.get(2));
        }
    }
    // Metrics by point lookups over each model's keys (as SQLite's: a model may have many versions).
    let mut keys_of: HashMap<i64, Vec<String>> = HashMap::new();
    for (rm_id, v) in page.iter_mut() {
        if !keys_of.contains_key(rm_id) {
            keys_of.insert(*rm_id, version_metric_keys(tx, *rm_id)?);
        }
        v.metrics = version_metric_values(tx, *rm_id, &keys_of[rm_id], v.version.get())?;
    }
    Ok(())
}
