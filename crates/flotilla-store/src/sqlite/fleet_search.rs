//! Fleet search and facet counts over registered models.
//!
//! Every filter is an `rm.rm_id IN (subquery)` over an index (family members,
//! partition values, tags, aliases, aliased-version metrics, the trigram name
//! index), so SQLite can either drive the query from the most selective one
//! or test membership while walking the sort order; pages are keyset pages.

use flotilla_core::fleet::{Facets, FleetModel, FleetOrder, FleetQuery, MetricRef, PartitionValue};
use flotilla_core::model::Page;
use flotilla_core::{Error, validation};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value as JsonValue;

use super::far_end::{self, FarEnd, SortIndex};
use super::keyset::{self, SortKey};
use super::{SearchPlanning, SqliteStore, families, metric_pairs, search_plan, visible};
use crate::error::StoreResult;
use crate::fleet::FleetSearchStore;
use crate::paging;

/// Substrings matching more names than this are searched by walking the
/// sort order (a page fills fast); rarer ones through the trigram index.
pub(super) const COMMON_SUBSTRING: i64 = 2_000;

/// The WHERE clause of a fleet query over `registered_models rm`, and its arguments.
#[derive(Clone)]
pub(super) struct Filter {
    pub(super) sql: String,
    args: Vec<SqlValue>,
    memberships: Vec<Membership>,
    /// For [`Purpose::CountFirst`]: the FROM clause that streams the
    /// driving set into `registered_models rm`, and its arguments.
    drive: Option<(String, Vec<SqlValue>)>,
    /// A large set is probed per row while the query walks its sort order.
    pub(super) probes: bool,
    /// For [`Purpose::PageDriven`]: a set was small enough to drive.
    pub(super) driven: bool,
    /// Every set with its size (capped), as placed.
    placed: Vec<(i64, Membership)>,
    /// Every filter is a set, or a bound on the sorted metric, or implied by a set.
    exact: bool,
    /// Bounds on the sorted metric (`<`, 2.0).
    sorted_bounds: Vec<(&'static str, f64)>,
    /// A clause reads the model's row (its name, times), not only its id.
    reads_row: bool,
}

impl Filter {
    /// `registered_models rm`, or the driving set joined to it, and the
    /// arguments of the whole statement up to the end of the WHERE clause.
    pub(super) fn source_and_args(&self) -> (String, Vec<SqlValue>) {
        match &self.drive {
            Some((from, args)) => (from.clone(), args.iter().chain(&self.args).cloned().collect()),
            None => ("registered_models rm".to_string(), self.args.clone()),
        }
    }
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.sql.is_empty()
    }

    fn and(&mut self, clause: &str, args: impl IntoIterator<Item = SqlValue>) {
        self.reads_row = true;
        self.and_on_id(clause, args);
    }

    /// A clause on `rm.rm_id` alone (a placed set): the model's row is not read for it.
    fn and_on_id(&mut self, clause: &str, args: impl IntoIterator<Item = SqlValue>) {
        self.sql.push_str(if self.sql.is_empty() { " WHERE " } else { " AND " });
        self.sql.push_str(clause);
        self.args.extend(args);
    }

    /// A name range implied by the sets (a family's members are named within
    /// it): it bounds a page's walk; a count leaves it out, so that it need
    /// not read each model's row.
    fn and_implied_range(&mut self, purpose: Purpose, lo: &str, hi: String) {
        if matches!(purpose, Purpose::Page | Purpose::PageDriven) {
            self.and("rm.name >= ? AND rm.name < ?", [text(lo), SqlValue::Text(hi)]);
        }
    }

    /// A clause that is not a set (nor implied by one): the far-end plan cannot answer.
    fn and_other(&mut self, clause: &str, args: impl IntoIterator<Item = SqlValue>) {
        self.exact = false;
        self.and(clause, args);
    }
}

