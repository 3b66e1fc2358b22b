//! A page sorted by one metric and filtered by another whose matches lie at
//! the far end of the sort (`val_mape < 0.1` sorted by `-val_rmse`: two
//! metrics that rise together), answered from that end.
//!
//! Walking the sort order probes almost every entity before the first match
//! (2 s at 10⁶ models); driving from the filter's set looks each member's sort
//! value up, an index seek of about 2 µs (40,000 members: 90 ms). Here the
//! set's keys are read in one index range into memory, and the sort index is
//! read *against* the page's order from its far end, in sequence, keeping the
//! set's members, until every member was seen (or the cursor is reached);
//! the last ones kept, checked against the other filters, are the page. Both
//! reads are sequential (about 0.1 µs a row), so the cost is the set's size
//! plus the sort index up to the last member: small when the members sit at
//! that end, which a short capped walk from the near end tells (see
//! `search_plan`). Past `row_cap` rows the plan gives up and the caller falls
//! back, so a set spread along the whole order costs a bounded attempt.
//!
//! Exactness: every sort key is unique (the value, then the entity's key), so
//! the reverse of the rows read is the page's order; rows past the cursor are
//! never read; the page holds the first `want` members passing the other
//! filters, as the forward walk's would.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value as JsonValue;

use super::keyset;
use crate::error::StoreResult;

/// An entity's key: `(rm_id, version)`, version 0 for a model.
pub(super) type Key = (i64, i64);

/// A page's rows: each entity's key and its cursor (the sort key's values).
pub(super) type PageRows = Vec<(Key, Vec<JsonValue>)>;

/// The statements of one far-end page.
pub(super) struct FarEnd {
    /// Selects the set's keys (`rm_id`, or `rm_id, version`).
    pub set_sql: String,
    pub set_args: Vec<SqlValue>,
    /// Selects the sort key's columns (`value, rm_id[, version]`) in the
    /// order opposite to the page's, up to the cursor.
    pub walk_sql: String,
    pub walk_args: Vec<SqlValue>,
    /// Checks one candidate against the other filters: the key's columns are
    /// bound first (one or two), then `probe_args`; `None`: nothing to check.
    pub probe_sql: Option<String>,
    pub probe_args: Vec<SqlValue>,
    /// 1 for models, 2 for versions.
    pub key_columns: usize,
}

/// Multiply-shift hashing of integer keys: SipHash costs more than the
/// index read of a set member.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type KeySet = HashSet<Key, BuildHasherDefault<IdHasher>>;

/// The page's rows (key, cursor) in its order, at most `want`; `None` when
/// the set has more than `max_set` members or the walk read `row_cap` rows
/// without seeing them all.
pub(super) fn page(
    tx: &Connection,
    plan: &FarEnd,
    want: usize,
    max_set: usize,
    row_cap: usize,
) -> StoreResult<Option<PageRows>> {
    let two = plan.key_columns == 2;
    let mut set = KeySet::default();
    {
        let mut stmt = tx.prepare_cached(&format!("{} LIMIT {}", plan.set_sql, max_set + 1))?;
        let mut rows = stmt.query(params_from_iter(plan.set_args.iter()))?;
        while let Some(r) = rows.next()? {
            set.insert((r.get(0)?, if two { r.get(1)? } else { 0 }));
        }
    }
    if set.len() > max_set {
        return Ok(None);
    }
    // The sort value of each member seen (no allocation: a REAL); cursors
    // are made for the page's rows only.
    let mut kept: Vec<(Key, SqlValue)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&plan.walk_sql)?;
        let mut rows = stmt.query(params_from_iter(plan.walk_args.iter()))?;
        let mut read = 0usize;
        while kept.len() < set.len() {
            let Some(r) = rows.next()? else { break };
            read += 1;
            if read > row_cap {
                return Ok(None);
            }
            let key = (r.get(1)?, if two { r.get(2)? } else { 0 });
            if set.contains(&key) {
                kept.push((key, r.get(0)?));
            }
        }
    }
    let mut page = Vec::with_capacity(want.min(kept.len()));
    let mut probe = match &plan.probe_sql {
        Some(sql) => Some(tx.prepare_cached(sql)?),
        None => None,
    };
    for (key, value) in kept.into_iter().rev() {
        if page.len() == want {
            break;
        }
        let passes = match probe.as_mut() {
            None => true,
            Some(stmt) => {
                let mut args: Vec<SqlValue> = vec![key.0.into()];
                if two {
                    args.push(key.1.into());
                }
                args.extend(plan.probe_args.iter().cloned());
                stmt.exists(params_from_iter(args.iter()))?
            }
        };
        if passes {
            let mut cursor = vec![keyset::to_json((&value).into()), key.0.into()];
            if two {
                cursor.push(key.1.into());
            }
            page.push((key, cursor));
        }
    }
    Ok(Some(page))
}

