//! Lineage walks on SQLite. Downstream pages walk `dataset_versions` (or
//! `dataset_runs`) by primary key from one dataset, a keyset on
//! `(rm_id, version)` (or `run_key`); totals and family counts are the
//! counters migration 14 maintains, so a dataset shared by 100,000 models
//! answers without counting. Upstream is a primary-key probe of the
//! version's edges. Stale data walks only superseded datasets' edges to
//! versions an alias points at.

use std::collections::HashMap;

use flotilla_core::lineage::{
    Downstream, FamilyCount, LineageRun, LineageVersion, MAX_UPSTREAM_DATASETS, StaleVersion, Upstream,
    UpstreamDataset, context_of,
};
use flotilla_core::model::Page;
use flotilla_core::{Error, VersionNumber};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::json;

use super::datasets::find_entity;
use super::rows::version_at;
use super::{SqliteStore, visible};
use crate::datasets::{Readable, page_size};
use crate::error::StoreResult;
use crate::lineage::{DownstreamOf, DownstreamQuery, LineageStore, StaleQuery};
use crate::paging;

/// Past this many readable rows, a filtered caller's totals say "at least".
const COUNT_CAP: i64 = 10_000;
/// Most families a downstream answer counts.
const MAX_FAMILIES: i64 = 1000;

fn int_at(c: &[serde_json::Value], i: usize) -> StoreResult<i64> {
    c[i].as_i64().ok_or_else(|| Error::invalid("Invalid page token").into())
}

/// The logged models each run made, for a page of runs.
fn logged_models(tx: &Connection, run_ids: &[String]) -> StoreResult<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if run_ids.is_empty() {
        return Ok(out);
    }
    let ids = serde_json::to_string(run_ids).unwrap_or_else(|_| "[]".into());
    let mut stmt = tx.prepare_cached(
        "SELECT source_run_id, model_id FROM logged_models
         WHERE source_run_id IN (SELECT value FROM json_each(?)) ORDER BY creation_time, model_id",
    )?;
    let rows = stmt.query_map([ids], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (run, model) = row?;
        out.entry(run).or_default().push(model);
    }
    Ok(out)
}

fn versions_page(
    tx: &Connection,
    ds_id: i64,
    q: &DownstreamQuery,
    limit: i64,
) -> StoreResult<(Vec<LineageVersion>, Option<String>)> {
    let cursor = paging::decode_opt(q.page.page_token.as_deref(), 2)?;
    let mut args = vec![Value::Integer(ds_id)];
    let mut preds = vec!["dv.ds_id = ?".to_string()];
    if let Some(c) = &cursor {
        let (rm, v) = (int_at(c, 0)?, int_at(c, 1)?);
        preds.push("dv.rm_id >= ? AND (dv.rm_id > ? OR +dv.version > ?)".into());
        args.extend([rm, rm, v].map(Value::Integer));
    }
    if q.aliased_only {
        preds.push(
            "EXISTS (SELECT 1 FROM registered_model_aliases a WHERE a.rm_id = dv.rm_id AND a.version = dv.version)"
                .into(),
        );
    }
    if let Some(p) = visible::models(&q.readable.models, "rm.name", "rm.rm_id", &mut args) {
        preds.push(p);
    }
    args.push(Value::Integer(limit + 1));
    let sql = format!(
        "SELECT rm.name, dv.rm_id, dv.version, dv.context, mv.run_id, mv.model_id, f.name
         FROM dataset_versions dv
         JOIN registered_models rm ON rm.rm_id = dv.rm_id
         JOIN model_versions mv ON mv.rm_id = dv.rm_id AND mv.version = dv.version
         LEFT JOIN fleet_members m ON m.rm_id = dv.rm_id
         LEFT JOIN families f ON f.family_id = m.family_id
         WHERE {} ORDER BY dv.rm_id, dv.version LIMIT ?",
        preds.join(" AND ")
    );
    let mut rows = tx
        .prepare(&sql)?
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(1)?,
                LineageVersion {
                    model: r.get(0)?,
                    version: version_at(r, 2)?,
                    context: context_of(r.get(3)?),
                    run_id: r.get(4)?,
                    model_id: r.get(5)?,
                    family: r.get(6)?,
                    aliases: Vec::new(),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|(rm, v)| paging::encode(&vec![json!(rm), json!(v.version.get())]))
    } else {
        None
    };
    // The aliases pointing at the page's versions now: one statement for the page.
    let ids: Vec<i64> = rows.iter().map(|(rm, _)| *rm).collect();
    let mut aliases: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    if !ids.is_empty() {
        let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        let mut stmt = tx.prepare_cached(
            "SELECT rm_id, version, alias FROM registered_model_aliases
             WHERE rm_id IN (SELECT value FROM json_each(?)) ORDER BY rm_id, alias",
        )?;
        let found =
            stmt.query_map([ids], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
        for row in found {
            let (rm, v, alias) = row?;
            aliases.entry((rm, v)).or_default().push(alias);
        }
    }
    let versions = rows
        .into_iter()
        .map(|(rm, mut v)| {
            v.aliases = aliases.remove(&(rm, v.version.get())).unwrap_or_default();
            v
        })
        .collect();
    Ok((versions, next))
}

