//! Facet counts of a fleet search: from the counters migration 3's triggers
//! keep when the query is a whole family or the registry, else by counting
//! the matched models, all of them for the fleet API or, for the UI, those
//! read within a [`FacetBound`] (a number of matches and a time; the time is
//! also counted as work, in SQLite VM steps, so a stretch of the driving set
//! without matches stops on time too).
//!
//! What the UI's bounded count costs at 10⁶ models: reading the matches (at
//! most the bound's time) and then one index seek per match and facet
//! (families, aliases, stages: about 2 µs each, 6 ms for 1,000 matches in
//! the order they were read). The matches are counted in id order, which
//! keeps neighbouring seeks on the same pages, and a query scoped to one
//! family is not counted by family: all its matches are in it.

use std::time::Instant;

use flotilla_core::Error;
use flotilla_core::fleet::{Facets, FleetQuery};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::fleet_search::{Filter, Purpose, build_filter, text, validate};
use super::{SqliteStore, families, search_plan};
use crate::error::StoreResult;
use crate::insights::FacetBound;

const FACET_TAG_VALUES: usize = 20;

impl SqliteStore {
    /// Facets of what `q` matches; with a `bound`, a filtered query counts
    /// only the matches it reads within the bound and says so (`true`: truncated).
    pub(crate) fn facets_within(
        &self,
        q: &FleetQuery,
        tag_keys: &[String],
        bound: Option<FacetBound>,
    ) -> StoreResult<(Facets, bool)> {
        validate(q)?;
        if tag_keys.len() > 10 {
            return Err(Error::invalid("at most 10 tag keys can be faceted at once").into());
        }
        self.read(|tx| {
            let only_family = FleetQuery { family: q.family.clone(), ..FleetQuery::default() };
            let unfiltered = FleetQuery {
                sort: q.sort.clone(),
                max_results: q.max_results,
                page_token: q.page_token.clone(),
                visible: q.visible.clone(),
                ..only_family.clone()
            };
            if *q == unfiltered
                && let Some((plus, minus)) = counted_scopes(tx, q)?
            {
                return Ok((counted_facets(tx, &plus, &minus, tag_keys)?, false));
            }
            let purpose = if bound.is_some() { Purpose::CountFirst } else { Purpose::Count };
            let filter = build_filter(tx, q, purpose, None, self.planning)?;
            matched_facets(tx, &filter, q.family.as_deref(), tag_keys, bound)
        })
    }
}

