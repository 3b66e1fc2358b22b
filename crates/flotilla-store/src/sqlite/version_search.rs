//! Version search across the fleet: model versions filtered by their model
//! (family, name prefix, partition, tags) and by themselves (aliases
//! pointing at them, version tags, metrics, creation time), in keyset pages.
//!
//! As in the model search, each filter is a set over an index, placed once
//! its size is known: a small set drives the query (`IN`), a large one is
//! probed per row (`EXISTS`) while the query walks its sort order, so a page
//! fills after a few rows. Every sort has an index that yields its order:
//! `registered_models(name)` then the version key, `model_versions_by_creation`
//! and `model_version_metrics_by_value` (migration 4).

use std::collections::hash_map::Entry;

use flotilla_core::fleet::PartitionValue;
use flotilla_core::fleet_versions::{FleetVersion, VersionOrder, VersionQuery};
use flotilla_core::model::Page;
use flotilla_core::{Error, validation};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value as JsonValue;

use super::far_end::{self, FarEnd, SortIndex};
use super::keyset::{self, SortKey};
use super::{SearchPlanning, SqliteStore, families, insights, metric_pairs, rows, search_plan, visible};
use crate::error::StoreResult;
use crate::fleet::VersionSearchStore;
use crate::paging;

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

/// A filter "the version's model (or the version itself) is in `table`
/// where `cond`": `key` is `rm_id` or `rm_id, version`.
#[derive(Clone)]
struct Set {
    table: &'static str,
    key: &'static str,
    cond: String,
    args: Vec<SqlValue>,
    /// For a bound on a version metric: the key and the bound.
    metric: Option<(String, &'static str, f64)>,
    /// The set's size when a counter keeps it (a whole family's models), so
    /// placing it counts nothing.
    size: Option<i64>,
}

#[derive(Clone)]
struct Filter {
    sql: String,
    args: Vec<SqlValue>,
    sets: Vec<Set>,
    /// A small set drives the query: its versions are read, then sorted.
    drives: bool,
    /// A large set is probed per row while the query walks its sort order.
    probes: bool,
    /// Every set with its size (capped), as placed.
    placed: Vec<(i64, Set)>,
    /// Every filter is a set, or a bound on the sorted metric, or implied by a set.
    exact: bool,
    /// Bounds on the sorted metric (`<`, 2.0).
    sorted_bounds: Vec<(&'static str, f64)>,
}

impl Filter {
    fn and(&mut self, clause: &str, args: impl IntoIterator<Item = SqlValue>) {
        self.sql.push_str(" AND ");
        self.sql.push_str(clause);
        self.args.extend(args);
    }

    /// A clause that is not a set (nor implied by one): the far-end plan cannot answer.
    fn and_other(&mut self, clause: &str, args: impl IntoIterator<Item = SqlValue>) {
        self.exact = false;
        self.and(clause, args);
    }

    fn set(&mut self, table: &'static str, key: &'static str, cond: &str, args: Vec<SqlValue>) {
        self.sets.push(Set { table, key, cond: cond.to_string(), args, metric: None, size: None });
    }