fn runs_page(
    tx: &Connection,
    ds_id: i64,
    q: &DownstreamQuery,
    limit: i64,
) -> StoreResult<(Vec<LineageRun>, Option<String>)> {
    let cursor = paging::decode_opt(q.page.page_token.as_deref(), 1)?;
    let mut args = vec![Value::Integer(ds_id)];
    let mut preds = vec!["du.ds_id = ?".to_string()];
    if let Some(c) = &cursor {
        preds.push("du.run_key > ?".into());
        args.push(Value::Integer(int_at(c, 0)?));
    }
    if let Some(p) = visible::experiments(&q.readable.experiments, "r.experiment_id", &mut args) {
        preds.push(p);
    }
    args.push(Value::Integer(limit + 1));
    let sql = format!(
        "SELECT du.run_key, r.run_uuid, r.experiment_id, r.name, du.context
         FROM dataset_runs du JOIN runs r ON r.run_key = du.run_key
         WHERE {} ORDER BY du.run_key LIMIT ?",
        preds.join(" AND ")
    );
    let mut rows = tx
        .prepare(&sql)?
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                LineageRun {
                    run_id: r.get(1)?,
                    experiment_id: r.get::<_, i64>(2)?.to_string(),
                    run_name: r.get(3)?,
                    context: context_of(r.get(4)?),
                    logged_models: Vec::new(),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|(k, _)| paging::encode(&vec![json!(k)]))
    } else {
        None
    };
    let ids: Vec<String> = rows.iter().map(|(_, r)| r.run_id.clone()).collect();
    let mut models = logged_models(tx, &ids)?;
    let runs = rows
        .into_iter()
        .map(|(_, mut r)| {
            r.logged_models = models.remove(&r.run_id).unwrap_or_default();
            r
        })
        .collect();
    Ok((runs, next))
}

/// Readable versions and runs of a dataset, counted up to [`COUNT_CAP`].
fn capped_totals(tx: &Connection, ds_id: i64, readable: &Readable) -> StoreResult<(i64, i64)> {
    let mut args = vec![Value::Integer(ds_id)];
    let models = visible::models(&readable.models, "rm.name", "rm.rm_id", &mut args).unwrap_or_else(|| "1".into());
    args.push(Value::Integer(COUNT_CAP + 1));
    let versions: i64 = tx
        .prepare(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM dataset_versions dv JOIN registered_models rm ON rm.rm_id = dv.rm_id
         WHERE dv.ds_id = ? AND {models} LIMIT ? + 0)"
        ))?
        .query_row(params_from_iter(args), |r| r.get(0))?;
    let mut args = vec![Value::Integer(ds_id)];
    let exps = visible::experiments(&readable.experiments, "r.experiment_id", &mut args).unwrap_or_else(|| "1".into());
    args.push(Value::Integer(COUNT_CAP + 1));
    let runs: i64 = tx
        .prepare(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM dataset_runs du JOIN runs r ON r.run_key = du.run_key
             WHERE du.ds_id = ? AND {exps} LIMIT ? + 0)"
        ))?
        .query_row(params_from_iter(args), |r| r.get(0))?;
    Ok((versions, runs))
}

