//! A registered-model search by a name pattern, in name order, read from the
//! trigram index keyed by each name's place in name order (migration 23).
//!
//! `name LIKE '%123%'` sorted by name had two plans, both slow at 10⁶
//! models: walk the name index testing every name (~50,000 names before 100
//! contain three given digits: 5-12 ms), or read every name holding the
//! trigram from `registered_model_names` and sort them (4,000-14,000 names,
//! a row fetch each: 5-14 ms). `registered_model_names_ordered` lists a
//! trigram's names by place, which grows with the name, so the page is the
//! first matches of that list: ~100 entries, each checked against the whole
//! filter (0.4 ms median, 1.4 ms p99 of SQLite time for `%ddd%`).
//!
//! The few names without a place (`registered_model_names_unplaced`: a gap
//! between two placed names filled up) are merged in, all of them tested;
//! past [`UNPLACED_MERGED`] of them the plan is not used. The plan walks
//! until the page fills, so the caller gives it an allowance and falls back
//! to the older plans when most names holding the trigrams fail the rest of
//! the filter.

use flotilla_core::filter::{Attr, Clause, Comparator, Field, Operand};
use rusqlite::Transaction;
use rusqlite::types::Value;
use serde_json::Value as JsonValue;

use super::keyset::{self, SortKey};
use crate::error::StoreResult;

/// Names without a place merged into a page, at most; more, and the older
/// plans answer (each is read and tested: about 1.3 µs a name).
pub(super) const UNPLACED_MERGED: i64 = 1_000;

/// Trigrams of the pattern looked up, at most (each narrows the candidates;
/// the pattern itself is tested on every one).
const MAX_TRIGRAMS: usize = 8;

/// What the ordered plan needs from the search: its filter's SQL (already
/// bound to `args`) is written twice, once per branch.
pub(super) struct OrderedQuery<'a> {
    /// The index query: the pattern's trigrams, all required.
    pub(super) trigrams: String,
    pub(super) keys: &'a [SortKey],
    pub(super) cursor: Option<&'a [JsonValue]>,
    pub(super) limit: usize,
}

/// For a search sorted by name alone with a `name LIKE` (leading wildcard)
/// or `name ILIKE` clause: the index query for that clause's longest literal
/// run, when it has a trigram, and the unplaced names are few enough to merge.
pub(super) fn trigrams_for(tx: &Transaction<'_>, keys: &[SortKey], filter: &[Clause]) -> StoreResult<Option<String>> {
    if keys.len() != 1 || keys[0].expr != "rm.name" {
        return Ok(None);
    }
    let Some(trigrams) = filter.iter().find_map(pattern_trigrams) else { return Ok(None) };
    let unplaced: i64 = tx
        .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM registered_model_names_unplaced LIMIT ?)")?
        .query_row([UNPLACED_MERGED + 1], |r| r.get(0))?;
    Ok((unplaced <= UNPLACED_MERGED).then_some(trigrams))
}

/// The FTS5 query `"abc" AND "bcd" ...` for the clause's longest literal run.
fn pattern_trigrams(c: &Clause) -> Option<String> {
    let (Field::Attr(Attr::Name), Operand::Str(pattern)) = (&c.field, &c.value) else { return None };
    let unanchored = match c.cmp {
        Comparator::Like => pattern.starts_with(['%', '_']),
        Comparator::ILike => true,
        _ => false,
    };
    if !unanchored {
        return None;
    }
    let run: Vec<char> = pattern.split(['%', '_']).max_by_key(|run| run.chars().count())?.chars().collect();
    if run.len() < 3 || run.iter().any(|c| c.is_control()) {
        return None;
    }
    let mut trigrams: Vec<String> = Vec::new();
    for window in run.windows(3) {
        let trigram: String = window.iter().collect();
        if !trigrams.contains(&trigram) {
            trigrams.push(trigram);
        }
    }
    // Spread over the run, so that a long run is narrowed along its length.
    let step = trigrams.len().div_ceil(MAX_TRIGRAMS);
    let picked: Vec<String> =
        trigrams.iter().step_by(step).map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect();
    Some(picked.join(" AND "))
}

