//! Dynamic SQL on PostgreSQL: a loosely typed bound value (as SQLite's),
//! `?` placeholders numbered for PostgreSQL, keyset paging and the typed
//! filter clauses as predicates. The shapes follow `sqlite/keyset.rs` and
//! `sqlite/filter_sql.rs`; what differs is PostgreSQL's: no unary `+` on
//! text, `FALSE`/`TRUE` rather than `0`/`1`, LIKE without an escape character
//! (`ESCAPE ''`, as SQLite's), ILIKE for case-insensitive matching.

use std::error::Error as StdError;

use bytes::BytesMut;
use flotilla_core::Error;
use flotilla_core::filter::{Attr, Clause, Comparator, Field, Operand};
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use serde_json::Value as JsonValue;

use super::Tx;
use crate::error::StoreResult;
use crate::paging;

/// A bound value converted to whatever type PostgreSQL infers for its
/// placeholder, as SQLite's dynamic typing would compare it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let text = |s: String, out: &mut BytesMut| s.to_sql(ty, out);
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            // A fraction compared with an integer column: never equal, and the
            // order of SQLite's numeric comparison is kept by rounding outward
            // is not needed by any filter the API accepts on integer columns.
            (Value::Real(f), &Type::INT8) => (*f as i64).to_sql(ty, out),
            (Value::Text(s), &Type::INT8) => s.trim().parse::<i64>()?.to_sql(ty, out),
            (Value::Text(s), &Type::FLOAT8) => s.trim().parse::<f64>()?.to_sql(ty, out),
            (Value::Int(i), _) => text(i.to_string(), out),
            (Value::Real(f), _) => text(f.to_string(), out),
            (Value::Text(s), _) => s.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The parameters as the `postgres` crate takes them.
pub(crate) fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

/// `?` placeholders (outside quoted literals) numbered `$1, $2, ...`.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for ch in sql.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            c => out.push(c),
        }
    }
    out
}

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

fn order_by(keys: &[SortKey]) -> String {
    keys.iter().map(|k| format!("{} {}", k.expr, if k.desc { "DESC" } else { "ASC" })).collect::<Vec<_>>().join(", ")
}

/// The columns to select so the last row's cursor can be read back.
pub(crate) fn select_list(keys: &[SortKey]) -> String {
    keys.iter().map(|k| k.expr.as_str()).collect::<Vec<_>>().join(", ")
}

/// `k1 >= ? AND ((k1 > ?) OR (k1 = ? AND k2 > ?) OR ...)`, `<` for descending keys.
fn after(keys: &[SortKey], cursor: &[JsonValue], args: &mut Vec<Value>) -> String {
    let Some(first) = keys.first() else { return "TRUE".into() };
    let bound = format!("{} {} ?", first.expr, if first.desc { "<=" } else { ">=" });
    args.push(from_json(&cursor[0]));
    let mut ors = Vec::with_capacity(keys.len());
    for i in 0..keys.len() {
        let mut ands = Vec::with_capacity(i + 1);
        for (key, value) in keys.iter().zip(cursor).take(i) {
            ands.push(format!("{} = ?", key.expr));
            args.push(from_json(value));
        }
        let op = if keys[i].desc { "<" } else { ">" };
        ands.push(format!("{} {op} ?", keys[i].expr));
        args.push(from_json(&cursor[i]));
        ors.push(format!("({})", ands.join(" AND ")));
    }
    format!("({bound} AND ({}))", ors.join(" OR "))
}

/// Closes a page query whose WHERE clause is open: the cursor predicate,
/// the ordering, and `LIMIT limit + 1` (the extra row says whether another
/// page follows).
pub(crate) fn finish(
    sql: &mut String,
    keys: &[SortKey],
    cursor: Option<&[JsonValue]>,
    limit: usize,
    args: &mut Vec<Value>,
) {
    if let Some(c) = cursor {
        sql.push_str(" AND ");
        sql.push_str(&after(keys, c, args));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {}", order_by(keys), limit + 1));
}

fn from_json(v: &JsonValue) -> Value {
    match v {
        JsonValue::Null | JsonValue::Array(_) | JsonValue::Object(_) => Value::Null,
        JsonValue::Bool(b) => Value::Int(i64::from(*b)),
        JsonValue::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Real(n.as_f64().unwrap_or(0.0)),
        },
        JsonValue::String(s) => Value::Text(s.clone()),
    }
}