fn family_counts(tx: &Connection, ds_id: i64, readable: &Readable) -> StoreResult<Vec<FamilyCount>> {
    let families = tx
        .prepare_cached(
            "SELECT f.name, c.versions FROM dataset_family_counts c JOIN families f ON f.family_id = c.family_id
             WHERE c.ds_id = ? AND c.versions > 0 ORDER BY c.versions DESC, f.name LIMIT ?",
        )?
        .query_map(params![ds_id, MAX_FAMILIES], |r| Ok(FamilyCount { family: r.get(0)?, versions: r.get(1)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    // A family's count is shown to a caller who reads the family (its default, named like it).
    Ok(families.into_iter().filter(|f| readable.models.admits(&f.family, Some(&f.family))).collect())
}

impl LineageStore for SqliteStore {
    fn downstream(&self, q: &DownstreamQuery) -> StoreResult<Downstream> {
        let limit = page_size(&q.page)?;
        self.read(|tx| {
            let (ds_id, dataset) = find_entity(tx, &q.name, &q.digest, &q.readable)?;
            let (total_versions, total_runs, totals_capped) = if q.readable.is_everything() {
                (dataset.version_count, dataset.run_count, false)
            } else {
                let (v, r) = capped_totals(tx, ds_id, &q.readable)?;
                (v.min(COUNT_CAP), r.min(COUNT_CAP), v > COUNT_CAP || r > COUNT_CAP)
            };
            let families = family_counts(tx, ds_id, &q.readable)?;
            let mut answer = Downstream {
                dataset,
                total_versions,
                total_runs,
                totals_capped,
                families,
                versions: None,
                runs: None,
                next_page_token: None,
            };
            match q.of {
                DownstreamOf::Versions => {
                    let (versions, next) = versions_page(tx, ds_id, q, limit)?;
                    answer.versions = Some(versions);
                    answer.next_page_token = next;
                }
                DownstreamOf::Runs => {
                    let (runs, next) = runs_page(tx, ds_id, q, limit)?;
                    answer.runs = Some(runs);
                    answer.next_page_token = next;
                }
            }
            Ok(answer)
        })
    }

    fn upstream(&self, model: &str, version: VersionNumber, readable: &Readable) -> StoreResult<Upstream> {
        self.read(|tx| {
            let rm_id = super::registry::rm_id(tx, model)?;
            let mut args = vec![Value::Integer(rm_id)];
            if let Some(p) = visible::models(&readable.models, "rm.name", "rm.rm_id", &mut args) {
                let seen: Option<i64> = tx
                    .prepare(&format!("SELECT 1 FROM registered_models rm WHERE rm.rm_id = ? AND {p}"))?
                    .query_row(params_from_iter(args), |r| r.get(0))
                    .optional()?;
                if seen.is_none() {
                    return Err(Error::permission_denied(format!("Permission denied: cannot read model '{model}'")).into());
                }
            }
            let found: Option<(Option<String>, Option<String>)> = tx
                .prepare_cached("SELECT run_id, model_id FROM model_versions WHERE rm_id = ? AND version = ?")?
                .query_row(params![rm_id, version.get()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((run_id, model_id)) = found else {
                return Err(Error::not_found(format!("Model Version (name={model}, version={version}) not found")).into());
            };
            let run = match &run_id {
                None => None,
                Some(id) => tx
                    .prepare_cached("SELECT run_uuid, experiment_id, name FROM runs WHERE run_uuid = ?")?
                    .query_row([id], |r| {
                        Ok(LineageRun {
                            run_id: r.get(0)?,
                            experiment_id: r.get::<_, i64>(1)?.to_string(),
                            run_name: r.get(2)?,
                            context: None,
                            logged_models: Vec::new(),
                        })
                    })
                    .optional()?
                    .filter(|r| readable.experiments.admits(&r.experiment_id, None)),
            };
            let run = match run {
                None => None,
                Some(mut r) => {
                    r.logged_models = logged_models(tx, std::slice::from_ref(&r.run_id))?.remove(&r.run_id).unwrap_or_default();
                    Some(r)
                }
            };
            let mut stmt = tx.prepare_cached(
                "SELECT de.name, de.digest, de.source_type, de.source, dv.context, r.run_uuid, r.experiment_id,
                        EXISTS (SELECT 1 FROM dataset_entities n WHERE n.name = de.name AND (n.creation_time > de.creation_time
                                OR (n.creation_time = de.creation_time AND n.ds_id > de.ds_id)))
                 FROM dataset_versions dv JOIN dataset_entities de ON de.ds_id = dv.ds_id
                 LEFT JOIN runs r ON r.run_key = dv.run_key
                 WHERE dv.rm_id = ? AND dv.version = ? ORDER BY de.name, de.digest LIMIT ?",
            )?;
            let datasets = stmt
                .query_map(params![rm_id, version.get(), MAX_UPSTREAM_DATASETS], |r| {
                    let experiment: Option<i64> = r.get(6)?;
                    // A run the caller may not read is not named.
                    let run_id = r
                        .get::<_, Option<String>>(5)?
                        .filter(|_| experiment.is_some_and(|e| readable.experiments.admits(&e.to_string(), None)));
                    Ok(UpstreamDataset {
                        name: r.get(0)?,
                        digest: r.get(1)?,
                        source_type: r.get(2)?,
                        source: r.get(3)?,
                        context: context_of(r.get(4)?),
                        run_id,
                        superseded: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Upstream { model: model.to_string(), version, model_id, run, datasets })
        })
    }

    fn stale_versions(&self, q: &StaleQuery) -> StoreResult<Page<StaleVersion>> {
        let limit = page_size(&q.page)?;
        let cursor = paging::decode_opt(q.page.page_token.as_deref(), 4)?;
        let mut args = Vec::new();
        let mut preds = vec![
            "EXISTS (SELECT 1 FROM dataset_entities n WHERE n.name = de.name AND (n.creation_time > de.creation_time \
             OR (n.creation_time = de.creation_time AND n.ds_id > de.ds_id)))"
                .to_string(),
        ];
        if let Some(c) = &cursor {
            let (ds, rm, v) = (int_at(c, 0)?, int_at(c, 1)?, int_at(c, 2)?);
            let alias = c[3].as_str().ok_or_else(|| Error::invalid("Invalid page token"))?.to_string();
            preds.push(
                "de.ds_id >= ? AND (de.ds_id > ? OR +dv.rm_id > ? OR (+dv.rm_id = ? AND (+dv.version > ? \
                 OR (+dv.version = ? AND +a.alias > ?))))"
                    .into(),
            );
            args.extend([ds, ds, rm, rm, v, v].map(Value::Integer));
            args.push(Value::Text(alias));
        }
        if let Some(context) = &q.context {
            // `+`: SQLite 3.50 would otherwise build an automatic index on the
            // context over every edge and sort (30 s at 10⁶ models, not 1 ms).
            preds.push("+dv.context = ?".into());
            args.push(Value::Text(context.clone()));
        }
        if let Some(alias) = &q.alias {
            preds.push("a.alias = ?".into());
            args.push(Value::Text(alias.clone()));
        }
        if let Some(p) = visible::models(&q.readable.models, "rm.name", "rm.rm_id", &mut args) {
            preds.push(p);
        }
        args.push(Value::Integer(limit + 1));
        // CROSS JOIN keeps the walk in (dataset, model, version, alias) order: the keyset's.
        let sql = format!(
            "SELECT de.ds_id, dv.rm_id, dv.version, a.alias, rm.name, de.name, de.digest, dv.context, f.name,
                    (SELECT n.digest FROM dataset_entities n WHERE n.name = de.name
                     ORDER BY n.creation_time DESC, n.ds_id DESC LIMIT 1)
             FROM dataset_entities de
             CROSS JOIN dataset_versions dv ON dv.ds_id = de.ds_id
             CROSS JOIN registered_model_aliases a ON a.rm_id = dv.rm_id AND a.version = dv.version
             JOIN registered_models rm ON rm.rm_id = dv.rm_id
             LEFT JOIN fleet_members m ON m.rm_id = dv.rm_id
             LEFT JOIN families f ON f.family_id = m.family_id
             WHERE {} ORDER BY de.ds_id, dv.rm_id, dv.version, a.alias LIMIT ?",
            preds.join(" AND ")
        );
        self.read(|tx| {
            let mut rows = tx
                .prepare(&sql)?
                .query_map(params_from_iter(args), |r| {
                    Ok((
                        [r.get::<_, i64>(0)?, r.get::<_, i64>(1)?],
                        StaleVersion {
                            version: version_at(r, 2)?,
                            alias: r.get(3)?,
                            model: r.get(4)?,
                            dataset: r.get(5)?,
                            digest: r.get(6)?,
                            context: context_of(r.get(7)?),
                            family: r.get(8)?,
                            newest_digest: r.get(9)?,
                        },
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let next_page_token = if rows.len() as i64 > limit {
                rows.truncate(limit as usize);
                rows.last().map(|([ds, rm], s)| {
                    paging::encode(&vec![json!(ds), json!(rm), json!(s.version.get()), json!(s.alias)])
                })
            } else {
                None
            };
            Ok(Page { items: rows.into_iter().map(|(_, s)| s).collect(), next_page_token })
        })
    }
}
