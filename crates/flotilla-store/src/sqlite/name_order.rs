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
use rusqlite::Connection;
use rusqlite::types::Value;
use serde_json::Value as JsonValue;

use super::fleet_search::trigram_probe;
use super::keyset::{self, SortKey};
use crate::error::StoreResult;

/// Names without a place merged into a page, at most; more, and the older
/// plans answer (each is read and tested: about 1.3 µs a name).
pub(super) const UNPLACED_MERGED: i64 = 1_000;

/// Trigrams of the rarest-looking piece looked up, at most (each narrows the
/// candidates, and costs the index a merge; the pattern itself is tested on
/// every candidate).
const MAX_PROBE_TRIGRAMS: usize = 4;

/// What the ordered plan needs from the search: its filter's SQL (already
/// bound to `args`) is written twice, once per branch.
pub(super) struct OrderedQuery<'a> {
    /// The index query: the pattern's trigrams, all required.
    pub(super) trigrams: String,
    pub(super) keys: &'a [SortKey],
    pub(super) cursor: Option<&'a [JsonValue]>,
    pub(super) limit: usize,
}

/// For a search sorted by name alone with an unanchored `name LIKE` or
/// `name ILIKE` clause (a leading `%` or `_`): the index query for the
/// clause's longest literal run, when it has a trigram, and the unplaced
/// names are few enough to merge. Tried before the rm_id-keyed index is
/// even counted: reading a page's worth of candidates in order is cheaper
/// than reading all of them whenever most hold the whole pattern, and the
/// allowance bounds the rest.
pub(super) fn trigrams_for(tx: &Connection, keys: &[SortKey], filter: &[Clause]) -> StoreResult<Option<String>> {
    if keys.len() != 1 || keys[0].expr != "rm.name" {
        return Ok(None);
    }
    let Some(trigrams) = filter.iter().find_map(pattern_trigrams) else { return Ok(None) };
    let unplaced = super::counted::count_upto(tx, "registered_model_names_unplaced", &[], UNPLACED_MERGED + 1)?;
    Ok((unplaced <= UNPLACED_MERGED).then_some(trigrams))
}

/// The FTS5 query `"abc" AND "bcd" ...` for the clause's longest literal
/// run: the trigrams of its rarest-looking piece (`trigram_probe`, the part
/// after the last `.`, `=` or `/`), which keep the candidates few, and the
/// run's first and last, which keep them matching (at 10⁶ models,
/// `%ing.store=s01%` read 52 ms of names holding `s01` alone, 0.5 ms with
/// `ing`; every trigram of a long run made the index's own merge dear).
fn pattern_trigrams(c: &Clause) -> Option<String> {
    let (Field::Attr(Attr::Name), Operand::Str(pattern)) = (&c.field, &c.value) else { return None };
    let unanchored = matches!(c.cmp, Comparator::Like | Comparator::ILike) && pattern.starts_with(['%', '_']);
    if !unanchored {
        return None;
    }
    let run = pattern.split(['%', '_']).max_by_key(|run| run.chars().count())?;
    if run.chars().count() < 3 || run.chars().any(char::is_control) {
        return None;
    }
    let trigrams_of = |s: &str| -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        chars.windows(3).map(|w| w.iter().collect()).collect()
    };
    let of_run = trigrams_of(run);
    let of_probe = trigrams_of(trigram_probe(run));
    let step = of_probe.len().div_ceil(MAX_PROBE_TRIGRAMS).max(1);
    let mut picked: Vec<String> = Vec::new();
    let ends = [of_run.first(), of_run.last()].into_iter().flatten();
    for trigram in of_probe.iter().step_by(step).chain(ends) {
        if !picked.contains(trigram) {
            picked.push(trigram.clone());
        }
    }
    Some(picked.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" AND "))
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
        // CROSS JOIN keeps the few unplaced names the outer loop: left to
        // itself, SQLite walked the whole name index for the merge's order.
        " UNION ALL SELECT rm.rm_id, rm.name FROM registered_model_names_unplaced u
          CROSS JOIN registered_models rm ON rm.rm_id = u.rm_id WHERE 1=1",
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
        let trigrams = |cmp, pattern| pattern_trigrams(&clause(cmp, pattern));
        assert_eq!(trigrams(Comparator::Like, "%123%").as_deref(), Some("\"123\""));
        // The piece after the last separator, and the run's ends.
        assert_eq!(trigrams(Comparator::ILike, "%ing.store=s01%").as_deref(), Some("\"s01\" AND \"ing\""));
        assert_eq!(
            trigrams(Comparator::Like, "_store=s0136%x").as_deref(),
            Some("\"s01\" AND \"013\" AND \"136\" AND \"sto\"")
        );
        assert_eq!(trigrams(Comparator::Like, "%a\"bc%").as_deref(), Some("\"a\"\"b\" AND \"\"\"bc\""));
        // Anchored patterns are ranges of the name index or the older plans'; runs under three characters have no trigram.
        assert_eq!(trigrams(Comparator::Like, "abc%"), None);
        assert_eq!(trigrams(Comparator::ILike, "abc%"), None);
        assert_eq!(trigrams(Comparator::ILike, "%ab%cd%"), None);
        assert_eq!(trigrams(Comparator::Eq, "%abc%"), None);
        let long = trigrams(Comparator::Like, "%abcdefghijklmnopqrstuvwxyz%").unwrap();
        assert_eq!(long, "\"abc\" AND \"ghi\" AND \"mno\" AND \"stu\" AND \"xyz\"");
    }
}