/// The page's SQL (id, then the name): the placed names holding the
/// trigrams in place order, checked against `filter_sql` (a closure writing
/// the search's clauses and binding their arguments, called once per
/// branch), merged with the unplaced names that pass it.
pub(super) fn page_sql(
    q: &OrderedQuery<'_>,
    args: &mut Vec<Value>,
    mut filter_sql: impl FnMut(&mut Vec<Value>) -> StoreResult<String>,
) -> StoreResult<String> {
    let desc = q.keys[0].desc;
    let (dir, bound) = if desc { ("DESC", "<=") } else { ("ASC", ">=") };
    let mut sql = String::from(
        "SELECT rm.rm_id, rm.name FROM (SELECT * FROM (
           SELECT rm.rm_id, rm.name FROM registered_model_names_ordered
           JOIN registered_model_name_order o ON o.place = registered_model_names_ordered.rowid
           JOIN registered_models rm ON rm.rm_id = o.rm_id
           WHERE registered_model_names_ordered MATCH ?",
    );
    args.push(Value::Text(q.trigrams.clone()));
    if let Some(cursor) = q.cursor {
        // Start the index at the cursor's place: the last placed name on
        // the cursor's side of it (the names' own test follows).
        let (cmp, order) = if desc { (">=", "ASC") } else { ("<=", "DESC") };
        sql.push_str(&format!(
            " AND registered_model_names_ordered.rowid {bound} coalesce((SELECT o2.place FROM registered_models r2
               JOIN registered_model_name_order o2 ON o2.rm_id = r2.rm_id
               WHERE r2.name {cmp} ? ORDER BY r2.name {order} LIMIT 1), {})",
            if desc { i64::MAX } else { i64::MIN }
        ));
        args.push(keyset::to_sql(&cursor[0]));
    }
    let mut branch = |sql: &mut String, args: &mut Vec<Value>| -> StoreResult<()> {
        sql.push_str(&filter_sql(args)?);
        if let Some(cursor) = q.cursor {
            sql.push_str(" AND ");
            sql.push_str(&keyset::after(q.keys, cursor, args));
        }
        Ok(())
    };
    branch(&mut sql, args)?;
    sql.push_str(&format!(" ORDER BY registered_model_names_ordered.rowid {dir} LIMIT {})", q.limit + 1));
    sql.push_str(
        " UNION ALL SELECT rm.rm_id, rm.name FROM registered_model_names_unplaced u
          JOIN registered_models rm ON rm.rm_id = u.rm_id WHERE 1=1",
    );
    branch(&mut sql, args)?;
    sql.push_str(") rm WHERE 1=1");
    keyset::finish(&mut sql, q.keys, None, q.limit, args);
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use flotilla_core::filter::{Attr, Clause, Comparator, Field, Operand};

    use super::pattern_trigrams;

    fn clause(cmp: Comparator, pattern: &str) -> Clause {
        Clause { field: Field::Attr(Attr::Name), cmp, value: Operand::Str(pattern.into()) }
    }

    #[test]
    fn looks_up_the_longest_runs_trigrams_for_unanchored_patterns_only() {
        assert_eq!(pattern_trigrams(&clause(Comparator::Like, "%123%")).as_deref(), Some("\"123\""));
        assert_eq!(
            pattern_trigrams(&clause(Comparator::ILike, "ab%Store_1234")).as_deref(),
            Some("\"Sto\" AND \"tor\" AND \"ore\"")
        );
        assert_eq!(
            pattern_trigrams(&clause(Comparator::Like, "_a\"bc%")).as_deref(),
            Some("\"a\"\"b\" AND \"\"\"bc\"")
        );
        // Anchored LIKE is a range of the name index; runs under three characters have no trigram.
        assert_eq!(pattern_trigrams(&clause(Comparator::Like, "abc%")), None);
        assert_eq!(pattern_trigrams(&clause(Comparator::ILike, "%ab%cd%")), None);
        assert_eq!(pattern_trigrams(&clause(Comparator::Eq, "%abc%")), None);
        let long = pattern_trigrams(&clause(Comparator::Like, "%abcdefghijklmnopqrstuvwxyz%")).unwrap();
        assert_eq!(long.matches(" AND ").count() + 1, 8, "{long}");
    }
}
