//! A page filtered by one metric and sorted by another (`val_mape < 0.1`
//! sorted by `-val_rmse`), answered from the metric pairs (migration 17).
//!
//! When the two metrics are correlated the matches sit at one end of the
//! sort: walking the sort order reads almost every entity before the first
//! match, and the far-end plan (`far_end`) reads the whole filter set (40,000
//! to 130,000 rows at 10⁶ models). The pair tables hold, per entity and per
//! ordered pair of its metrics (a, b), the bucket of a's value, b's value and
//! a's value, indexed in that order: within one bucket of a, the rows are in
//! b's order, with a's value covered. A page then reads, bucket by bucket of
//! a's range, only the first rows in b's order:
//!
//! 1. the non-empty buckets in the bound's range, one index seek each, and
//!    the first row of each in the page's order (after the cursor, within the
//!    bounds on b): a row no match of that bucket can precede;
//! 2. the buckets best head first: each gives its first `want` matches (a's
//!    bound checked on the covered value, the other filters probed per row)
//!    that precede the `want`th match found so far; once a bucket's head
//!    comes after that, so does every later bucket, and the page is complete.
//!
//! The cost is two seeks per non-empty bucket of the range (32 buckets per
//! binade of a's values) and about `want` rows, whatever the set's size and
//! wherever its matches lie along the sort.
//!
//! Bound: the pairs are quadratic in an entity's metric count, and a run may
//! log any number of keys, so only entities with at most
//! [`MAX_PAIRED_METRICS`] metrics are paired (at most 16 x 15 rows each).
//! One that crosses the cap has its pairs removed and a row in
//! `alias_metric_overflow` / `version_metric_overflow`; the triggers' `WHEN`
//! clauses (a count capped at 17 rows, an overflow probe) keep every write
//! O(cap). It stays in overflow until its last metric is gone (an alias
//! moved to a smaller version is re-paired, as the move deletes every metric
//! first). A page merges in the entities of its table (of its alias name,
//! for aliases) in overflow, read from the metric tables, while there are
//! few ([`alias_overflow`], [`version_overflow`], at most
//! `SearchPlanning::pair_overflow_merged`); with more, the caller falls
//! back to the far-end plan, with the same rows.
//!
//! Exactness: the bucket is monotone in the value, so every match of a's
//! bound is in a bucket of the range, and every row read is checked against
//! the bound itself; the sort key (b's value, then the entity's key) is
//! unique, and rows come back in it; the rows, order and cursors are those
//! of the other plans.

use std::cmp::Ordering;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value as JsonValue;

use super::keyset;
use crate::error::StoreResult;

/// The most metrics an aliased version (or version) may have and be paired:
/// the migration's triggers and [`REBUILD`] spell the same 16 (and the
/// capped count's 17).
pub const MAX_PAIRED_METRICS: usize = 16;

/// Mantissa bits kept in a bucket: 32 buckets per binade.
const BUCKET_MANTISSA_BITS: u32 = 5;

/// A metric value's bucket: the value's bits, made to sort as the value
/// does (negatives reversed), cut to the sign, exponent and five mantissa
/// bits. Monotone (non-decreasing) in the value; -0 sorts as 0.
pub fn bucket(value: f64) -> i64 {
    let value = if value == 0.0 { 0.0 } else { value };
    let bits = value.to_bits();
    let ordered = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    // At most 17 bits: fits an i64.
    (ordered >> (52 - BUCKET_MANTISSA_BITS)) as i64
}

/// Registers `flotilla_metric_bucket(value)` ([`bucket`]), which the pair
/// tables' triggers use, on a store connection.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "flotilla_metric_bucket",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| Ok(bucket(ctx.get::<f64>(0)?)),
    )
}

/// The triggers and indexes a bulk load may drop: the pairs are then
/// rebuilt from the metric tables ([`REBUILD`]) before the indexes are made.
pub const DEFERRED: &[&str] = &[
    "alias_metric_pairs_by_bucket",
    "alias_metric_pairs_delete",
    "alias_metric_pairs_insert",
    "alias_metric_pairs_overflow",
    "alias_metric_pairs_update",
    "version_metric_pairs_by_bucket",
    "version_metric_pairs_delete",
    "version_metric_pairs_insert",
    "version_metric_pairs_overflow",
    "version_metric_pairs_update",
];