/// Column `i` of a row as a cursor value.
fn to_json(row: &postgres::Row, i: usize) -> StoreResult<JsonValue> {
    let ty = row.columns()[i].type_().clone();
    Ok(if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map_or(JsonValue::Null, JsonValue::from)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?.map_or(JsonValue::Null, JsonValue::from)
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?
            .and_then(serde_json::Number::from_f64)
            .map_or(JsonValue::Null, JsonValue::Number)
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map_or(JsonValue::Null, |b| JsonValue::from(i64::from(b)))
    } else {
        row.try_get::<_, Option<String>>(i)?.map_or(JsonValue::Null, JsonValue::String)
    })
}

/// [`keyset_page`] for the common case of one integer id column.
pub(crate) fn keyset_page_ids(
    tx: &mut Tx<'_>,
    sql: &str,
    args: &[Value],
    keys: usize,
    limit: usize,
) -> StoreResult<(Vec<i64>, Option<String>)> {
    keyset_page(tx, sql, args, keys, limit)
}

/// Runs a keyset query whose columns are `id, key1..keyN`, fetching `limit + 1`
/// rows; returns the page's ids and the token for the next page.
pub(crate) fn keyset_page<T: for<'a> FromSql<'a>>(
    tx: &mut Tx<'_>,
    sql: &str,
    args: &[Value],
    keys: usize,
    limit: usize,
) -> StoreResult<(Vec<T>, Option<String>)> {
    keyset_page_with(tx, sql, args, keys, limit, 1, |row| Ok(row.try_get::<_, T>(0)?))
}

/// [`keyset_page`] whose rows start with `id_columns` id columns, read by `id`.
pub(crate) fn keyset_page_with<T>(
    tx: &mut Tx<'_>,
    sql: &str,
    args: &[Value],
    keys: usize,
    limit: usize,
    id_columns: usize,
    id: impl Fn(&postgres::Row) -> StoreResult<T>,
) -> StoreResult<(Vec<T>, Option<String>)> {
    let rows = tx.query(&numbered(sql), &params(args))?;
    let mut ids = Vec::new();
    let mut next = None;
    let mut last_cursor = Vec::new();
    for row in &rows {
        if ids.len() == limit {
            next = Some(paging::encode(&last_cursor));
            break;
        }
        ids.push(id(row)?);
        last_cursor = (0..keys).map(|i| to_json(row, id_columns + i)).collect::<StoreResult<_>>()?;
    }
    Ok((ids, next))
}