/// A filter "the model's id is in `table`.`id` where `cond`", placed once
/// every filter is known (see [`Filter::place`]).
#[derive(Clone)]
struct Membership {
    table: &'static str,
    id: &'static str,
    cond: String,
    args: Vec<SqlValue>,
    /// For a bound on an aliased metric: the alias, the key and the bound.
    metric: Option<(String, String, &'static str, f64)>,
    /// The set's size when a counter keeps it (a whole family), so placing
    /// it counts nothing.
    size: Option<i64>,
}

/// What a filter is for: a page walks a sort order and stops after a few
/// rows; counting visits every match.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Page,
    /// A page whose walk ran past its allowance: the smallest set, if
    /// small enough, drives and its rows are sorted (see `search_plan`).
    PageDriven,
    Count,
    /// Counting the first few thousand matches: the smallest set drives,
    /// but sets are sized only up to [`SAMPLE_SIZING`].
    CountFirst,
}

fn membership(f: &mut Filter, table: &'static str, id: &'static str, cond: &str, args: Vec<SqlValue>) {
    f.memberships.push(Membership { table, id, cond: cond.to_string(), args, metric: None, size: None });
}

impl Filter {
    /// Turns memberships into SQL. For a page, a set smaller than the
    /// planning's `drive_limit` becomes `rm.rm_id IN (...)`, which SQLite drives the
    /// query from; a larger one a correlated `EXISTS`, so the query walks its
    /// sort order and a page fills after a few rows. For counting, the
    /// smallest set drives and the others are probed per row. Sizing a set
    /// costs at most its cap in index steps.
    fn place(&mut self, tx: &Connection, purpose: Purpose, planning: SearchPlanning) -> StoreResult<()> {
        let cap = match purpose {
            Purpose::Page => planning.drive_limit,
            Purpose::PageDriven => planning.drive_sizing,
            Purpose::Count => COUNT_LIMIT,
            Purpose::CountFirst => SAMPLE_SIZING,
        };
        let mut sized = Vec::with_capacity(self.memberships.len());
        for m in std::mem::take(&mut self.memberships) {
            let n = search_plan::set_size(tx, (m.table, &m.cond, &m.args), m.size, cap)?;
            sized.push((n, m));
        }
        self.placed = sized.clone();
        let smallest = sized.iter().map(|(n, _)| *n).min();
        for (n, m) in sized {
            let drives = match purpose {
                Purpose::Page => n < cap,
                Purpose::PageDriven => n < cap && Some(n) == smallest,
                Purpose::Count | Purpose::CountFirst => Some(n) == smallest,
            };
            if drives && purpose == Purpose::CountFirst && self.drive.is_none() {
                // Streamed as a join, so a LIMIT stops it early; `rm.rm_id IN (...)` would
                // first collect the whole set. Each membership has one row per model, and
                // every member is a model (foreign keys): the model's row is joined only
                // if a clause reads it, else it would cost a seek per row read.
                let set = format!("(SELECT {} AS rm_id FROM {} WHERE {})", m.id, m.table, m.cond);
                let from = if self.reads_row {
                    format!("{set} d CROSS JOIN registered_models rm ON rm.rm_id = d.rm_id")
                } else {
                    format!("{set} rm")
                };
                self.drive = Some((from, m.args));
            } else if drives && purpose != Purpose::CountFirst {
                self.driven = true;
                self.and_on_id(&format!("rm.rm_id IN (SELECT {} FROM {} WHERE {})", m.id, m.table, m.cond), m.args);
            } else {
                self.probes = true;
                self.and_on_id(
                    &format!("EXISTS (SELECT 1 FROM {} WHERE {} = rm.rm_id AND {})", m.table, m.id, m.cond),
                    m.args,
                );
            }
        }
        Ok(())
    }
}

/// Within a family, a partition path is one member and its subtree, found through the parent
/// index: partition values repeat across families (every family has its region=r007), so their
/// own index would visit every family's.
fn partition_subtree(
    f: &mut Filter,
    tx: &Connection,
    family: &families::FamilyRow,
    path: &[PartitionValue],
) -> StoreResult<()> {
    if !path.is_empty() {
        let member = family.find_member(tx, path)?.unwrap_or(-1);
        let leaf_depth = family.levels.len() as i64;
        membership(f, SUBTREE, "tree.rm_id", "1 = 1", vec![member.into(), leaf_depth.into()]);
    }
    Ok(())
}

