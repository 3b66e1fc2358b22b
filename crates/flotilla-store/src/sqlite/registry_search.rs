//! Registry reads at page granularity: whole registered models and versions
//! for a page of keys (a fixed number of queries per page), and the clauses
//! and orders of the two registry searches as SQL (the searches themselves,
//! keyset-paged, are in `registry.rs`).

use std::collections::HashMap;

use flotilla_core::Error;
use flotilla_core::filter::{Attr, Clause, Comparator, Entity, Field, Operand, OrderBy};
use flotilla_core::model::{ModelVersion, ModelVersionStatus, RegisteredModel, RegisteredModelAlias, Tag};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::filter_sql::{self, MissingKey};
use super::fleet_search::{fts_phrase, trigram_probe};
use super::keyset::SortKey;
use super::rows;
use crate::error::StoreResult;

/// Above this version number a model's `latest_versions` is found by index seeks per stage.
const MANY_VERSIONS: i64 = 64;

pub(crate) fn registered_models_by_ids(tx: &Connection, ids: &[i64]) -> StoreResult<Vec<RegisteredModel>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = rows::id_list(ids);
    let mut models: HashMap<i64, RegisteredModel> = HashMap::with_capacity(ids.len());
    let mut stmt = tx.prepare_cached(
        "SELECT rm_id, name, creation_time, last_update_time, description, user_id, next_version FROM registered_models
         WHERE rm_id IN (SELECT value FROM json_each(?))",
    )?;
    let mut rs = stmt.query([&list])?;
    // Models whose version numbers pass MANY_VERSIONS (numbers are never
    // reused, so `next_version` bounds them).
    let mut many: Vec<i64> = Vec::new();
    while let Some(r) = rs.next()? {
        if r.get::<_, i64>(6)? - 1 > MANY_VERSIONS {
            many.push(r.get(0)?);
        }
        models.insert(
            r.get(0)?,
            RegisteredModel {
                name: r.get(1)?,
                creation_timestamp: r.get(2)?,
                last_updated_timestamp: r.get(3)?,
                description: r.get(4)?,
                user_id: r.get(5)?,
                latest_versions: Vec::new(),
                tags: Vec::new(),
                aliases: Vec::new(),
            },
        );
    }
    let mut stmt = tx.prepare_cached(
        "SELECT rm_id, key, value FROM registered_model_tags WHERE rm_id IN (SELECT value FROM json_each(?)) ORDER BY rm_id, key",
    )?;
    let mut rs = stmt.query([&list])?;
    while let Some(r) = rs.next()? {
        if let Some(m) = models.get_mut(&r.get(0)?) {
            m.tags.push(Tag::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?));
        }
    }
    let mut stmt = tx.prepare_cached(
        "SELECT rm_id, alias, version FROM registered_model_aliases WHERE rm_id IN (SELECT value FROM json_each(?)) ORDER BY rm_id, alias",
    )?;
    let mut rs = stmt.query([&list])?;
    while let Some(r) = rs.next()? {
        if let Some(m) = models.get_mut(&r.get(0)?) {
            m.aliases.push(RegisteredModelAlias { alias: r.get(1)?, version: rows::version_at(r, 2)? });
        }
    }
    // The latest version in each stage, as MLflow's `latest_versions`. Most models have a few
    // versions, and one GROUP BY over them is cheapest; a model whose version numbers pass
    // MANY_VERSIONS would make it read every version, so those get one seek to the end of the
    // (model, stage) index range per stage instead.
    many.sort_unstable();
    let many_list = serde_json::to_string(&many).map_err(|e| Error::internal(e.to_string()))?;
    let mut latest: Vec<(i64, i64)> = tx
        .prepare_cached(
            "SELECT rm_id, MAX(version) FROM model_versions
             WHERE rm_id IN (SELECT value FROM json_each(?)) AND rm_id NOT IN (SELECT value FROM json_each(?))
             GROUP BY rm_id, current_stage",
        )?
        .query_map([&list, &many_list], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if !many.is_empty() {
        let stages =
            serde_json::to_string(&flotilla_core::model::STAGES).map_err(|e| Error::internal(e.to_string()))?;
        let per_stage: Vec<(i64, Option<i64>)> = tx
            .prepare_cached(
                "SELECT j.value, (SELECT max(v.version) FROM model_versions v
                                  WHERE v.rm_id = j.value AND v.current_stage = s.value)
                 FROM json_each(?) j CROSS JOIN json_each(?) s",
            )?
            .query_map([&many_list, &stages], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        latest.extend(per_stage.into_iter().filter_map(|(id, v)| Some((id, v?))));
    }
    latest.sort_unstable();
    for ((id, _), v) in versions_keyed(tx, &latest, Some(&models))? {
        if let Some(m) = models.get_mut(&id) {
            m.latest_versions.push(v);
        }
    }
    Ok(ids.iter().filter_map(|id| models.remove(id)).collect())
}

