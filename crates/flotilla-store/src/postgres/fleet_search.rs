//! Fleet search and facet counts on PostgreSQL: the rows, order and page
//! tokens of SQLite's (`sqlite/fleet_search.rs`), as plain indexed SQL. Every
//! set filter is `rm.rm_id IN (subquery)` over an index (family members, the
//! parent index for a partition's subtree, partition values, tags, aliases,
//! aliased-version metrics), a name substring is an `ILIKE` the `pg_trgm`
//! index answers, and PostgreSQL's planner picks which set drives. Pages are
//! keyset pages: the cursor is the last row's sort key values.

use flotilla_core::fleet::{Facets, FleetModel, FleetOrder, FleetQuery, PartitionValue};
use flotilla_core::model::Page;
use flotilla_core::validation;

use super::families::{self, find_member};
use super::fleet_sql::{Key, Sql, keyset, like_literal};
use super::{PgStore, Tx};
use crate::error::StoreResult;
use crate::fleet::FleetSearchStore;
use crate::paging;
use crate::sqlite::families::FamilyRow;
use crate::sqlite::fleet_search::validate;

/// A member (`$root`) and every member below it down to the family's leaf
/// depth (`$leaf`), through the parent index.
fn subtree(root: &str, leaf: &str) -> String {
    format!(
        "rm.rm_id IN (WITH RECURSIVE sub (rm_id, depth) AS (
             SELECT rm_id, depth FROM fleet_members WHERE rm_id = {root}
             UNION ALL SELECT fm.rm_id, sub.depth + 1 FROM sub JOIN fleet_members fm ON fm.parent = sub.rm_id
             WHERE sub.depth < {leaf})
         SELECT rm_id FROM sub)"
    )
}

fn partition_subtree(s: &mut Sql, tx: &mut Tx<'_>, family: &FamilyRow, path: &[PartitionValue]) -> StoreResult<()> {
    if !path.is_empty() {
        let member = find_member(tx, family, path)?.unwrap_or(-1);
        let (root, leaf) = (s.bind(member), s.bind(family.levels.len() as i64));
        s.and(subtree(&root, &leaf));
    }
    Ok(())
}

/// The WHERE clauses of a fleet query over `registered_models rm`; with
/// `sorted`, a bound on the sorted metric is a bound on its join `sm`.
pub(super) fn build_filter(tx: &mut Tx<'_>, q: &FleetQuery, sorted: bool, s: &mut Sql) -> StoreResult<()> {
    if let Some(name) = &q.family {
        let family = families::family(tx, name)?;
        let mut path_depth = None;
        for p in &q.partition {
            path_depth = path_depth.max(Some(family.depth_of(&p.key)? as i64));
        }
        match q.depth {
            // The children of one member: its rows in the parent index.
            Some(depth) if path_depth.is_some_and(|d| d + 1 == depth) => {
                let parent = find_member(tx, &family, &q.partition).ok().flatten().unwrap_or(-1);
                let p = s.bind(parent);
                s.and(format!("rm.rm_id IN (SELECT rm_id FROM fleet_members WHERE parent = {p})"));
            }
            Some(depth) => {
                let (id, d) = (s.bind(family.id), s.bind(depth));
                s.and(format!("rm.rm_id IN (SELECT rm_id FROM fleet_members WHERE family_id = {id} AND depth = {d})"));
                partition_subtree(s, tx, &family, &q.partition)?;
            }
            None if !q.partition.is_empty() => partition_subtree(s, tx, &family, &q.partition)?,
            None => {
                let id = s.bind(family.id);
                s.and(format!("rm.rm_id IN (SELECT rm_id FROM fleet_members WHERE family_id = {id})"));
            }
        }
    } else {
        for PartitionValue { key, value } in &q.partition {
            let (k, v) = (s.bind(key.clone()), s.bind(value.clone()));
            s.and(format!("rm.rm_id IN (SELECT rm_id FROM member_partitions WHERE key = {k} AND value = {v})"));
        }
    }
    if let Some(prefix) = q.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        let (lo, hi) = (s.bind(prefix.to_string()), s.bind(format!("{prefix}\u{10FFFF}")));
        s.and(format!("rm.name >= {lo} AND rm.name < {hi}"));
    }
    if let Some(part) = q.name_contains.as_deref().filter(|p| !p.is_empty()) {
        // Case-insensitive, as SQLite's `instr(lower(..))`; the trigram index answers ILIKE.
        let pattern = s.bind(format!("%{}%", like_literal(part)));
        s.and(format!("rm.name ILIKE {pattern} ESCAPE '\\'"));
    }
    for (key, value) in &q.tags {
        let (k, v) = (s.bind(key.clone()), s.bind(value.clone()));
        s.and(format!("rm.rm_id IN (SELECT rm_id FROM registered_model_tags WHERE key = {k} AND value = {v})"));
    }
    for alias in &q.has_alias {
        let a = s.bind(alias.clone());
        s.and(format!("rm.rm_id IN (SELECT rm_id FROM registered_model_aliases WHERE alias = {a})"));
    }
    for alias in &q.missing_alias {
        let a = s.bind(alias.clone());
        s.and(format!(
            "NOT EXISTS (SELECT 1 FROM registered_model_aliases a WHERE a.rm_id = rm.rm_id AND a.alias = {a})"
        ));
    }
    let sorted_metric = match &q.sort.by {
        FleetOrder::Metric(m) if sorted => Some(m),
        FleetOrder::Metric(_) | FleetOrder::Name | FleetOrder::Created | FleetOrder::Updated => None,
    };
    for m in &q.metrics {
        let value = s.bind(m.value);
        if sorted_metric.is_some_and(|sm| sm.alias == m.alias && sm.key == m.key) {
            s.and(format!("sm.value {} {value}", m.op.sql()));
            continue;
        }
        let (a, k) = (s.bind(m.alias.clone()), s.bind(m.key.clone()));
        s.and(format!(
            "rm.rm_id IN (SELECT rm_id FROM alias_metrics WHERE alias = {a} AND key = {k} AND value {} {value})",
            m.op.sql()
        ));
    }
    let ranges = [
        ("rm.creation_time >", q.created_after),
        ("rm.creation_time <", q.created_before),
        ("rm.last_update_time >", q.updated_after),
        ("rm.last_update_time <", q.updated_before),
    ];
    for (clause, bound) in ranges {
        if let Some(t) = bound {
            let t = s.bind(t);
            s.and(format!("{clause} {t}"));
        }
    }
    if let Some(predicate) = super::fleet_sql::visible_models(&q.visible, "rm.name", "rm.rm_id", s) {
        s.and(format!("({predicate})"));
    }
    Ok(())
}