    /// Turns sets into SQL: sizing one costs at most its cap in index steps.
    /// Walking, a set under the planning's `drive_limit` drives; after a walk
    /// ran past its allowance (`drive_smallest`), the smallest set under
    /// `drive_sizing` does (see `search_plan`).
    fn place(&mut self, tx: &Connection, drive_smallest: bool, planning: SearchPlanning) -> StoreResult<()> {
        let cap = if drive_smallest { planning.drive_sizing } else { planning.drive_limit };
        let mut sized = Vec::with_capacity(self.sets.len());
        for s in std::mem::take(&mut self.sets) {
            let n = search_plan::set_size(tx, (s.table, &s.cond, &s.args), s.size, cap)?;
            sized.push((n, s));
        }
        self.placed = sized.clone();
        let smallest = sized.iter().map(|(n, _)| *n).min();
        for (n, s) in sized {
            let (outer, probe) = match s.key {
                "rm_id" => ("v.rm_id", "x.rm_id = v.rm_id"),
                _ => ("(v.rm_id, v.version)", "x.rm_id = v.rm_id AND x.version = v.version"),
            };
            if n < cap && (!drive_smallest || Some(n) == smallest) {
                self.drives = true;
                self.and(&format!("{outer} IN (SELECT {} FROM {} WHERE {})", s.key, s.table, s.cond), s.args);
            } else {
                self.probes = true;
                self.and(&format!("EXISTS (SELECT 1 FROM {} x WHERE {probe} AND {})", s.table, s.cond), s.args);
            }
        }
        Ok(())
    }
}

pub(crate) fn validate(q: &VersionQuery) -> StoreResult<()> {
    q.check_limits()?;
    q.partition.iter().try_for_each(PartitionValue::validate)?;
    q.has_alias.iter().try_for_each(|a| validation::alias(a))?;
    for (key, _) in q.tags.iter().chain(&q.version_tags) {
        validation::entity_key("Tag", key)?;
    }
    for m in &q.metrics {
        validation::entity_key("Metric", &m.key)?;
    }
    Ok(())
}

fn build_filter(
    tx: &Connection,
    q: &VersionQuery,
    drive_smallest: bool,
    planning: SearchPlanning,
) -> StoreResult<Filter> {
    let mut f = Filter {
        sql: String::new(),
        args: Vec::new(),
        sets: Vec::new(),
        drives: false,
        probes: false,
        placed: Vec::new(),
        exact: true,
        sorted_bounds: Vec::new(),
    };
    if let Some(name) = &q.family {
        let family = families::family(tx, name)?;
        if q.partition.is_empty() {
            let size = Some(family.member_count(tx)?);
            let cond = "family_id = ?".to_string();
            f.sets.push(Set {
                table: "fleet_members",
                key: "rm_id",
                cond,
                args: vec![family.id.into()],
                metric: None,
                size,
            });
        }
        for p in &q.partition {
            // Within a family a partition is one member and its subtree,
            // found through the parent links (partition values repeat across
            // families, so their index would visit every family's r007).
            let depth = family.depth_of(&p.key)? as i64;
            f.drives = true;
            f.and_other(
                "v.rm_id IN (WITH RECURSIVE sub (rm_id) AS (
                     SELECT rm_id FROM fleet_members WHERE family_id = ? AND depth = ? AND part_value = ?
                     UNION ALL SELECT fm.rm_id FROM sub JOIN fleet_members fm ON fm.parent = sub.rm_id)
                 SELECT rm_id FROM sub)",
                [family.id.into(), depth.into(), text(&p.value)],
            );
        }
    } else {
        for PartitionValue { key, value } in &q.partition {
            f.set("member_partitions", "rm_id", "key = ? AND value = ?", vec![text(key), text(value)]);
        }
    }
    if let Some(prefix) = q.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        f.and_other("rm.name >= ? AND rm.name < ?", [text(prefix), SqlValue::Text(format!("{prefix}\u{10FFFF}"))]);
    }
    for (key, value) in &q.tags {
        f.set("registered_model_tags", "rm_id", "key = ? AND value = ?", vec![text(key), text(value)]);
    }
    for (key, value) in &q.version_tags {
        f.set("model_version_tags", "rm_id, version", "key = ? AND value = ?", vec![text(key), text(value)]);
    }
    for alias in &q.has_alias {
        f.set("registered_model_aliases", "rm_id, version", "alias = ?", vec![text(alias)]);
    }
    for m in &q.metrics {
        // A bound on the sorted metric is a range on the sort's join (`sm`),
        // a seek from either end of its index; probed per row, a bound at the
        // far end walked every version before it (14.7 s at 3 x 10⁶ versions).
        if matches!(&q.sort.by, VersionOrder::Metric(sorted) if *sorted == m.key) {
            f.and(&format!("sm.value {} ?", m.op.sql()), [m.value.into()]);
            f.sorted_bounds.push((m.op.sql(), m.value));
            continue;
        }
        let cond = format!("key = ? AND value {} ?", m.op.sql());
        f.set("model_version_metrics", "rm_id, version", &cond, vec![text(&m.key), m.value.into()]);
        if let Some(last) = f.sets.last_mut() {
            last.metric = Some((m.key.clone(), m.op.sql(), m.value));
        }
    }
    if let Some(t) = q.created_after {
        f.and_other("v.creation_time > ?", [t.into()]);
    }
    if let Some(t) = q.created_before {
        f.and_other("v.creation_time < ?", [t.into()]);
    }
    // The caller's readable set: whole families alone are a set like a
    // family filter's; anything else the models' predicate, probed per row.
    let v = &q.visible;
    let mut visible_range = None;
    if !v.is_everything() {
        if !v.all && v.whole_families() && !v.families_in.is_empty() && q.family.is_none() {
            let marks = vec!["?"; v.families_in.len()].join(", ");
            let cond = format!("family_id IN (SELECT family_id FROM families WHERE name IN ({marks}))");
            f.set("fleet_members", "rm_id", &cond, v.families_in.iter().map(|n| text(n)).collect());
            visible_range = v.families_in.iter().min().zip(v.families_in.iter().max());
        } else {
            let mut args = Vec::new();
            if let Some(sql) = visible::models(v, "rm.name", "rm.rm_id", &mut args) {
                f.and_other(&format!("({sql})"), args);
            }
        }
    }
    f.place(tx, drive_smallest, planning)?;
    let walks_names = q.sort.by == VersionOrder::Version && !f.drives;
    if let Some(name) = q.family.as_deref().filter(|_| walks_names) {
        // Members are named `{family}` or `{family}.…`: bound the name walk
        // to them. Only for a walk in name order: otherwise SQLite would
        // read the whole family through this range and sort it.
        f.and("rm.name >= ? AND rm.name < ?", [text(name), SqlValue::Text(format!("{name}/"))]);
    }
    if let Some((lo, hi)) = visible_range.filter(|_| walks_names) {
        // Likewise for the readable families (a family of ten sorted last
        // walked the nine before it: 170 ms at 10⁶ versions).
        f.and("rm.name >= ? AND rm.name < ?", [text(lo), SqlValue::Text(format!("{hi}/"))]);
    }
    Ok(f)
}