/// Looks an attribute up in one entity's column table.
pub(crate) fn attr_column(attr: Attr, columns: &[(Attr, &'static str)], entity: &str) -> StoreResult<&'static str> {
    columns
        .iter()
        .find(|(a, _)| *a == attr)
        .map(|(_, c)| *c)
        .ok_or_else(|| Error::invalid(format!("Invalid attribute {attr:?} for {entity}")).into())
}

/// The error for a field kind an entity cannot filter or order on.
pub(crate) fn unsupported(field: &Field, entity: &str) -> crate::StoreError {
    Error::invalid(format!("Invalid field {field:?} for {entity}")).into()
}

fn operand(v: &Operand) -> StoreResult<Value> {
    match v {
        Operand::Str(s) => Ok(Value::Text(s.clone())),
        Operand::Num(n) => {
            Ok(if n.fract() == 0.0 && n.abs() < 9.0e15 { Value::Int(*n as i64) } else { Value::Real(*n) })
        }
        Operand::List(_) | Operand::Null => Err(Error::invalid("Expected a single value in filter").into()),
    }
}

/// `column <cmp> ?` for one clause.
pub(crate) fn compare(column: &str, c: &Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    let simple = |op: &str, args: &mut Vec<Value>| -> StoreResult<String> {
        args.push(operand(&c.value)?);
        Ok(format!("{column} {op} ?"))
    };
    match c.cmp {
        Comparator::Eq => simple("=", args),
        Comparator::Ne => simple("<>", args),
        Comparator::Gt => simple(">", args),
        Comparator::Ge => simple(">=", args),
        Comparator::Lt => simple("<", args),
        Comparator::Le => simple("<=", args),
        Comparator::Like => {
            args.push(operand(&c.value)?);
            Ok(format!("{column}::text LIKE ? ESCAPE ''"))
        }
        Comparator::ILike => {
            args.push(operand(&c.value)?);
            Ok(format!("{column}::text ILIKE ? ESCAPE ''"))
        }
        Comparator::In | Comparator::NotIn => {
            let Operand::List(items) = &c.value else {
                return Err(Error::invalid("IN expects a list of values, e.g. ('a', 'b')").into());
            };
            if items.is_empty() {
                return Ok(if c.cmp == Comparator::In { "FALSE".into() } else { "TRUE".into() });
            }
            args.extend(items.iter().cloned().map(Value::Text));
            let not = if c.cmp == Comparator::NotIn { "NOT " } else { "" };
            Ok(format!("{column} {not}IN ({})", vec!["?"; items.len()].join(", ")))
        }
        Comparator::IsNull => Ok(format!("{column} IS NULL")),
        Comparator::IsNotNull => Ok(format!("{column} IS NOT NULL")),
    }
}

/// How `!=` treats entities that lack the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissingKey {
    /// The key must exist with another value (MLflow's run semantics).
    NoMatch,
    /// Entities without the key match too (MLflow's registry anti-join).
    Matches,
}

/// A predicate over a key/value child table (`*_tags`, `*_params`).
pub(crate) fn key_value(
    table: &str,
    join: &str,
    key: &str,
    c: &Clause,
    missing: MissingKey,
    args: &mut Vec<Value>,
) -> StoreResult<String> {
    let head = format!("SELECT 1 FROM {table} kv WHERE {join} AND kv.key = ?");
    args.push(Value::Text(key.into()));
    match (c.cmp, missing) {
        (Comparator::IsNull, _) => Ok(format!("NOT EXISTS ({head})")),
        (Comparator::IsNotNull, _) => Ok(format!("EXISTS ({head})")),
        (Comparator::Ne, MissingKey::Matches) => {
            let eq = Clause { field: c.field.clone(), cmp: Comparator::Eq, value: c.value.clone() };
            let pred = compare("kv.value", &eq, args)?;
            Ok(format!("NOT EXISTS ({head} AND {pred})"))
        }
        (
            Comparator::Eq
            | Comparator::Ne
            | Comparator::Gt
            | Comparator::Ge
            | Comparator::Lt
            | Comparator::Le
            | Comparator::Like
            | Comparator::ILike
            | Comparator::In
            | Comparator::NotIn,
            MissingKey::NoMatch | MissingKey::Matches,
        ) => {
            let pred = compare("kv.value", c, args)?;
            Ok(format!("EXISTS ({head} AND {pred})"))
        }
    }
}

/// Tags on experiments and runs: `!=` needs the tag to exist.
pub(crate) fn tag_exists(
    table: &str,
    fk: &str,
    outer: &str,
    key: &str,
    c: &Clause,
    args: &mut Vec<Value>,
) -> StoreResult<String> {
    key_value(table, &format!("kv.{fk} = {outer}"), key, c, MissingKey::NoMatch, args)
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(numbered("a = ? AND b IN (?, ?) AND c = '?'"), "a = $1 AND b IN ($2, $3) AND c = '?'");
    }
}