/// Every pair of the entities within the cap, and the overflow of the
/// others, from the metric tables.
pub(super) const REBUILD: &str = "DELETE FROM alias_metric_pairs;
DELETE FROM version_metric_pairs;
DELETE FROM alias_metric_overflow;
DELETE FROM version_metric_overflow;
INSERT INTO alias_metric_overflow (alias, rm_id)
SELECT alias, rm_id FROM alias_metrics GROUP BY rm_id, alias HAVING count(*) > 16;
INSERT INTO version_metric_overflow (rm_id, version)
SELECT rm_id, version FROM model_version_metrics GROUP BY rm_id, version HAVING count(*) > 16;
INSERT INTO alias_metric_pairs (rm_id, alias, key_a, key_b, bucket, value_b, value_a)
SELECT a.rm_id, a.alias, a.key, b.key, flotilla_metric_bucket(a.value), b.value, a.value
  FROM alias_metrics a JOIN alias_metrics b ON b.rm_id = a.rm_id AND b.alias = a.alias AND b.key <> a.key
 WHERE NOT EXISTS (SELECT 1 FROM alias_metric_overflow o WHERE o.alias = a.alias AND o.rm_id = a.rm_id);
INSERT INTO version_metric_pairs (rm_id, version, key_a, key_b, bucket, value_b, value_a)
SELECT a.rm_id, a.version, a.key, b.key, flotilla_metric_bucket(a.value), b.value, a.value
  FROM model_version_metrics a JOIN model_version_metrics b ON b.rm_id = a.rm_id AND b.version = a.version AND b.key <> a.key
 WHERE NOT EXISTS (SELECT 1 FROM version_metric_overflow o WHERE o.rm_id = a.rm_id AND o.version = a.version);";

/// How many aliased versions under `alias` are past the cap (not paired),
/// counted up to `limit + 1`: one short index range.
pub(super) fn alias_overflow(tx: &Connection, alias: &str, limit: usize) -> StoreResult<usize> {
    let cap = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let n = super::counted::count_upto(tx, "alias_metric_overflow WHERE alias = ?", &[alias.to_string().into()], cap)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// How many versions are past the cap (not paired), counted up to
/// `limit + 1`.
pub(super) fn version_overflow(tx: &Connection, limit: usize) -> StoreResult<usize> {
    let cap = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let n = super::counted::count_upto(tx, "version_metric_overflow", &[], cap)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The virtual pair rows (`value_b`, the key columns, `value_a`) of the
/// aliased versions under an alias past the cap, from `alias_metrics`;
/// arguments: key a, key b, alias.
pub(super) const ALIAS_OVERFLOW_ROWS: &str = "SELECT b.value AS value_b, o.rm_id AS rm_id, a.value AS value_a
  FROM alias_metric_overflow o
  JOIN alias_metrics a ON a.rm_id = o.rm_id AND a.alias = o.alias AND a.key = ?
  JOIN alias_metrics b ON b.rm_id = o.rm_id AND b.alias = o.alias AND b.key = ?
 WHERE o.alias = ?";

/// The same of the versions past the cap, from `model_version_metrics`;
/// arguments: key a, key b.
pub(super) const VERSION_OVERFLOW_ROWS: &str =
    "SELECT b.value AS value_b, o.rm_id AS rm_id, o.version AS version, a.value AS value_a
  FROM version_metric_overflow o
  JOIN model_version_metrics a ON a.rm_id = o.rm_id AND a.key = ? AND a.version = o.version
  JOIN model_version_metrics b ON b.rm_id = o.rm_id AND b.key = ? AND b.version = o.version";

/// One page's question to a pair table.
pub(super) struct PairPage<'a> {
    /// `alias_metric_pairs` or `version_metric_pairs`.
    pub table: &'static str,
    /// Equalities on the index's leading columns (`alias = ? AND key_a = ?
    /// AND key_b = ?`), and their arguments.
    pub head: &'static str,
    pub head_args: Vec<SqlValue>,
    /// The entity's key columns: `rm_id` or `rm_id, version`.
    pub ids: &'static [&'static str],
    /// The bound on a (`<`, 0.1).
    pub bound: (&'static str, f64),
    /// Bounds on b, the sorted metric.
    pub sorted_bounds: &'a [(&'static str, f64)],
    /// The other filters, each an SQL condition on `p` (`EXISTS (...)`),
    /// ANDed, and their arguments.
    pub probes: Vec<String>,
    pub probe_args: Vec<SqlValue>,
    pub desc: bool,
    /// The entities the head would read that are past the cap, as virtual
    /// pair rows ([`ALIAS_OVERFLOW_ROWS`], [`VERSION_OVERFLOW_ROWS`]) and
    /// their arguments; `None` when there are none. Merged into the page.
    pub overflow: Option<(&'static str, Vec<SqlValue>)>,
}