impl VersionSearchStore for SqliteStore {
    fn search_versions(&self, q: &VersionQuery) -> StoreResult<Page<FleetVersion>> {
        validate(q)?;
        let limit = validation::page_size(q.max_results, (100, 1000), "max_results")?;
        let desc = q.sort.descending;
        // With `plus`, the keys are written `+expr`, which no index can
        // order: SQLite then drives the query from the small filter set and
        // sorts what it found, instead of walking the whole sort order.
        let keys = |plus: bool| -> Vec<SortKey> {
            let key = |expr: &str| {
                let expr = if plus { format!("+{expr}") } else { expr.to_string() };
                if desc { SortKey::desc(expr) } else { SortKey::asc(expr) }
            };
            match &q.sort.by {
                VersionOrder::Version => vec![key("rm.name"), key("v.version")],
                VersionOrder::Created => vec![key("v.creation_time"), key("v.rm_id"), key("v.version")],
                VersionOrder::Metric(_) => vec![key("sm.value"), key("sm.rm_id"), key("sm.version")],
            }
        };
        let (join, join_args): (&str, Vec<SqlValue>) = match &q.sort.by {
            VersionOrder::Version | VersionOrder::Created => ("", vec![]),
            VersionOrder::Metric(metric) => (
                " JOIN model_version_metrics sm ON sm.rm_id = v.rm_id AND sm.version = v.version AND sm.key = ?",
                vec![text(metric)],
            ),
        };
        let cursor = paging::decode_opt(q.page_token.as_deref(), keys(false).len())?;
        self.read(|tx| {
            let page_rows = |filter: &Filter| -> StoreResult<Vec<([i64; 2], Vec<JsonValue>)>> {
                let keys = keys(filter.drives);
                // Without a driving set, CROSS JOIN keeps SQLite from reordering
                // the tables of the name sort, which walks model names, then
                // each model's versions.
                let tables = match q.sort.by {
                    VersionOrder::Version if !filter.drives => {
                        "registered_models rm CROSS JOIN model_versions v ON v.rm_id = rm.rm_id"
                    }
                    VersionOrder::Version | VersionOrder::Created | VersionOrder::Metric(_) => {
                        "model_versions v JOIN registered_models rm ON rm.rm_id = v.rm_id"
                    }
                };
                // Only the keys here: what a version carries is read for the page alone.
                let mut sql = format!(
                    "SELECT v.rm_id, v.version, {} FROM {tables}{join} WHERE 1 = 1{}",
                    keyset::select_list(&keys),
                    filter.sql
                );
                let mut args = join_args.clone();
                args.extend(filter.args.iter().cloned());
                // Every key sorts the same way, so "after the cursor" is one
                // row-value comparison, which SQLite turns into an index range.
                if let Some(c) = &cursor {
                    let op = if desc { "<" } else { ">" };
                    let marks = vec!["?"; c.len()].join(", ");
                    sql.push_str(&format!(" AND ({}) {op} ({marks})", keyset::select_list(&keys)));
                    args.extend(c.iter().map(keyset::to_sql));
                }
                sql.push_str(&format!(" ORDER BY {} LIMIT {}", keyset::order_by(&keys), limit + 1));
                let mut stmt = tx.prepare(&sql)?;
                let rows = stmt
                    .query_map(params_from_iter(args.iter()), |r| {
                        let cursor =
                            (2..2 + keys.len()).map(|i| r.get_ref(i).map(keyset::to_json)).collect::<Result<_, _>>()?;
                        Ok(([r.get(0)?, r.get(1)?], cursor))
                    })?
                    .collect::<Result<_, _>>()?;
                Ok(rows)
            };
            let walk = build_filter(tx, q, false, self.planning)?;
            // Sorted by a metric and bounded by another: from the pairs
            // (`metric_pairs`). Else, with only sets to probe: a capped walk,
            // and from the far end if it finds matches rare (`far_end`).
            let mut near = match &q.sort.by {
                VersionOrder::Metric(metric) if self.planning.metric_pairs => {
                    let limits = (self.planning.drive_limit, self.planning.pair_overflow_merged);
                    pair_page(tx, &walk, metric, desc, cursor.as_deref(), limit + 1, limits)?
                }
                VersionOrder::Metric(_) | VersionOrder::Version | VersionOrder::Created => None,
            };
            if near.is_none()
                && let VersionOrder::Metric(metric) = &q.sort.by
                && walk.probes
                && !walk.drives
                && self.planning.near_rows > 0
                && far_end_applies(&walk)
            {
                let ix = sort_index(metric);
                let n = self.planning.near_rows;
                if let Some(edge) = ix.nth(tx, &walk.sorted_bounds, cursor.as_deref(), desc, n)? {
                    let mut capped = walk.clone();
                    let op = if desc { ">=" } else { "<=" };
                    capped.and(&format!("(sm.value, sm.rm_id, sm.version) {op} (?, ?, ?)"), edge);
                    let rows = page_rows(&capped)?;
                    if rows.len() > limit {
                        near = Some(rows);
                    } else if rows.len() * search_plan::SPARSE < limit + 1 {
                        // Planned only now: choosing its set counts the sets, which a page
                        // filled by the capped walk never needs.
                        let set_limit = self.planning.drive_sizing;
                        if let Some(plan) = far_end_plan(tx, &walk, metric, desc, cursor.as_deref(), set_limit)? {
                            let cap = search_plan::far_end_row_cap(set_limit);
                            let max_set = usize::try_from(set_limit).unwrap_or(0);
                            near = far_end::page(tx, &plan, limit + 1, max_set, cap)?
                                .map(|page| page.into_iter().map(|((id, v), cursor)| ([id, v], cursor)).collect());
                        }
                    }
                }
            }
            // A walk probing large sets may find its matches only at the far
            // end of the sort order; past its allowance the smallest set drives.
            let allowance = self.planning.walk_checks();
            let walked = match walk.probes && !walk.drives {
                _ if near.is_some() => near,
                true if allowance == 0 => None,
                true => match crate::budget::with_allowance(allowance, || page_rows(&walk)) {
                    (Ok(rows), _) => Some(rows),
                    (Err(_), true) => None,
                    (Err(e), false) => return Err(e),
                },
                false => Some(page_rows(&walk)?),
            };
            let rows = match walked {
                Some(rows) => rows,
                None => {
                    let driven = build_filter(tx, q, true, self.planning)?;
                    page_rows(if driven.drives { &driven } else { &walk })?
                }
            };
            let more = rows.len() > limit;
            let next_page_token = more.then(|| paging::encode(&rows[limit - 1].1));
            let pairs: Vec<[i64; 2]> = rows.into_iter().take(limit).map(|(pair, _)| pair).collect();
            let mut page = load_versions(tx, &pairs)?;
            attach_details(tx, &mut page)?;
            Ok(Page { items: page.into_iter().map(|(_, v)| v).collect(), next_page_token })
        })
    }
}