/// A member (the first parameter) and every member below it, through the
/// parent index, down to the family's leaf depth (the second parameter):
/// leaves are not probed for children they cannot have, which was half the
/// cost of a region's subtree (2,500 stores: 4 ms -> 2 ms).
const SUBTREE: &str = "(WITH RECURSIVE sub (rm_id, depth) AS (
        SELECT rm_id, depth FROM fleet_members WHERE rm_id = ?
        UNION ALL SELECT fm.rm_id, sub.depth + 1 FROM sub JOIN fleet_members fm ON fm.parent = sub.rm_id
        WHERE sub.depth < ?)
    SELECT rm_id FROM sub) tree";

/// Counting the first matches sizes sets up to this many rows.
const SAMPLE_SIZING: i64 = 5_000;
/// Counting sizes sets up to this many rows.
const COUNT_LIMIT: i64 = 1_000_000;

pub(super) fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

/// The part of a name substring to look up in the trigram index. Fleet
/// names repeat their family and partition keys (`demand.store=0042`), so
/// the trigrams of those parts are in nearly every name and make a phrase
/// query read long posting lists; the last `.`/`=`/`/`-separated piece of
/// three or more characters (usually a partition value) is far rarer. The
/// caller still checks the whole substring.
pub(super) fn trigram_probe(s: &str) -> &str {
    s.rsplit(['.', '=', '/']).find(|piece| piece.chars().count() >= 3).unwrap_or(s)
}

