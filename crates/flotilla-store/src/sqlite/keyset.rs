//! Keyset pagination in SQL: ordering clauses and the "after this row" predicate.
//!
//! Every sort key is a non-NULL SQL expression (nullable columns are split by
//! the caller into an `IS NULL` key and a `COALESCE` key), so the predicate is
//! a plain lexicographic comparison that can walk an index.

use rusqlite::types::Value as SqlValue;
use serde_json::Value as JsonValue;

#[derive(Debug, Clone)]
pub(crate) struct SortKey {
    pub expr: String,
    pub desc: bool,
}

impl SortKey {
    pub fn asc(expr: impl Into<String>) -> Self {
        Self { expr: expr.into(), desc: false }
    }
    pub fn desc(expr: impl Into<String>) -> Self {
        Self { expr: expr.into(), desc: true }
    }
}

pub(crate) fn order_by(keys: &[SortKey]) -> String {
    keys.iter().map(|k| format!("{} {}", k.expr, if k.desc { "DESC" } else { "ASC" })).collect::<Vec<_>>().join(", ")
}

/// The columns to select so the last row's cursor can be read back.
pub(crate) fn select_list(keys: &[SortKey]) -> String {
    keys.iter().map(|k| k.expr.as_str()).collect::<Vec<_>>().join(", ")
}

/// `k1 >= ? AND ((+k1 > ?) OR (+k1 = ? AND +k2 > ?) OR ...)` with `<` for
/// descending keys. The leading bound is implied by the disjunction but is the
/// one term SQLite may seek on, so a page starts its index walk at the cursor;
/// the disjunction's columns carry a unary `+` so that SQLite 3.50 does not
/// answer it as a MULTI-INDEX OR, which loses the index order and sorts every
/// row after the cursor (1.6 s instead of 0.7 ms for a second page of model
/// versions at 600,000 versions).
pub(crate) fn after(keys: &[SortKey], cursor: &[JsonValue], params: &mut Vec<SqlValue>) -> String {
    let Some(first) = keys.first() else { return "1=1".into() };
    let bound = format!("{} {} ?", first.expr, if first.desc { "<=" } else { ">=" });
    params.push(to_sql(&cursor[0]));
    let mut ors = Vec::with_capacity(keys.len());
    for i in 0..keys.len() {
        let mut ands = Vec::with_capacity(i + 1);
        for (key, value) in keys.iter().zip(cursor).take(i) {
            ands.push(format!("+{} = ?", key.expr));
            params.push(to_sql(value));
        }
        let op = if keys[i].desc { "<" } else { ">" };
        ands.push(format!("+{} {op} ?", keys[i].expr));
        params.push(to_sql(&cursor[i]));
        ors.push(format!("({})", ands.join(" AND ")));
    }
    format!("({bound} AND ({}))", ors.join(" OR "))
}

/// For a key on a non-NULL integer column: a range that excludes nothing but
/// that SQLite's planner can seek on, so that a first page walks the key's index
/// and stops after `limit` rows instead of sorting the table (without it, 250 ms
/// for the first 100 of 600,000 model versions by update time; with it 0.1 ms).
/// Selective filters keep their own index: the planner still prefers them.
pub(crate) fn open_integer_range(key: &SortKey) -> String {
    if key.desc { format!("{} <= {}", key.expr, i64::MAX) } else { format!("{} >= {}", key.expr, i64::MIN) }
}

/// Closes a page query whose WHERE clause is open: the cursor predicate (if
/// any), the ordering, and `LIMIT limit + 1` (the extra row says whether
/// another page follows).
pub(crate) fn finish(
    sql: &mut String,
    keys: &[SortKey],
    cursor: Option<&[JsonValue]>,
    limit: usize,
    params: &mut Vec<SqlValue>,
) {
    if let Some(c) = cursor {
        sql.push_str(" AND ");
        sql.push_str(&after(keys, c, params));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {}", order_by(keys), limit + 1));
}

pub(crate) fn to_sql(v: &JsonValue) -> SqlValue {
    match v {
        JsonValue::Null => SqlValue::Null,
        JsonValue::Bool(b) => SqlValue::Integer(i64::from(*b)),
        JsonValue::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        JsonValue::String(s) => SqlValue::Text(s.clone()),
        JsonValue::Array(_) | JsonValue::Object(_) => SqlValue::Null,
    }
}

pub(crate) fn to_json(v: rusqlite::types::ValueRef<'_>) -> JsonValue {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => JsonValue::Null,
        ValueRef::Integer(i) => JsonValue::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(JsonValue::Null, JsonValue::Number),
        ValueRef::Text(t) => JsonValue::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => JsonValue::Null,
    }
}