/// A page's versions (key and cursor), in its order.
type VersionRows = Vec<([i64; 2], Vec<JsonValue>)>;

/// A page sorted by `metric` whose every filter is a set, one of them a
/// bound on another metric and none of the others small enough to drive:
/// from the metric pairs (`metric_pairs`), the others probed per row.
fn pair_page(
    tx: &Connection,
    f: &Filter,
    metric: &str,
    desc: bool,
    cursor: Option<&[JsonValue]>,
    want: usize,
    (drive_limit, overflow_limit): (i64, usize),
) -> StoreResult<Option<VersionRows>> {
    if !f.exact {
        return Ok(None);
    }
    let Some(driver) =
        f.placed.iter().position(|(_, s)| s.metric.as_ref().is_some_and(|(key, op, _)| key != metric && *op != "="))
    else {
        return Ok(None);
    };
    if f.placed.iter().enumerate().any(|(i, (n, _))| i != driver && *n < drive_limit) {
        return Ok(None);
    }
    let Some((key_a, op, x)) = f.placed[driver].1.metric.clone() else { return Ok(None) };
    // Versions past the pairs' cap are merged in while few; else the far-end plan.
    let overflow = match metric_pairs::version_overflow(tx, overflow_limit)? {
        0 => None,
        n if n > overflow_limit => return Ok(None),
        _ => Some((metric_pairs::VERSION_OVERFLOW_ROWS, vec![text(&key_a), text(metric)])),
    };
    let others = f.placed.iter().enumerate().filter(|(i, _)| *i != driver).map(|(_, (_, o))| o);
    let q = metric_pairs::PairPage {
        table: "version_metric_pairs",
        head: "p.key_a = ? AND p.key_b = ?",
        head_args: vec![text(&key_a), text(metric)],
        ids: &["rm_id", "version"],
        bound: (op, x),
        sorted_bounds: &f.sorted_bounds,
        probes: others
            .clone()
            .map(|o| {
                let on = match o.key {
                    "rm_id" => "x.rm_id = p.rm_id",
                    _ => "x.rm_id = p.rm_id AND x.version = p.version",
                };
                format!("EXISTS (SELECT 1 FROM {} x WHERE {on} AND {})", o.table, o.cond)
            })
            .collect(),
        probe_args: others.flat_map(|o| o.args.iter().cloned()).collect(),
        desc,
        overflow,
    };
    Ok(metric_pairs::page(tx, &q, cursor, want)?
        .map(|rows| rows.into_iter().map(|(ids, c)| ([ids[0], ids[1]], c)).collect()))
}