/// An FTS5 phrase matching `s` literally.
pub(super) fn fts_phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `sorted`: the aliased metric a page is sorted by, joined as `sm`. A bound on
/// it becomes a range on that join (`sm.value < ?`), which SQLite seeks to in
/// the sort's own index from either end; as a membership probed per row, a
/// bound at the far end of the sort walked every model before it (2.9 s for
/// `val_rmse < 2.0` sorted descending at 10⁶ models).
pub(super) fn build_filter(
    tx: &Connection,
    q: &FleetQuery,
    purpose: Purpose,
    sorted: Option<&MetricRef>,
    planning: SearchPlanning,
) -> StoreResult<Filter> {
    let mut f = Filter {
        sql: String::new(),
        args: Vec::new(),
        memberships: Vec::new(),
        drive: None,
        probes: false,
        driven: false,
        placed: Vec::new(),
        exact: true,
        sorted_bounds: Vec::new(),
        reads_row: false,
    };
    if let Some(name) = &q.family {
        let family = families::family(tx, name)?;
        let mut path_depth = None;
        for p in &q.partition {
            path_depth = path_depth.max(Some(family.depth_of(&p.key)? as i64));
        }
        match q.depth {
            // The children of one member (the family page's drill-down): its rows in the
            // parent index, which imply the family, the depth and the partition filters.
            Some(depth) if path_depth.is_some_and(|d| d + 1 == depth) => {
                let parent = family.find_member(tx, &q.partition).ok().flatten().unwrap_or(-1);
                membership(&mut f, "fleet_members", "rm_id", "parent = ?", vec![parent.into()]);
            }
            Some(depth) => {
                membership(
                    &mut f,
                    "fleet_members",
                    "rm_id",
                    "family_id = ? AND depth = ?",
                    vec![family.id.into(), depth.into()],
                );
                partition_subtree(&mut f, tx, &family, &q.partition)?;
            }
            // A partition path's subtree lies inside the family: no need to probe the family.
            None if !q.partition.is_empty() => partition_subtree(&mut f, tx, &family, &q.partition)?,
            None => {
                let size = Some(family.member_count(tx)?);
                f.memberships.push(Membership {
                    table: "fleet_members",
                    id: "rm_id",
                    cond: "family_id = ?".into(),
                    args: vec![family.id.into()],
                    metric: None,
                    size,
                });
            }
        }
        // Members are named `{family}` or `{family}.…`: bound the name walk to them.
        f.and_implied_range(purpose, name, format!("{name}/"));
    } else {
        for PartitionValue { key, value } in &q.partition {
            membership(&mut f, "member_partitions", "rm_id", "key = ? AND value = ?", vec![text(key), text(value)]);
        }
    }
    if let Some(prefix) = q.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        f.and_other("rm.name >= ? AND rm.name < ?", [text(prefix), SqlValue::Text(format!("{prefix}\u{10FFFF}"))]);
    }
    if let Some(part) = q.name_contains.as_deref().filter(|p| !p.is_empty()) {
        let probe = trigram_probe(part);
        let rare = probe.chars().count() >= 3 && {
            let n = super::counted::count_upto(
                tx,
                "registered_model_names WHERE registered_model_names MATCH ?",
                &[SqlValue::Text(fts_phrase(probe))],
                COMMON_SUBSTRING,
            )?;
            n < COMMON_SUBSTRING
        };
        if rare && probe == part {
            f.and_other(
                "rm.rm_id IN (SELECT rowid FROM registered_model_names WHERE registered_model_names MATCH ?)",
                [SqlValue::Text(fts_phrase(part))],
            );
        } else if rare {
            // The index finds the names holding the probe; the whole substring is checked on those.
            f.and_other(
                "rm.rm_id IN (SELECT rowid FROM registered_model_names WHERE registered_model_names MATCH ?) \
                 AND instr(lower(rm.name), lower(?)) > 0",
                [SqlValue::Text(fts_phrase(probe)), text(part)],
            );
        } else {
            f.and_other("instr(lower(rm.name), lower(?)) > 0", [text(part)]);
        }
    }
    for (key, value) in &q.tags {
        membership(&mut f, "registered_model_tags", "rm_id", "key = ? AND value = ?", vec![text(key), text(value)]);
    }
    for alias in &q.has_alias {
        membership(&mut f, "registered_model_aliases", "rm_id", "alias = ?", vec![text(alias)]);
    }
    for alias in &q.missing_alias {
        f.and_other(
            "NOT EXISTS (SELECT 1 FROM registered_model_aliases a WHERE a.rm_id = rm.rm_id AND a.alias = ?)",
            [text(alias)],
        );
    }
    for m in &q.metrics {
        if sorted.is_some_and(|s| s.alias == m.alias && s.key == m.key) {
            f.and(&format!("sm.value {} ?", m.op.sql()), [m.value.into()]);
            f.sorted_bounds.push((m.op.sql(), m.value));
            continue;
        }
        let cond = format!("alias = ? AND key = ? AND value {} ?", m.op.sql());
        membership(&mut f, "alias_metrics", "rm_id", &cond, vec![text(&m.alias), text(&m.key), m.value.into()]);
        if let Some(last) = f.memberships.last_mut() {
            last.metric = Some((m.alias.clone(), m.key.clone(), m.op.sql(), m.value));
        }
    }
    let ranges = [
        ("rm.creation_time >", q.created_after),
        ("rm.creation_time <", q.created_before),
        ("rm.last_update_time >", q.updated_after),
        ("rm.last_update_time <", q.updated_before),
    ];
    for (clause, bound) in ranges {
        if let Some(t) = bound {
            f.and_other(&format!("{clause} ?"), [t.into()]);
        }
    }
    visible_filter(&mut f, q, purpose);
    f.place(tx, purpose, planning)?;
    Ok(f)
}

/// The caller's readable set. Whole families with nothing besides are a
/// membership like a family filter's (sized, so a small one drives) within
/// their names' range; anything else is `visible::models`' predicate, probed
/// per row.
fn visible_filter(f: &mut Filter, q: &FleetQuery, purpose: Purpose) {
    let v = &q.visible;
    if v.is_everything() {
        return;
    }
    if !v.all && v.whole_families() && !v.families_in.is_empty() && q.family.is_none() {
        let marks = vec!["?"; v.families_in.len()].join(", ");
        let names: Vec<SqlValue> = v.families_in.iter().map(|n| text(n)).collect();
        let cond = format!("family_id IN (SELECT family_id FROM families WHERE name IN ({marks}))");
        membership(f, "fleet_members", "rm_id", &cond, names);
        if let (Some(lo), Some(hi)) = (v.families_in.iter().min(), v.families_in.iter().max()) {
            f.and_implied_range(purpose, lo, format!("{hi}/"));
        }
        return;
    }
    let mut args = Vec::new();
    if let Some(sql) = visible::models(v, "rm.name", "rm.rm_id", &mut args) {
        f.and_other(&format!("({sql})"), args);
    }
}