/// A sort index read in either direction: `table` filtered by `head`, its
/// key columns `value` then `ids`.
pub(super) struct SortIndex {
    pub table: &'static str,
    pub head: &'static str,
    pub head_args: Vec<SqlValue>,
    pub ids: &'static [&'static str],
}

impl SortIndex {
    fn columns(&self) -> Vec<&'static str> {
        std::iter::once("value").chain(self.ids.iter().copied()).collect()
    }

    /// The index's rows within `bounds` after the page's cursor (in the
    /// page's order: descending when `page_desc`), read descending when
    /// `read_desc`.
    pub fn range(
        &self,
        bounds: &[(&'static str, f64)],
        cursor: Option<&[JsonValue]>,
        page_desc: bool,
        read_desc: bool,
    ) -> (String, Vec<SqlValue>) {
        let columns = self.columns();
        let list = columns.join(", ");
        let mut sql = format!("SELECT {list} FROM {} WHERE {}", self.table, self.head);
        let mut args = self.head_args.clone();
        for (op, value) in bounds {
            sql.push_str(&format!(" AND value {op} ?"));
            args.push(SqlValue::Real(*value));
        }
        if let Some(c) = cursor {
            let op = if page_desc { "<" } else { ">" };
            sql.push_str(&format!(" AND ({list}) {op} ({})", vec!["?"; c.len()].join(", ")));
            args.extend(c.iter().map(keyset::to_sql));
        }
        let dir = if read_desc { "DESC" } else { "ASC" };
        let order: Vec<String> = columns.iter().map(|c| format!("{c} {dir}")).collect();
        sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
        (sql, args)
    }

    /// The key of the `n`th row of the page's order after its cursor, if the
    /// range has that many: where a capped walk from the near end stops.
    pub fn nth(
        &self,
        tx: &Connection,
        bounds: &[(&'static str, f64)],
        cursor: Option<&[JsonValue]>,
        page_desc: bool,
        n: usize,
    ) -> StoreResult<Option<Vec<SqlValue>>> {
        let (sql, args) = self.range(bounds, cursor, page_desc, page_desc);
        let width = 1 + self.ids.len();
        let mut stmt = tx.prepare_cached(&format!("{sql} LIMIT 1 OFFSET {}", n.saturating_sub(1)))?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        match rows.next()? {
            Some(r) => Ok(Some((0..width).map(|i| r.get::<_, SqlValue>(i)).collect::<Result<_, _>>()?)),
            None => Ok(None),
        }
    }
}

/// Which of `sets` (`FROM … WHERE …` clauses with their arguments) is
/// smallest, each counted in its index up to `cap` and up to the smallest so
/// far: the sizes a page plan takes are capped low (10,000), which would tie
/// a family of 125,000 models with a metric bound matching 40,000, and a
/// family is spread along any metric's order. A lone set is not counted:
/// [`page`] reads it anyway, and stops past its own cap.
pub(super) fn smallest(tx: &Connection, sets: &[(String, &[SqlValue])], cap: i64) -> StoreResult<Option<usize>> {
    if sets.len() == 1 {
        return Ok(Some(0));
    }
    let mut best: Option<(usize, i64)> = None;
    for (i, (from_where, args)) in sets.iter().enumerate() {
        let limit = best.map_or(cap, |(_, n)| n);
        let n = super::counted::count_upto(tx, from_where, args, limit)?;
        if best.is_none_or(|(_, b)| n < b) {
            best = Some((i, n));
        }
    }
    Ok(best.map(|(i, _)| i))
}