pub(crate) fn versions_by_keys(tx: &Connection, keys: &[(i64, i64)]) -> StoreResult<Vec<ModelVersion>> {
    Ok(versions_keyed(tx, keys, None)?.into_iter().map(|(_, v)| v).collect())
}

/// Loads versions for `(rm_id, version)` keys, in key order, with their tags
/// and aliases; keys that no longer exist are skipped. `models`, when the
/// caller has loaded the versions' models with their aliases, gives their
/// names and aliases instead of reading them again.
fn versions_keyed(
    tx: &Connection,
    keys: &[(i64, i64)],
    models: Option<&HashMap<i64, RegisteredModel>>,
) -> StoreResult<Vec<((i64, i64), ModelVersion)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
    let mut versions: HashMap<(i64, i64), ModelVersion> = HashMap::with_capacity(keys.len());
    let mut stmt = tx.prepare_cached(match models {
        Some(_) => {
            "SELECT mv.rm_id, mv.version, '', mv.creation_time, mv.last_update_time, mv.user_id, mv.current_stage,
                    mv.description, mv.source, mv.run_id, mv.status, mv.status_message, mv.run_link, mv.model_id
             FROM json_each(?) j
             JOIN model_versions mv ON mv.rm_id = json_extract(j.value, '$[0]') AND mv.version = json_extract(j.value, '$[1]')"
        }
        None => {
            "SELECT mv.rm_id, mv.version, rm.name, mv.creation_time, mv.last_update_time, mv.user_id, mv.current_stage,
                    mv.description, mv.source, mv.run_id, mv.status, mv.status_message, mv.run_link, mv.model_id
             FROM json_each(?) j
             JOIN model_versions mv ON mv.rm_id = json_extract(j.value, '$[0]') AND mv.version = json_extract(j.value, '$[1]')
             JOIN registered_models rm ON rm.rm_id = mv.rm_id"
        }
    })?;
    let mut rs = stmt.query([&list])?;
    while let Some(r) = rs.next()? {
        let rm_id: i64 = r.get(0)?;
        let name = match models.and_then(|m| m.get(&rm_id)) {
            Some(model) => model.name.clone(),
            None => r.get(2)?,
        };
        let status = match r.get::<_, String>(10)?.as_str() {
            "PENDING_REGISTRATION" => ModelVersionStatus::PendingRegistration,
            "FAILED_REGISTRATION" => ModelVersionStatus::FailedRegistration,
            _ => ModelVersionStatus::Ready,
        };
        versions.insert(
            (rm_id, r.get(1)?),
            ModelVersion {
                version: rows::version_at(r, 1)?,
                name,
                creation_timestamp: r.get(3)?,
                last_updated_timestamp: r.get(4)?,
                user_id: r.get(5)?,
                current_stage: r.get(6)?,
                description: r.get(7)?,
                source: r.get(8)?,
                run_id: r.get(9)?,
                status,
                status_message: r.get(11)?,
                tags: Vec::new(),
                run_link: r.get(12)?,
                aliases: Vec::new(),
                model_id: r.get(13)?,
            },
        );
    }
    let mut stmt = tx.prepare_cached(
        "SELECT t.rm_id, t.version, t.key, t.value FROM json_each(?) j
         JOIN model_version_tags t ON t.rm_id = json_extract(j.value, '$[0]') AND t.version = json_extract(j.value, '$[1]')
         ORDER BY t.rm_id, t.version, t.key",
    )?;
    let mut rs = stmt.query([&list])?;
    while let Some(r) = rs.next()? {
        if let Some(v) = versions.get_mut(&(r.get(0)?, r.get(1)?)) {
            v.tags.push(Tag::new(r.get::<_, String>(2)?, r.get::<_, String>(3)?));
        }
    }
    match models {
        // The models' aliases are sorted by alias: each version's come out sorted too.
        Some(models) => {
            for ((rm_id, version), v) in versions.iter_mut() {
                let Some(model) = models.get(rm_id) else { continue };
                let on_version = model.aliases.iter().filter(|a| a.version.get() == *version);
                v.aliases.extend(on_version.map(|a| a.alias.clone()));
            }
        }
        None => {
            let mut stmt = tx.prepare_cached(
                "SELECT a.rm_id, a.version, a.alias FROM json_each(?) j
                 JOIN registered_model_aliases a ON a.rm_id = json_extract(j.value, '$[0]') AND a.version = json_extract(j.value, '$[1]')
                 ORDER BY a.rm_id, a.version, a.alias",
            )?;
            let mut rs = stmt.query([&list])?;
            while let Some(r) = rs.next()? {
                if let Some(v) = versions.get_mut(&(r.get(0)?, r.get(1)?)) {
                    v.aliases.push(r.get(2)?);
                }
            }
        }
    }
    Ok(keys.iter().filter_map(|k| versions.remove(k).map(|v| (*k, v))).collect())
}