/// The index of a version metric's values (`model_version_metrics_by_value`).
fn sort_index(metric: &str) -> SortIndex {
    SortIndex {
        table: "model_version_metrics",
        head: "key = ?",
        head_args: vec![text(metric)],
        ids: &["rm_id", "version"],
    }
}

/// Whether [`far_end_plan`] has a plan for `f` (every filter is a set, and
/// one of them is a set of versions): checked before the capped walk,
/// without sizing any set.
fn far_end_applies(f: &Filter) -> bool {
    f.exact && f.placed.iter().any(|(_, s)| s.key == "rm_id, version")
}

/// The far-end plan of a page sorted by `metric` whose every filter is a
/// set: the smallest set of versions is collected (every member is a row of
/// the sort index, so the walk can stop once all were seen), the others
/// checked per candidate.
fn far_end_plan(
    tx: &Connection,
    f: &Filter,
    metric: &str,
    desc: bool,
    cursor: Option<&[JsonValue]>,
    cap: i64,
) -> StoreResult<Option<FarEnd>> {
    if !f.exact {
        return Ok(None);
    }
    let candidates: Vec<usize> = (0..f.placed.len()).filter(|i| f.placed[*i].1.key == "rm_id, version").collect();
    let sets: Vec<(String, &[SqlValue])> = candidates
        .iter()
        .map(|i| (format!("{} WHERE {}", f.placed[*i].1.table, f.placed[*i].1.cond), f.placed[*i].1.args.as_slice()))
        .collect();
    let Some(smallest) = far_end::smallest(tx, &sets, cap)?.map(|j| candidates[j]) else { return Ok(None) };
    let set = &f.placed[smallest].1;
    let (walk_sql, walk_args) = sort_index(metric).range(&f.sorted_bounds, cursor, desc, !desc);
    let others: Vec<&Set> = f.placed.iter().enumerate().filter(|(i, _)| *i != smallest).map(|(_, (_, o))| o).collect();
    let probe_sql = (!others.is_empty()).then(|| {
        let exists: Vec<String> = others
            .iter()
            .map(|o| {
                let on = match o.key {
                    "rm_id" => "x.rm_id = p.rm_id",
                    _ => "x.rm_id = p.rm_id AND x.version = p.version",
                };
                format!("EXISTS (SELECT 1 FROM {} x WHERE {on} AND {})", o.table, o.cond)
            })
            .collect();
        format!("SELECT 1 FROM (SELECT ? AS rm_id, ? AS version) p WHERE {}", exists.join(" AND "))
    });
    Ok(Some(FarEnd {
        set_sql: format!("SELECT {} FROM {} WHERE {}", set.key, set.table, set.cond),
        set_args: set.args.clone(),
        walk_sql,
        walk_args,
        probe_sql,
        probe_args: others.iter().flat_map(|o| o.args.iter().cloned()).collect(),
        key_columns: 2,
    }))
}