/// The counters that add up to an unfiltered query's facets under its
/// readable set: scopes to add and scopes to subtract (0 is the registry,
/// else a family id), or `None` when the set names models one by one and
/// only counting the matches is exact.
fn counted_scopes(tx: &Connection, q: &FleetQuery) -> StoreResult<Option<(Vec<i64>, Vec<i64>)>> {
    let v = &q.visible;
    if let Some(name) = &q.family {
        let id = families::family(tx, name)?.id;
        return Ok(match (v.is_everything(), v.whole_families()) {
            (true, _) => Some((vec![id], vec![])),
            (false, true) if v.family_wholly(name) => Some((vec![id], vec![])),
            (false, true) => Some((vec![], vec![])),
            (false, false) => None,
        });
    }
    if v.is_everything() {
        return Ok(Some((vec![0], vec![])));
    }
    if !v.whole_families() {
        return Ok(None);
    }
    let ids = |names: &[String]| -> StoreResult<Vec<i64>> {
        let json = serde_json::to_string(names).map_err(|e| Error::internal(e.to_string()))?;
        Ok(tx
            .prepare_cached("SELECT f.family_id FROM json_each(?) j JOIN families f ON f.name = j.value")?
            .query_map([json], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    };
    Ok(Some(if v.all { (vec![0], ids(&v.families_out)?) } else { (ids(&v.families_in)?, vec![]) }))
}

/// Facets read from the counters the triggers of migration 3 keep: the
/// sum of the `plus` scopes' counts less the `minus` scopes' (0 is the
/// whole registry, else a family; a family's rows are inside the registry's).
fn counted_facets(tx: &Connection, plus: &[i64], minus: &[i64], tag_keys: &[String]) -> StoreResult<Facets> {
    let json = |ids: &[i64]| serde_json::to_string(ids).map_err(|e| Error::internal(e.to_string()));
    let (plus, minus) = (json(plus)?, json(minus)?);
    let scopes =
        "WITH s (scope, sign) AS (SELECT value, 1 FROM json_each(?1) UNION ALL SELECT value, -1 FROM json_each(?2))";
    let dim = |dim: &str, limit: usize| -> StoreResult<Vec<(String, i64)>> {
        Ok(tx
            .prepare_cached(&format!(
                "{scopes} SELECT c.value, sum(s.sign * c.n) AS total FROM s JOIN facet_counts c ON c.scope = s.scope AND c.dim = ?3
                 GROUP BY c.value HAVING total > 0 ORDER BY total DESC, c.value LIMIT ?4"
            ))?
            .query_map(rusqlite::params![plus, minus, dim, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?)
    };
    let families: Vec<(String, i64)> = tx
        .prepare_cached(&format!(
            "{scopes}, c (value, total) AS (SELECT c.value, sum(s.sign * c.n) FROM s JOIN facet_counts c
                 ON c.scope = s.scope AND c.dim = 'family' GROUP BY c.value)
             SELECT f.name, c.total FROM c JOIN families f ON CAST(f.family_id AS TEXT) = c.value
             WHERE c.total > 0 ORDER BY c.total DESC, f.name"
        ))?
        .query_map(rusqlite::params![plus, minus], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    // A scope's size: the registry's model count, or a family's own count.
    let total: i64 = tx
        .prepare_cached(&format!(
            "{scopes} SELECT coalesce(sum(s.sign * c.n), 0) FROM s JOIN facet_counts c ON c.scope = s.scope
             AND ((s.scope = 0 AND c.dim = 'models' AND c.value = '')
                  OR (s.scope <> 0 AND c.dim = 'family' AND c.value = CAST(s.scope AS TEXT)))"
        ))?
        .query_row(rusqlite::params![plus, minus], |r| r.get(0))?;
    let mut tags = Vec::with_capacity(tag_keys.len());
    for key in tag_keys {
        tags.push((key.clone(), dim(&format!("tag:{key}"), FACET_TAG_VALUES)?));
    }
    Ok(Facets { total, families, aliases: dim("alias", 1000)?, stages: dim("stage", 100)?, tags })
}

/// Facets of a filtered set (within `family`, when the query names one):
/// the matched ids are collected once, then each count walks from them into
/// the child tables by primary key.
fn matched_facets(
    tx: &Connection,
    filter: &Filter,
    family: Option<&str>,
    tag_keys: &[String],
    bound: Option<FacetBound>,
) -> StoreResult<(Facets, bool)> {
    let (mut ids, truncated) = matched_ids(tx, filter, bound)?;
    ids.sort_unstable();
    let total = ids.len() as i64;
    let json_ids = serde_json::to_string(&ids).map_err(|e| Error::internal(e.to_string()))?;
    let matched = "WITH matched (rm_id) AS (SELECT value FROM json_each(?))";
    let counts = |body: &str, extra: &[SqlValue]| -> StoreResult<Vec<(String, i64)>> {
        let mut args = vec![SqlValue::Text(json_ids.clone())];
        args.extend(extra.iter().cloned());
        Ok(tx
            .prepare_cached(&format!("{matched} {body}"))?
            .query_map(params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?)
    };
    let families = match family {
        Some(name) if total > 0 => vec![(name.to_string(), total)],
        Some(_) => Vec::new(),
        None => counts(
            "SELECT f.name, count(*) AS n FROM matched m CROSS JOIN fleet_members fm ON fm.rm_id = m.rm_id
             JOIN families f ON f.family_id = fm.family_id GROUP BY f.family_id ORDER BY n DESC, f.name",
            &[],
        )?,
    };
    let aliases = counts(
        "SELECT a.alias, count(*) AS n FROM matched m CROSS JOIN registered_model_aliases a ON a.rm_id = m.rm_id
         GROUP BY a.alias ORDER BY n DESC, a.alias",
        &[],
    )?;
    let stages = counts(
        "SELECT v.current_stage, count(*) AS n FROM matched m CROSS JOIN model_versions v ON v.rm_id = m.rm_id
         GROUP BY v.current_stage ORDER BY n DESC",
        &[],
    )?;
    let mut tags = Vec::with_capacity(tag_keys.len());
    for key in tag_keys {
        let values = counts(
            &format!(
                "SELECT t.value, count(*) AS n FROM matched m CROSS JOIN registered_model_tags t ON t.rm_id = m.rm_id AND t.key = ?
                 GROUP BY t.value ORDER BY n DESC, t.value LIMIT {FACET_TAG_VALUES}"
            ),
            &[text(key)],
        )?;
        tags.push((key.clone(), values));
    }
    Ok((Facets { total, families, aliases, stages, tags }, truncated))
}

/// The ids of the models `filter` matches; with a `bound`, the first ones
/// read within it, and whether it stopped reading there. The time is checked
/// at every match (a clock read costs far less than a match) and, between
/// matches, counted as SQLite work by the progress handler's allowance.
fn matched_ids(tx: &Connection, filter: &Filter, bound: Option<FacetBound>) -> StoreResult<(Vec<i64>, bool)> {
    let limit = bound.map_or(String::new(), |b| format!(" LIMIT {}", b.matches.max(1) + 1));
    let (from, args) = filter.source_and_args();
    let mut stmt = tx.prepare(&format!("SELECT rm.rm_id FROM {from}{}{limit}", filter.sql))?;
    let mut ids: Vec<i64> = Vec::new();
    let Some(b) = bound else {
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            ids.push(row.get(0)?);
        }
        return Ok((ids, false));
    };
    let started = Instant::now();
    let (read, spent) = crate::budget::with_allowance(search_plan::work_checks(b.time), || -> StoreResult<bool> {
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            if ids.len() as i64 >= b.matches.max(1) || started.elapsed() >= b.time {
                return Ok(true);
            }
            ids.push(row.get(0)?);
        }
        Ok(false)
    });
    match (read, spent) {
        (Ok(truncated), _) => Ok((ids, truncated)),
        // The allowance interrupted the read: what was read is the sample.
        (Err(_), true) => Ok((ids, true)),
        (Err(e), false) => Err(e),
    }
}