pub(crate) fn validate(q: &FleetQuery) -> StoreResult<()> {
    q.check_limits()?;
    if q.depth.is_some() && q.family.is_none() {
        return Err(Error::invalid("a depth filter needs a family").into());
    }
    q.partition.iter().try_for_each(PartitionValue::validate)?;
    q.has_alias.iter().chain(&q.missing_alias).try_for_each(|a| validation::alias(a))?;
    for m in &q.metrics {
        validation::alias(&m.alias)?;
    }
    if let Some(c) = &q.name_contains
        && c.len() > validation::MAX_MODEL_NAME_LENGTH
    {
        return Err(Error::invalid("name_contains is longer than any model name").into());
    }
    // No model name holds one (`validation::model_name`), and FTS5 reads a NUL as the end of its query.
    if q.name_contains.as_deref().is_some_and(|c| c.chars().any(char::is_control)) {
        return Err(Error::invalid("name_contains may not contain control characters").into());
    }
    Ok(())
}

impl FleetSearchStore for SqliteStore {
    fn search_fleet(&self, q: &FleetQuery) -> StoreResult<Page<FleetModel>> {
        validate(q)?;
        let limit = validation::page_size(q.max_results, (100, 1000), "max_results")?;
        let desc = q.sort.descending;
        // With `plus`, the keys are written `+expr`, which no index can order:
        // SQLite then reads the driving set and sorts it instead of walking.
        let keys = |plus: bool| -> Vec<SortKey> {
            let key = |expr: &str| {
                let expr = if plus { format!("+{expr}") } else { expr.to_string() };
                if desc { SortKey::desc(expr) } else { SortKey::asc(expr) }
            };
            match &q.sort.by {
                FleetOrder::Name => vec![key("rm.name")],
                FleetOrder::Created => vec![key("rm.creation_time"), key("rm.name")],
                FleetOrder::Updated => vec![key("rm.last_update_time"), key("rm.name")],
                FleetOrder::Metric(_) => vec![key("sm.value"), key("sm.rm_id")],
            }
        };
        let (join, join_args, sorted): (&str, Vec<SqlValue>, Option<&MetricRef>) = match &q.sort.by {
            FleetOrder::Name | FleetOrder::Created | FleetOrder::Updated => ("", vec![], None),
            FleetOrder::Metric(m) => {
                validation::alias(&m.alias)?;
                (
                    " JOIN alias_metrics sm ON sm.rm_id = rm.rm_id AND sm.alias = ? AND sm.key = ?",
                    vec![text(&m.alias), text(&m.key)],
                    Some(m),
                )
            }
        };
        let cursor = paging::decode_opt(q.page_token.as_deref(), keys(false).len())?;
        self.read(|tx| {
            let page_rows = |filter: &Filter, keys: &[SortKey]| -> StoreResult<Vec<(i64, Vec<JsonValue>)>> {
                let mut sql = format!(
                    "SELECT rm.rm_id, {} FROM registered_models rm{join}{}",
                    keyset::select_list(keys),
                    filter.sql
                );
                if filter.is_empty() {
                    sql.push_str(" WHERE 1 = 1");
                }
                let mut args = join_args.clone();
                args.extend(filter.args.iter().cloned());
                keyset::finish(&mut sql, keys, cursor.as_deref(), limit, &mut args);
                let mut stmt = tx.prepare(&sql)?;
                let rows = stmt
                    .query_map(params_from_iter(args.iter()), |r| {
                        let cursor =
                            (1..=keys.len()).map(|i| r.get_ref(i).map(keyset::to_json)).collect::<Result<_, _>>()?;
                        Ok((r.get(0)?, cursor))
                    })?
                    .collect::<Result<_, _>>()?;
                Ok(rows)
            };
            let walk = build_filter(tx, q, Purpose::Page, sorted, self.planning)?;
            // Sorted by a metric and bounded by another: from the pairs
            // (`metric_pairs`). Else, with only sets to probe: a capped walk,
            // and from the far end if it finds matches rare (`far_end`).
            let mut near = match sorted.filter(|_| self.planning.metric_pairs) {
                Some(m) => {
                    let limits = (self.planning.drive_limit, self.planning.pair_overflow_merged);
                    pair_page(tx, &walk, m, desc, cursor.as_deref(), limit + 1, limits)?
                }
                None => None,
            };
            if near.is_none()
                && let Some(m) = sorted.filter(|_| walk.probes && !walk.driven && self.planning.near_rows > 0)
                && far_end_applies(&walk)
            {
                let ix = sort_index(m);
                let n = self.planning.near_rows;
                if let Some(edge) = ix.nth(tx, &walk.sorted_bounds, cursor.as_deref(), desc, n)? {
                    let mut capped = walk.clone();
                    capped.and(&format!("(sm.value, sm.rm_id) {} (?, ?)", if desc { ">=" } else { "<=" }), edge);
                    let rows = page_rows(&capped, &keys(false))?;
                    if rows.len() > limit {
                        near = Some(rows);
                    } else if rows.len() * search_plan::SPARSE < limit + 1 {
                        // Planned only now: choosing its set counts the sets (a family: 125,000
                        // index entries, 12 ms), which a page filled by the capped walk never needs.
                        let set_limit = self.planning.drive_sizing;
                        if let Some(plan) = far_end_plan(tx, &walk, m, desc, cursor.as_deref(), set_limit)? {
                            let cap = search_plan::far_end_row_cap(set_limit);
                            let max_set = usize::try_from(set_limit).unwrap_or(0);
                            near = far_end::page(tx, &plan, limit + 1, max_set, cap)?
                                .map(|page| page.into_iter().map(|((id, _), cursor)| (id, cursor)).collect());
                        }
                    }
                }
            }
            // A walk probing large sets may find its matches only at the far
            // end of the sort order; past its allowance the smallest set drives.
            let allowance = self.planning.walk_checks();
            let walked = match walk.probes {
                _ if near.is_some() => near,
                true if allowance == 0 => None,
                true => match crate::budget::with_allowance(allowance, || page_rows(&walk, &keys(false))) {
                    (Ok(rows), _) => Some(rows),
                    (Err(_), true) => None,
                    (Err(e), false) => return Err(e),
                },
                false => Some(page_rows(&walk, &keys(false))?),
            };
            let rows = match walked {
                Some(rows) => rows,
                None => {
                    let driven = build_filter(tx, q, Purpose::PageDriven, sorted, self.planning)?;
                    if driven.driven { page_rows(&driven, &keys(true))? } else { page_rows(&walk, &keys(false))? }
                }
            };
            let more = rows.len() > limit;
            let page: Vec<i64> = rows.iter().take(limit).map(|(id, _)| *id).collect();
            let next_page_token = more.then(|| paging::encode(&rows[limit - 1].1));
            Ok(Page { items: super::fleet_rows::fleet_models(tx, &page)?, next_page_token })
        })
    }

