//! Dynamic SQL for the fleet areas on PostgreSQL: clauses joined with AND,
//! each value bound as a numbered parameter (`$n`) of its own Rust type.

use postgres::types::ToSql;
use serde_json::Value as JsonValue;

use crate::error::StoreResult;

/// A statement's WHERE clauses and their parameters.
#[derive(Default)]
pub(super) struct Sql {
    clauses: Vec<String>,
    args: Vec<Box<dyn ToSql + Sync>>,
}

impl Sql {
    /// Binds `value`; the placeholder to write in its place.
    pub(super) fn bind<T: ToSql + Sync + 'static>(&mut self, value: T) -> String {
        self.args.push(Box::new(value));
        format!("${}", self.args.len())
    }

    pub(super) fn and(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// ` WHERE a AND b`, or nothing.
    pub(super) fn where_clause(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!(" WHERE {}", self.clauses.join(" AND ")) }
    }

    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(|a| a.as_ref()).collect()
    }
}

/// `s` as a LIKE pattern that matches it literally (escape character `\`).
pub(super) fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A sort key's column and how its cursor value is bound.
#[derive(Clone, Copy)]
pub(super) enum Key {
    Text(&'static str),
    Int(&'static str),
    Real(&'static str),
}

impl Key {
    fn column(self) -> &'static str {
        match self {
            Key::Text(c) | Key::Int(c) | Key::Real(c) => c,
        }
    }

    fn bind(self, value: &JsonValue, s: &mut Sql) -> StoreResult<String> {
        let bad = || flotilla_core::Error::invalid("invalid page_token");
        Ok(match self {
            Key::Text(_) => s.bind(value.as_str().ok_or_else(bad)?.to_string()),
            Key::Int(_) => s.bind(value.as_i64().ok_or_else(bad)?),
            Key::Real(_) => s.bind(value.as_f64().ok_or_else(bad)?),
        })
    }

    /// A row's sort key values (from column `first` on), as a page cursor.
    pub(super) fn cursor(keys: &[Key], row: &postgres::Row, first: usize) -> Vec<JsonValue> {
        keys.iter().enumerate().map(|(i, k)| k.read(row, first + i)).collect()
    }

    fn read(self, row: &postgres::Row, i: usize) -> JsonValue {
        match self {
            Key::Text(_) => JsonValue::from(row.get::<_, String>(i)),
            Key::Int(_) => JsonValue::from(row.get::<_, i64>(i)),
            Key::Real(_) => JsonValue::from(row.get::<_, f64>(i)),
        }
    }
}

/// Keyset paging over `keys`, every one sorted the same way: after the
/// cursor is one row-value comparison (an index range). The select list of
/// the keys and the ORDER BY.
pub(super) fn keyset(
    s: &mut Sql,
    keys: &[Key],
    cursor: Option<&[JsonValue]>,
    desc: bool,
) -> StoreResult<(String, String)> {
    let columns: Vec<&str> = keys.iter().map(|k| k.column()).collect();
    if let Some(cursor) = cursor {
        let values = keys.iter().zip(cursor).map(|(k, v)| k.bind(v, s)).collect::<StoreResult<Vec<_>>>()?;
        let op = if desc { "<" } else { ">" };
        s.and(format!("({}) {op} ({})", columns.join(", "), values.join(", ")));
    }
    let direction = if desc { "DESC" } else { "ASC" };
    let order: Vec<String> = columns.iter().map(|c| format!("{c} {direction}")).collect();
    Ok((columns.join(", "), order.join(", ")))
}

/// A caller's readable set as a predicate on registered models (`name` and
/// `rm_id` their columns): the rule of `Visible::admits` with its lists bound
/// as arrays, so the statement text does not depend on how many names a
/// caller's grants hold. `None` when everything is visible.
pub(super) fn visible_models(v: &crate::Visible, name: &str, rm_id: &str, sql: &mut Sql) -> Option<String> {
    if v.is_everything() {
        return None;
    }
    let member = |families: String| {
        format!(
            "EXISTS (SELECT 1 FROM fleet_members m JOIN families f ON f.family_id = m.family_id \
             WHERE m.rm_id = {rm_id} AND ('*' = ANY({families}) OR f.name = ANY({families})))"
        )
    };
    let out = sql.bind(v.ids_out.clone());
    let ids_in = sql.bind(v.ids_in.clone());
    let families_out = member(sql.bind(v.families_out.clone()));
    let all = sql.bind(v.all);
    let families_in = member(sql.bind(v.families_in.clone()));
    Some(format!(
        "NOT ({name} = ANY({out})) AND ({name} = ANY({ids_in}) OR (NOT {families_out} AND ({all} OR {families_in})))"
    ))
}