/// A page's rows: each one's key columns and cursor, in the page's order.
pub(super) type PairRows = Vec<(Vec<i64>, Vec<JsonValue>)>;

/// A row of the page: its sort key (b's value, then the key columns).
type Row = Vec<SqlValue>;

/// The page's first `want` rows as (key columns, cursor), in its order;
/// `None` when the bound's operator has no range of buckets.
pub(super) fn page(
    tx: &Connection,
    q: &PairPage<'_>,
    cursor: Option<&[JsonValue]>,
    want: usize,
) -> StoreResult<Option<PairRows>> {
    let (op, x) = q.bound;
    let at = bucket(x);
    let (lo, hi) = match op {
        // A strict bound leaves out its own value: a bound on a bucket's
        // first value (2.0, 5.0) then leaves that bucket out, which would
        // otherwise be read to its end for no match.
        "<" => (i64::MIN, bucket(x.next_down())),
        "<=" => (i64::MIN, at),
        ">" => (bucket(x.next_up()), i64::MAX),
        ">=" => (at, i64::MAX),
        "=" => (at, at),
        _ => return Ok(None),
    };
    let columns: Vec<&str> = std::iter::once("value_b").chain(q.ids.iter().copied()).collect();
    let list = columns.iter().map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ");
    let dir = if q.desc { "DESC" } else { "ASC" };
    let order = columns.iter().map(|c| format!("p.{c} {dir}")).collect::<Vec<_>>().join(", ");
    let after = if q.desc { "<" } else { ">" };
    let before = if q.desc { ">" } else { "<" };
    let marks = vec!["?"; columns.len()].join(", ");
    // The range within one bucket: b's bounds and the cursor.
    let mut range = String::new();
    let mut range_args: Vec<SqlValue> = Vec::new();
    for (op, v) in q.sorted_bounds {
        range.push_str(&format!(" AND p.value_b {op} ?"));
        range_args.push(SqlValue::Real(*v));
    }
    if let Some(c) = cursor {
        range.push_str(&format!(" AND ({list}) {after} ({marks})"));
        range_args.extend(c.iter().map(keyset::to_sql));
    }
    let from = format!("FROM {} p WHERE {}", q.table, q.head);

    // 1. The non-empty buckets of the range, and each one's head.
    let mut next_bucket = tx.prepare_cached(&format!(
        "SELECT p.bucket {from} AND p.bucket > ? AND p.bucket <= ? ORDER BY p.bucket LIMIT 1"
    ))?;
    let mut head_of =
        tx.prepare_cached(&format!("SELECT {list} {from} AND p.bucket = ?{range} ORDER BY {order} LIMIT 1"))?;
    let mut heads: Vec<(i64, Row)> = Vec::new();
    let mut after_bucket = lo.checked_sub(1);
    loop {
        let mut args = q.head_args.clone();
        match after_bucket {
            Some(b) => args.push(b.into()),
            // `lo` is i64::MIN: every bucket is above i64::MIN - 1; no bucket is i64::MIN.
            None => args.push(i64::MIN.into()),
        }
        args.push(hi.into());
        let mut rows = next_bucket.query(params_from_iter(args.iter()))?;
        let Some(r) = rows.next()? else { break };
        let b: i64 = r.get(0)?;
        drop(rows);
        let mut args = q.head_args.clone();
        args.push(b.into());
        args.extend(range_args.iter().cloned());
        let mut rows = head_of.query(params_from_iter(args.iter()))?;
        if let Some(r) = rows.next()? {
            let row: Row = (0..columns.len()).map(|i| r.get::<_, SqlValue>(i)).collect::<Result<_, _>>()?;
            heads.push((b, row));
        }
        if b == hi {
            break;
        }
        after_bucket = Some(b);
    }
    let cmp = |a: &Row, b: &Row| {
        let o = compare(a, b);
        if q.desc { o.reverse() } else { o }
    };
    heads.sort_by(|a, b| cmp(&a.1, &b.1));

    // 2. The buckets best head first, each read up to the `want`th match so far.
    let probes: String = q.probes.iter().map(|p| format!(" AND {p}")).collect();
    let mut matches_of = tx.prepare_cached(&format!(
        "SELECT {list} {from} AND p.bucket = ? AND p.value_a {op} ?{range}{probes} AND ({list}) {before} ({marks}) \
         ORDER BY {order} LIMIT ?"
    ))?;
    let mut first = tx.prepare_cached(&format!(
        "SELECT {list} {from} AND p.bucket = ? AND p.value_a {op} ?{range}{probes} ORDER BY {order} LIMIT ?"
    ))?;
    // The entities past the cap (disjoint from the pairs): their first
    // `want` matches seed the page, which the buckets then improve on.
    let mut found: Vec<Row> = Vec::new();
    if let Some((rows, overflow_args)) = &q.overflow {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {list} FROM ({rows}) p WHERE p.value_a {op} ?{range}{probes} ORDER BY {order} LIMIT ?"
        ))?;
        let mut args = overflow_args.clone();
        args.push(SqlValue::Real(x));
        args.extend(range_args.iter().cloned());
        args.extend(q.probe_args.iter().cloned());
        args.push((want as i64).into());
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            found.push((0..columns.len()).map(|i| r.get::<_, SqlValue>(i)).collect::<Result<_, _>>()?);
        }
    }
    for (b, head) in heads {
        let last = (found.len() == want).then(|| found[want - 1].clone());
        if last.as_ref().is_some_and(|l| cmp(&head, l) == Ordering::Greater) {
            break;
        }
        let mut args = q.head_args.clone();
        args.push(b.into());
        args.push(SqlValue::Real(x));
        args.extend(range_args.iter().cloned());
        args.extend(q.probe_args.iter().cloned());
        let stmt = match &last {
            Some(l) => {
                args.extend(l.iter().cloned());
                &mut matches_of
            }
            None => &mut first,
        };
        args.push((want as i64).into());
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            found.push((0..columns.len()).map(|i| r.get::<_, SqlValue>(i)).collect::<Result<_, _>>()?);
        }
        found.sort_by(&cmp);
        found.truncate(want);
    }
    let page = found
        .into_iter()
        .map(|row| {
            let ids = row[1..].iter().map(|v| if let SqlValue::Integer(i) = v { *i } else { 0 }).collect();
            let cursor = row.iter().map(|v| keyset::to_json(v.into())).collect();
            (ids, cursor)
        })
        .collect();
    Ok(Some(page))
}

/// SQLite's order of two sort keys (REAL then INTEGER columns).
fn compare(a: &Row, b: &Row) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (SqlValue::Real(x), SqlValue::Real(y)) => x.total_cmp(y),
            (SqlValue::Integer(x), SqlValue::Integer(y)) => x.cmp(y),
            (SqlValue::Integer(x), SqlValue::Real(y)) => (*x as f64).total_cmp(y),
            (SqlValue::Real(x), SqlValue::Integer(y)) => x.total_cmp(&(*y as f64)),
            _ => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_are_monotone_and_fine() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -3.5,
            -3.4,
            -1e-300,
            -0.0,
            0.0,
            1e-300,
            0.0999,
            0.1,
            0.1001,
            0.5,
            1.0,
            1.99,
            2.0,
            1e300,
            f64::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(bucket(w[0]) <= bucket(w[1]), "{} then {}", w[0], w[1]);
        }
        assert_eq!(bucket(-0.0), bucket(0.0));
        // 32 buckets per binade: 1.0 and 1.99 are 31 apart, 2.0 starts the next.
        assert_eq!(bucket(1.99) - bucket(1.0), 31);
        assert_eq!(bucket(2.0) - bucket(1.0), 32);
    }
}