    fn fleet_facets(&self, q: &FleetQuery, tag_keys: &[String]) -> StoreResult<Facets> {
        Ok(self.facets_within(q, tag_keys, None)?.0)
    }
}

/// The index of an aliased metric's values (`alias_metrics_by_value`).
fn sort_index(m: &MetricRef) -> SortIndex {
    SortIndex {
        table: "alias_metrics",
        head: "alias = ? AND key = ?",
        head_args: vec![text(&m.alias), text(&m.key)],
        ids: &["rm_id"],
    }
}

/// A page's models (id and cursor), in its order.
type ModelRows = Vec<(i64, Vec<JsonValue>)>;

/// A page sorted by `m` whose every filter is a set, one of them a bound on
/// another metric of the same alias and none of the others small enough to
/// drive: from the metric pairs (`metric_pairs`), the others probed per row.
fn pair_page(
    tx: &Connection,
    f: &Filter,
    m: &MetricRef,
    desc: bool,
    cursor: Option<&[JsonValue]>,
    want: usize,
    (drive_limit, overflow_limit): (i64, usize),
) -> StoreResult<Option<ModelRows>> {
    if !f.exact {
        return Ok(None);
    }
    let Some(driver) = f.placed.iter().position(|(_, s)| {
        s.metric.as_ref().is_some_and(|(alias, key, op, _)| *alias == m.alias && *key != m.key && *op != "=")
    }) else {
        return Ok(None);
    };
    if f.placed.iter().enumerate().any(|(i, (n, _))| i != driver && *n < drive_limit) {
        return Ok(None);
    }
    let Some((alias, key_a, op, x)) = f.placed[driver].1.metric.clone() else { return Ok(None) };
    // Aliased versions past the pairs' cap are merged in while few; else the far-end plan.
    let overflow = match metric_pairs::alias_overflow(tx, &alias, overflow_limit)? {
        0 => None,
        n if n > overflow_limit => return Ok(None),
        _ => Some((metric_pairs::ALIAS_OVERFLOW_ROWS, vec![text(&key_a), text(&m.key), text(&alias)])),
    };
    let others = f.placed.iter().enumerate().filter(|(i, _)| *i != driver).map(|(_, (_, o))| o);
    let q = metric_pairs::PairPage {
        table: "alias_metric_pairs",
        head: "p.alias = ? AND p.key_a = ? AND p.key_b = ?",
        head_args: vec![text(&alias), text(&key_a), text(&m.key)],
        ids: &["rm_id"],
        bound: (op, x),
        sorted_bounds: &f.sorted_bounds,
        probes: others
            .clone()
            .map(|o| format!("EXISTS (SELECT 1 FROM {} WHERE {} = p.rm_id AND {})", o.table, o.id, o.cond))
            .collect(),
        probe_args: others.flat_map(|o| o.args.iter().cloned()).collect(),
        desc,
        overflow,
    };
    Ok(metric_pairs::page(tx, &q, cursor, want)?.map(|rows| rows.into_iter().map(|(ids, c)| (ids[0], c)).collect()))
}