pub(super) fn order_keys(
    entity: Entity,
    orders: &[OrderBy],
    defaults: &[SortKey],
    tiebreak: &[SortKey],
) -> StoreResult<Vec<SortKey>> {
    let mut keys = Vec::new();
    for o in orders {
        let columns: &[(Attr, &str)] = if entity == Entity::RegisteredModels {
            &[
                (Attr::Name, "rm.name"),
                (Attr::CreationTime, "rm.creation_time"),
                (Attr::LastUpdateTime, "rm.last_update_time"),
            ]
        } else {
            &[
                (Attr::Name, "rm.name"),
                (Attr::CreationTime, "mv.creation_time"),
                (Attr::LastUpdateTime, "mv.last_update_time"),
                (Attr::VersionNumber, "mv.version"),
            ]
        };
        let expr = match &o.field {
            Field::Attr(a) => filter_sql::attr_column(*a, columns, "ordering")?,
            Field::Metric(_) | Field::Param(_) | Field::Tag(_) | Field::Dataset(_) => {
                return Err(filter_sql::unsupported(&o.field, "ordering"));
            }
        };
        keys.push(SortKey { expr: expr.into(), desc: !o.ascending });
    }
    if keys.is_empty() {
        keys.extend_from_slice(defaults);
    }
    for k in tiebreak {
        if !keys.iter().any(|have| have.expr == k.expr) {
            keys.push(k.clone());
        }
    }
    Ok(keys)
}

/// What a registered-model search's name pattern is planned with: the
/// page's size and the planning's relative cost of walking.
#[derive(Debug, Clone, Copy)]
pub(super) struct NamePlan {
    /// Rows the page asks for (its size and one more, for the next token).
    pub(super) page_rows: usize,
    /// `SearchPlanning::name_walk_cost`: a walked row's cost in driven rows.
    pub(super) walk_cost: f64,
}

impl NamePlan {
    /// A plan that never reads the trigram candidates (the pattern is tested on each row).
    pub(super) const WALK: Self = Self { page_rows: 0, walk_cost: 0.0 };
}

pub(super) fn registered_model_clause(
    tx: &Connection,
    c: &Clause,
    plan: NamePlan,
    args: &mut Vec<Value>,
) -> StoreResult<String> {
    match &c.field {
        Field::Attr(a) => {
            let column = filter_sql::attr_column(*a, &[(Attr::Name, "rm.name")], "registered models")?;
            let drive = match name_candidates(tx, c, plan)? {
                Some(phrase) => {
                    args.push(Value::Text(phrase));
                    "rm.rm_id IN (SELECT rowid FROM registered_model_names WHERE registered_model_names MATCH ?) AND "
                }
                None => "",
            };
            Ok(format!("{drive}{}", filter_sql::compare(column, c, args)?))
        }
        Field::Tag(key) => {
            filter_sql::key_value("registered_model_tags", "kv.rm_id = rm.rm_id", key, c, MissingKey::Matches, args)
        }
        Field::Metric(_) | Field::Param(_) | Field::Dataset(_) => {
            Err(filter_sql::unsupported(&c.field, "registered models"))
        }
    }
}