/// The versions of a page, in its order, in one query.
fn load_versions(tx: &Connection, pairs: &[[i64; 2]]) -> StoreResult<Vec<(i64, FleetVersion)>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let json = serde_json::to_string(pairs).map_err(|e| Error::internal(e.to_string()))?;
    let mut stmt = tx.prepare_cached(
        "SELECT v.rm_id, v.version, rm.name, v.creation_time, v.last_update_time, v.current_stage, v.source, v.run_id,
                (SELECT f.name FROM fleet_members fm JOIN families f ON f.family_id = fm.family_id WHERE fm.rm_id = v.rm_id),
                (SELECT t.value FROM registered_model_tags t WHERE t.rm_id = v.rm_id AND t.key = 'flotilla.partition')
         FROM json_each(?) j
         CROSS JOIN model_versions v ON v.rm_id = j.value ->> 0 AND v.version = j.value ->> 1
         CROSS JOIN registered_models rm ON rm.rm_id = v.rm_id
         ORDER BY j.key",
    )?;
    let rows = stmt.query_map([&json], |r| {
        Ok((
            r.get(0)?,
            FleetVersion {
                model: r.get(2)?,
                version: rows::version_at(r, 1)?,
                creation_timestamp: r.get(3)?,
                last_updated_timestamp: r.get(4)?,
                current_stage: r.get(5)?,
                source: r.get(6)?,
                run_id: r.get(7)?,
                family: r.get(8)?,
                partition: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                aliases: Vec::new(),
                metrics: Vec::new(),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Aliases (one query) and metrics (index seeks) of a page of versions.
fn attach_details(tx: &Connection, page: &mut [(i64, FleetVersion)]) -> StoreResult<()> {
    if page.is_empty() {
        return Ok(());
    }
    let pairs: Vec<[i64; 2]> = page.iter().map(|(rm_id, v)| [*rm_id, v.version.get()]).collect();
    let json = serde_json::to_string(&pairs).map_err(|e| Error::internal(e.to_string()))?;
    let position: std::collections::HashMap<(i64, i64), usize> =
        page.iter().enumerate().map(|(i, (rm_id, v))| ((*rm_id, v.version.get()), i)).collect();
    let page_pairs = "SELECT DISTINCT j.value ->> 0 AS rm_id, j.value ->> 1 AS version FROM json_each(?) j";
    let aliases: Vec<(i64, i64, String)> = tx
        .prepare_cached(&format!(
            "WITH p AS ({page_pairs}) SELECT a.rm_id, a.version, a.alias FROM p
             CROSS JOIN registered_model_aliases a ON a.rm_id = p.rm_id AND a.version = p.version ORDER BY a.alias"
        ))?
        .query_map([&json], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (rm_id, version, alias) in aliases {
        if let Some(&i) = position.get(&(rm_id, version)) {
            page[i].1.aliases.push(alias);
        }
    }
    // Metrics by point lookups over each model's keys: the table is keyed
    // (rm_id, key, version), so a join on (rm_id, version) would read every
    // version of the model (200,000 of them for some).
    let mut keys_of: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for (rm_id, v) in page.iter_mut() {
        let keys = match keys_of.entry(*rm_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(insights::version_metric_keys(tx, *rm_id)?),
        };
        v.metrics = insights::version_metric_values(tx, *rm_id, keys, v.version.get())?;
    }
    Ok(())
}