impl FleetSearchStore for PgStore {
    fn search_fleet(&self, q: &FleetQuery) -> StoreResult<Page<FleetModel>> {
        validate(q)?;
        let limit = validation::page_size(q.max_results, (100, 1000), "max_results")?;
        let keys = match &q.sort.by {
            FleetOrder::Name => vec![Key::Text("rm.name")],
            FleetOrder::Created => vec![Key::Int("rm.creation_time"), Key::Text("rm.name")],
            FleetOrder::Updated => vec![Key::Int("rm.last_update_time"), Key::Text("rm.name")],
            FleetOrder::Metric(m) => {
                validation::alias(&m.alias)?;
                vec![Key::Real("sm.value"), Key::Int("sm.rm_id")]
            }
        };
        let cursor = paging::decode_opt(q.page_token.as_deref(), keys.len())?;
        self.read(|tx| {
            let mut s = Sql::default();
            let join = match &q.sort.by {
                FleetOrder::Metric(m) => {
                    let (a, k) = (s.bind(m.alias.clone()), s.bind(m.key.clone()));
                    format!(" JOIN alias_metrics sm ON sm.rm_id = rm.rm_id AND sm.alias = {a} AND sm.key = {k}")
                }
                FleetOrder::Name | FleetOrder::Created | FleetOrder::Updated => String::new(),
            };
            build_filter(tx, q, true, &mut s)?;
            let (columns, order) = keyset(&mut s, &keys, cursor.as_deref(), q.sort.descending)?;
            let lim = s.bind(limit as i64 + 1);
            let sql = format!(
                "SELECT rm.rm_id, {columns} FROM registered_models rm{join}{} ORDER BY {order} LIMIT {lim}",
                s.where_clause(),
            );
            let rows = tx.raw().query(&sql, &s.params())?;
            let more = rows.len() > limit;
            let page: Vec<i64> = rows.iter().take(limit).map(|r| r.get(0)).collect();
            let next_page_token = more.then(|| {
                let last = &rows[limit - 1];
                paging::encode(&Key::cursor(&keys, last, 1))
            });
            Ok(Page { items: super::fleet_rows::fleet_models(tx, &page)?, next_page_token })
        })
    }

    fn fleet_facets(&self, q: &FleetQuery, tag_keys: &[String]) -> StoreResult<Facets> {
        Ok(self.facets_within(q, tag_keys, None)?.0)
    }
}