/// Whether [`far_end_plan`] has a plan for `f` (every filter is a set, and
/// there is one): checked before the capped walk, without sizing any set.
fn far_end_applies(f: &Filter) -> bool {
    f.exact && !f.placed.is_empty()
}

/// The far-end plan of a page sorted by `m` whose every filter is a set:
/// the smallest set is collected, the others checked per candidate.
fn far_end_plan(
    tx: &Connection,
    f: &Filter,
    m: &MetricRef,
    desc: bool,
    cursor: Option<&[JsonValue]>,
    cap: i64,
) -> StoreResult<Option<FarEnd>> {
    if !f.exact {
        return Ok(None);
    }
    let sets: Vec<(String, &[SqlValue])> =
        f.placed.iter().map(|(_, s)| (format!("{} WHERE {}", s.table, s.cond), s.args.as_slice())).collect();
    let Some(smallest) = far_end::smallest(tx, &sets, cap)? else { return Ok(None) };
    let set = &f.placed[smallest].1;
    let (walk_sql, walk_args) = sort_index(m).range(&f.sorted_bounds, cursor, desc, !desc);
    let others: Vec<&Membership> =
        f.placed.iter().enumerate().filter(|(i, _)| *i != smallest).map(|(_, (_, o))| o).collect();
    let probe_sql = (!others.is_empty()).then(|| {
        let exists: Vec<String> = others
            .iter()
            .map(|o| format!("EXISTS (SELECT 1 FROM {} WHERE {} = p.rm_id AND {})", o.table, o.id, o.cond))
            .collect();
        format!("SELECT 1 FROM (SELECT ? AS rm_id) p WHERE {}", exists.join(" AND "))
    });
    Ok(Some(FarEnd {
        set_sql: format!("SELECT {} FROM {} WHERE {}", set.id, set.table, set.cond),
        set_args: set.args.clone(),
        walk_sql,
        walk_args,
        probe_sql,
        probe_args: others.iter().flat_map(|o| o.args.iter().cloned()).collect(),
        key_columns: 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::trigram_probe;

    #[test]
    fn probes_pick_the_rare_piece() {
        assert_eq!(trigram_probe("store=s0004"), "s0004");
        assert_eq!(trigram_probe("demand.store=0042"), "0042");
        assert_eq!(trigram_probe("store=s0"), "store");
        assert_eq!(trigram_probe("plain"), "plain");
        assert_eq!(trigram_probe("ab=cd"), "ab=cd");
    }
}
