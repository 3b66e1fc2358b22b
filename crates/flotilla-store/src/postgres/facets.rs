//! Facet counts of a fleet search on PostgreSQL (as `sqlite/facets.rs`):
//! from the counters migration 3's triggers keep when the query is a whole
//! family or the registry under a readable set of whole families, else by
//! counting the matched models, all of them or those read within a
//! [`FacetBound`].

use std::time::Instant;

use flotilla_core::Error;
use flotilla_core::fleet::{Facets, FleetQuery};
use postgres::fallible_iterator::FallibleIterator;

use super::fleet_search::build_filter;
use super::fleet_sql::Sql;
use super::{PgStore, Tx, families};
use crate::error::StoreResult;
use crate::insights::FacetBound;
use crate::sqlite::fleet_search::validate;

const FACET_TAG_VALUES: i64 = 20;

impl PgStore {
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
            let unfiltered = FleetQuery {
                family: q.family.clone(),
                sort: q.sort.clone(),
                max_results: q.max_results,
                page_token: q.page_token.clone(),
                visible: q.visible.clone(),
                ..FleetQuery::default()
            };
            if *q == unfiltered
                && let Some((plus, minus)) = counted_scopes(tx, q)?
            {
                return Ok((counted_facets(tx, &plus, &minus, tag_keys)?, false));
            }
            matched_facets(tx, q, tag_keys, bound)
        })
    }
}

/// The counter scopes that add up to an unfiltered query's facets under its
/// readable set (0 is the registry, else a family id), or `None` when the
/// set names models one by one (see SQLite's `counted_scopes`).
fn counted_scopes(tx: &mut Tx<'_>, q: &FleetQuery) -> StoreResult<Option<(Vec<i64>, Vec<i64>)>> {
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
    let mut ids = |names: &[String]| -> StoreResult<Vec<i64>> {
        let names = names.to_vec();
        Ok(tx
            .query("SELECT family_id FROM families WHERE name = ANY($1)", &[&names])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    };
    Ok(Some(if v.all { (vec![0], ids(&v.families_out)?) } else { (ids(&v.families_in)?, vec![]) }))
}

const SCOPES: &str =
    "WITH s (scope, sign) AS (SELECT unnest($1::BIGINT[]), 1 UNION ALL SELECT unnest($2::BIGINT[]), -1)";

/// Facets read from the counters: the `plus` scopes' counts less the `minus` scopes'.
fn counted_facets(tx: &mut Tx<'_>, plus: &[i64], minus: &[i64], tag_keys: &[String]) -> StoreResult<Facets> {
    let (plus, minus) = (plus.to_vec(), minus.to_vec());
    let mut dim = |dim: &str, limit: i64| -> StoreResult<Vec<(String, i64)>> {
        let sql = format!(
            "{SCOPES} SELECT c.value, sum(s.sign * c.n)::BIGINT AS total FROM s JOIN facet_counts c
             ON c.scope = s.scope AND c.dim = $3
             GROUP BY c.value HAVING sum(s.sign * c.n) > 0 ORDER BY total DESC, c.value LIMIT $4"
        );
        Ok(tx.query(&sql, &[&plus, &minus, &dim, &limit])?.iter().map(|r| (r.get(0), r.get(1))).collect())
    };
    let aliases = dim("alias", 1000)?;
    let stages = dim("stage", 100)?;
    let mut tags = Vec::with_capacity(tag_keys.len());
    for key in tag_keys {
        tags.push((key.clone(), dim(&format!("tag:{key}"), FACET_TAG_VALUES)?));
    }
    let families = tx
        .query(
            &format!(
                "{SCOPES}, c (value, total) AS (SELECT c.value, sum(s.sign * c.n)::BIGINT FROM s JOIN facet_counts c
                     ON c.scope = s.scope AND c.dim = 'family' GROUP BY c.value)
                 SELECT f.name, c.total FROM c JOIN families f ON f.family_id::TEXT = c.value
                 WHERE c.total > 0 ORDER BY c.total DESC, f.name"
            ),
            &[&plus, &minus],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // A scope's size: the registry's model count, or a family's own count.
    let total: i64 = tx
        .query_one(
            &format!(
                "{SCOPES} SELECT coalesce(sum(s.sign * c.n), 0)::BIGINT FROM s JOIN facet_counts c ON c.scope = s.scope
                 AND ((s.scope = 0 AND c.dim = 'models' AND c.value = '')
                      OR (s.scope <> 0 AND c.dim = 'family' AND c.value = s.scope::TEXT))"
            ),
            &[&plus, &minus],
        )?
        .get(0);
    Ok(Facets { total, families, aliases, stages, tags })
}

/// Facets of a filtered set: the matched ids are collected once (within the
/// bound, if any), then each count joins from them into a child table.
fn matched_facets(
    tx: &mut Tx<'_>,
    q: &FleetQuery,
    tag_keys: &[String],
    bound: Option<FacetBound>,
) -> StoreResult<(Facets, bool)> {
    let mut s = Sql::default();
    build_filter(tx, q, false, &mut s)?;
    let limit = bound.map_or(String::new(), |b| format!(" LIMIT {}", b.matches.max(1) + 1));
    let sql = format!("SELECT rm.rm_id FROM registered_models rm{}{limit}", s.where_clause());
    let started = Instant::now();
    let mut ids: Vec<i64> = Vec::new();
    let mut truncated = false;
    {
        let mut rows = tx.raw().query_raw(&sql, s.params())?;
        while let Some(row) = rows.next()? {
            if let Some(b) = bound {
                // Checked at every match: a clock read costs far less than one.
                if ids.len() as i64 >= b.matches.max(1) || started.elapsed() >= b.time {
                    truncated = true;
                    break;
                }
            }
            ids.push(row.get(0));
        }
    }
    let total = ids.len() as i64;
    let mut counts = |body: &str, key: Option<&str>| -> StoreResult<Vec<(String, i64)>> {
        let sql = format!("WITH matched (rm_id) AS (SELECT unnest($1::BIGINT[])) {body}");
        let rows = match key {
            Some(key) => tx.query(&sql, &[&ids, &key])?,
            None => tx.query(&sql, &[&ids])?,
        };
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    };
    let families = counts(
        "SELECT f.name, count(*) AS n FROM matched m JOIN fleet_members fm ON fm.rm_id = m.rm_id
         JOIN families f ON f.family_id = fm.family_id GROUP BY f.name ORDER BY n DESC, f.name",
        None,
    )?;
    let aliases = counts(
        "SELECT a.alias, count(*) AS n FROM matched m JOIN registered_model_aliases a ON a.rm_id = m.rm_id
         GROUP BY a.alias ORDER BY n DESC, a.alias",
        None,
    )?;
    let stages = counts(
        "SELECT v.current_stage, count(*) AS n FROM matched m JOIN model_versions v ON v.rm_id = m.rm_id
         GROUP BY v.current_stage ORDER BY n DESC, v.current_stage",
        None,
    )?;
    let mut tags = Vec::with_capacity(tag_keys.len());
    for key in tag_keys {
        let values = counts(
            &format!(
                "SELECT t.value, count(*) AS n FROM matched m JOIN registered_model_tags t
                 ON t.rm_id = m.rm_id AND t.key = $2
                 GROUP BY t.value ORDER BY n DESC, t.value LIMIT {FACET_TAG_VALUES}"
            ),
            Some(key),
        )?;
        tags.push((key.clone(), values));
    }
    Ok((Facets { total, families, aliases, stages, tags }, truncated))
}