/// For `name LIKE '%…%'` and `name ILIKE …`: the trigram-index phrase whose
/// matches hold every name the pattern can match, when reading those
/// candidates costs less than walking the sort order to fill the page (the
/// pattern is still checked on each candidate).
///
/// The two plans' costs move in opposite directions with the candidates'
/// number `n` in a registry of `N` names: driving reads `n` candidates (a
/// row fetch, the pattern and any other clause each, then a sort: 1.7 µs a
/// candidate at 10⁶ models, in SQLite CPU time); walking reads about
/// `page × N / n` name-index entries before `page` of them match (0.16 µs
/// each: the entry holds the name, and the other clauses run on matches
/// only). So the index drives when `n² < walk_cost × page × N`, and a first
/// page reads at most about `√(walk_cost × page × N)` candidates' worth,
/// whatever the pattern: at 10⁶ names and a page of 101, some 3,200 (about
/// 5.4 ms). `%ddd%` (3,700 to 14,000 candidates) walks: 1.6 ms median, 4.3 ms
/// p99 over random digits; driving it cost 7.2 / 21 ms. A pattern in 2,000
/// names, which walked some 50,000 entries (~8 ms at those rates), now
/// drives (~3.4 ms). A case-sensitive LIKE without a leading wildcard is a
/// range on the name index already.
fn name_candidates(tx: &Connection, c: &Clause, plan: NamePlan) -> StoreResult<Option<String>> {
    let (Field::Attr(Attr::Name), Operand::Str(pattern)) = (&c.field, &c.value) else { return Ok(None) };
    let seeks = match c.cmp {
        Comparator::Like => pattern.starts_with(['%', '_']),
        Comparator::ILike => true,
        Comparator::Eq
        | Comparator::Ne
        | Comparator::Gt
        | Comparator::Ge
        | Comparator::Lt
        | Comparator::Le
        | Comparator::In
        | Comparator::NotIn
        | Comparator::IsNull
        | Comparator::IsNotNull => false,
    };
    let Some(probe) = like_probe(pattern).filter(|_| seeks && plan.walk_cost > 0.0) else { return Ok(None) };
    let phrase = fts_phrase(probe);
    // An upper bound on the registry's size, read in one seek (deleted
    // models only make a walk look dearer than it is).
    let registry: i64 =
        tx.prepare_cached("SELECT coalesce(max(rm_id), 0) FROM registered_models")?.query_row([], |r| r.get(0))?;
    let crossover = drive_crossover(plan, registry);
    let n = super::counted::count_upto(
        tx,
        "registered_model_names WHERE registered_model_names MATCH ?",
        &[rusqlite::types::Value::Text(phrase.clone())],
        crossover,
    )?;
    Ok((n < crossover).then_some(phrase))
}

/// The candidates' number below which they drive the page: `√(walk_cost ×
/// page × N)` (a walk cost of zero never drives, an infinite one always).
fn drive_crossover(plan: NamePlan, registry: i64) -> i64 {
    let rows = plan.walk_cost * plan.page_rows as f64 * registry.max(1) as f64;
    // A float-to-int `as` saturates: infinity is i64::MAX, NaN is 0.
    rows.sqrt() as i64
}

/// The piece of a LIKE pattern to look up in the trigram index: of its
/// literal runs (between `%` and `_`), the longest, narrowed to its rarest
/// part as in the fleet search; `None` if no piece has the three characters
/// a trigram needs. The index folds case (a superset of LIKE's and ILIKE's
/// ASCII folding), so its matches hold every name the pattern matches.
fn like_probe(pattern: &str) -> Option<&str> {
    let longest = pattern.split(['%', '_']).max_by_key(|run| run.chars().count())?;
    let probe = trigram_probe(longest);
    (probe.chars().count() >= 3 && !probe.chars().any(char::is_control)).then_some(probe)
}

/// Version columns that are non-NULL integers with an index of their own.
pub(super) const VERSION_TIMESTAMPS: &[&str] = &["mv.last_update_time", "mv.creation_time"];

const VERSION_COLUMNS: &[(Attr, &str)] = &[
    (Attr::Name, "rm.name"),
    (Attr::VersionNumber, "mv.version"),
    (Attr::RunId, "mv.run_id"),
    (Attr::SourcePath, "mv.source"),
];

pub(super) fn model_version_clause(c: &Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    match &c.field {
        Field::Attr(a) => filter_sql::compare(filter_sql::attr_column(*a, VERSION_COLUMNS, "model versions")?, c, args),
        Field::Tag(key) => filter_sql::key_value(
            "model_version_tags",
            "kv.rm_id = mv.rm_id AND kv.version = mv.version",
            key,
            c,
            MissingKey::Matches,
            args,
        ),
        Field::Metric(_) | Field::Param(_) | Field::Dataset(_) => {
            Err(filter_sql::unsupported(&c.field, "model versions"))
        }
    }
}
