//! The model registry: registered models, versions, tags, aliases and stages,
//! and the two registry searches (their clauses and orders become SQL in
//! `registry_search.rs`).

use std::sync::atomic::Ordering;

use flotilla_core::filter::Entity;
use flotilla_core::model::{ModelVersion, Page, RegisteredModel, Tag, canonical_stage};
use flotilla_core::{Error, VersionNumber, validation};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::keyset::{self, SortKey};
use super::registry_search::{
    NamePlan, VERSION_TIMESTAMPS, model_version_clause, order_keys, registered_model_clause, registered_models_by_ids,
    versions_by_keys,
};
use super::{SqliteStore, aliases, audit, families, name_order, now_ms, rows};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::fleet::ChangeContext;
use crate::{NewModelVersion, RegistryQuery, RegistryStore, paging};

pub(crate) fn rm_id(tx: &Connection, name: &str) -> StoreResult<i64> {
    tx.prepare_cached("SELECT rm_id FROM registered_models WHERE name = ?")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found(format!("Registered Model with name={name} not found")).into())
}

fn version_key(tx: &Connection, name: &str, version: &str) -> StoreResult<(i64, i64)> {
    existing_version(tx, name, VersionNumber::parse_param(version)?, version)
}

/// The keys of version `v` of `name`; `shown` is how "not found" names it.
fn existing_version(tx: &Connection, name: &str, v: VersionNumber, shown: &str) -> StoreResult<(i64, i64)> {
    let v = v.get();
    let id = rm_id(tx, name)?;
    let exists: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM model_versions WHERE rm_id = ? AND version = ?")?
        .query_row(params![id, v], |r| r.get(0))
        .optional()?;
    match exists {
        Some(_) => Ok((id, v)),
        None => Err(Error::not_found(format!("Model Version (name={name}, version={shown}) not found")).into()),
    }
}

fn validate_tag(tag: &Tag) -> StoreResult<()> {
    validation::entity_key("Tag", &tag.key)?;
    validation::value_length("Tag", &tag.key, &tag.value, validation::MAX_REGISTRY_TAG_VALUE_LENGTH)?;
    Ok(())
}

fn touch_model(tx: &Connection, id: i64, now: i64) -> StoreResult<()> {
    tx.prepare_cached("UPDATE registered_models SET last_update_time = ? WHERE rm_id = ?")?
        .execute(params![now, id])?;
    Ok(())
}

fn one_model(tx: &Connection, id: i64) -> StoreResult<RegisteredModel> {
    registered_models_by_ids(tx, &[id])?.pop().ok_or_else(|| Error::internal("registered model vanished").into())
}

fn one_version(tx: &Connection, key: (i64, i64)) -> StoreResult<ModelVersion> {
    versions_by_keys(tx, &[key])?.pop().ok_or_else(|| Error::internal("model version vanished").into())
}

impl RegistryStore for SqliteStore {
    fn create_registered_model_owned(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
        owner: Option<i64>,
    ) -> StoreResult<RegisteredModel> {
        validation::model_name(name)?;
        validation::list_len("tags", tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
        tags.iter().try_for_each(validate_tag)?;
        self.write_registry(|tx| {
            let now = now_ms();
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO registered_models (name, creation_time, last_update_time, description) VALUES (?, ?, ?, ?)
                     ON CONFLICT (name) DO NOTHING",
                )?
                .execute(params![name, now, now, description.unwrap_or("")])?;
            if inserted == 0 {
                return Err(Error::already_exists(format!("Registered Model (name={name}) already exists.")).into());
            }
            let id = tx.last_insert_rowid();
            super::name_order_respace::place_if_unplaced(tx, id)?;
            let after = json!({"name": name, "description": description, "tags": tags.len()});
            note(Change::new("registered_model.create", "registered_model", name).diff(None, Some(after)));
            let mut insert = tx.prepare_cached("INSERT OR REPLACE INTO registered_model_tags (rm_id, key, value) VALUES (?, ?, ?)")?;
            for t in tags {
                insert.execute(params![id, t.key, t.value])?;
            }
            if let Some(owner) = owner {
                super::auth::grant_creator(tx, owner, crate::auth::REGISTERED_MODEL, name)?;
            }
            one_model(tx, id)
        })
    }

    fn get_registered_model(&self, name: &str) -> StoreResult<RegisteredModel> {
        self.read(|tx| {
            let id = rm_id(tx, name)?;
            one_model(tx, id)
        })
    }

    fn rename_registered_model(&self, name: &str, new_name: &str) -> StoreResult<RegisteredModel> {
        validation::model_name(new_name)?;
        self.write_registry(|tx| {
            let id = rm_id(tx, name)?;
            families::check_renamable(tx, id, name)?;
            let taken: Option<i64> = tx
                .prepare_cached("SELECT rm_id FROM registered_models WHERE name = ?")?
                .query_row([new_name], |r| r.get(0))
                .optional()?;
            if taken.is_some_and(|other| other != id) {
                return Err(Error::already_exists(format!("Registered Model (name={new_name}) already exists.")).into());
            }
            let now = now_ms();
            note(
                Change::new("registered_model.rename", "registered_model", new_name)
                    .diff(Some(json!({"name": name})), Some(json!({"name": new_name}))),
            );
            tx.prepare_cached("UPDATE registered_models SET name = ?, last_update_time = ? WHERE rm_id = ?")?
                .execute(params![new_name, now, id])?;
            super::name_order_respace::place_if_unplaced(tx, id)?;
            super::auth::move_grants(tx, crate::auth::REGISTERED_MODEL, name, new_name)?;
            one_model(tx, id)
        })
    }

    fn update_registered_model(&self, name: &str, description: Option<&str>) -> StoreResult<RegisteredModel> {
        self.write_registry(|tx| {
            let id = rm_id(tx, name)?;
            let now = now_ms();
            if let Some(d) = description {
                let old = audit::scalar(tx, "SELECT description FROM registered_models WHERE rm_id = ?", [id])?;
                note(
                    Change::new("registered_model.update", "registered_model", name)
                        .diff(Some(json!({"description": old})), Some(json!({"description": d}))),
                );
                tx.prepare_cached("UPDATE registered_models SET description = ? WHERE rm_id = ?")?
                    .execute(params![d, id])?;
            }
            touch_model(tx, id, now)?;
            one_model(tx, id)
        })
    }

    fn delete_registered_model(&self, name: &str) -> StoreResult<()> {
        self.write_registry(|tx| {
            let id = rm_id(tx, name)?;
            families::check_deletable(tx, id, name)?;
            note(
                Change::new("registered_model.delete", "registered_model", name)
                    .diff(Some(json!({"name": name})), None),
            );
            tx.prepare_cached("DELETE FROM registered_models WHERE rm_id = ?")?.execute([id])?;
            super::auth::drop_grants(tx, crate::auth::REGISTERED_MODEL, name)
        })
    }

    fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> StoreResult<()> {
        validate_tag(tag)?;
        self.write_registry(|tx| {
            let id = rm_id(tx, name)?;
            let old = audit::scalar(
                tx,
                "SELECT value FROM registered_model_tags WHERE rm_id = ? AND key = ?",
                params![id, tag.key],
            )?;
            note(
                Change::new("registered_model.set_tag", "registered_model", name).diff(
                    Some(json!({"key": tag.key, "value": old})),
                    Some(json!({"key": tag.key, "value": tag.value})),
                ),
            );
            tx.prepare_cached("INSERT OR REPLACE INTO registered_model_tags (rm_id, key, value) VALUES (?, ?, ?)")?
                .execute(params![id, tag.key, tag.value])?;
            touch_model(tx, id, now_ms())
        })
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> StoreResult<()> {
        self.write_registry(|tx| {
            let id = rm_id(tx, name)?;
            let old = audit::scalar(
                tx,
                "SELECT value FROM registered_model_tags WHERE rm_id = ? AND key = ?",
                params![id, key],
            )?;
            note(
                Change::new("registered_model.delete_tag", "registered_model", name)
                    .diff(Some(json!({"key": key, "value": old})), None),
            );
            tx.prepare_cached("DELETE FROM registered_model_tags WHERE rm_id = ? AND key = ?")?
                .execute(params![id, key])?;
            touch_model(tx, id, now_ms())
        })
    }

    fn get_latest_versions(&self, name: &str, stages: &[String]) -> StoreResult<Vec<ModelVersion>> {
        validation::list_len("stages", stages.len(), validation::MAX_STAGES_PER_REQUEST)?;
        let mut wanted = Vec::new();
        for s in stages {
            let stage = canonical_stage(s).ok_or_else(|| {
                Error::invalid(format!(
                    "Invalid Model Version stage: {s}. Value must be one of None, Staging, Production, Archived."
                ))
            })?;
            wanted.push(stage);
        }
        self.read(|tx| {
            let id = rm_id(tx, name)?;
            let mut stmt = tx.prepare_cached(
                "SELECT current_stage, MAX(version) FROM model_versions WHERE rm_id = ? GROUP BY current_stage ORDER BY MAX(version)",
            )?;
            let latest: Vec<(String, i64)> =
                stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            let keys: Vec<(i64, i64)> = latest
                .into_iter()
                .filter(|(stage, _)| wanted.is_empty() || wanted.contains(&stage.as_str()))
                .map(|(_, v)| (id, v))
                .collect();
            versions_by_keys(tx, &keys)
        })
    }

    fn create_model_version(&self, new: &NewModelVersion) -> StoreResult<ModelVersion> {
        validation::list_len("tags", new.tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
        new.tags.iter().try_for_each(validate_tag)?;
        if new.source.is_empty() {
            return Err(Error::invalid("Missing value for required parameter 'source'.").into());
        }
        self.write_registry(|tx| {
            let id = rm_id(tx, &new.name)?;
            let version: i64 = tx
                .prepare_cached("UPDATE registered_models SET next_version = next_version + 1, last_update_time = ? WHERE rm_id = ? RETURNING next_version - 1")?
                .query_row(params![now_ms(), id], |r| r.get(0))?;
            let now = now_ms();
            // A 3.x client registers a logged model by id alone; the run is the model's source run.
            let mut run_id = new.run_id.clone().filter(|r| !r.is_empty());
            if let (None, Some(model_id)) = (&run_id, new.model_id.as_deref().filter(|m| !m.is_empty())) {
                run_id = tx
                    .prepare_cached("SELECT source_run_id FROM logged_models WHERE model_id = ?")?
                    .query_row([model_id], |r| r.get::<_, Option<String>>(0))
                    .optional()?
                    .flatten();
            }
            tx.prepare_cached(
                "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, description, source, run_id, run_link, model_id, status)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'READY')",
            )?
            .execute(params![
                id,
                version,
                now,
                now,
                new.description.as_deref().unwrap_or(""),
                new.source,
                run_id,
                new.run_link.as_deref().unwrap_or(""),
                new.model_id.as_deref().filter(|m| !m.is_empty()),
            ])?;
            note(Change::new("model_version.create", "model_version", format!("{}/{version}", new.name))
                .diff(None, Some(json!({"source": new.source, "run_id": run_id, "tags": new.tags.len()}))));
            let mut insert = tx.prepare_cached("INSERT OR REPLACE INTO model_version_tags (rm_id, version, key, value) VALUES (?, ?, ?, ?)")?;
            for t in &new.tags {
                insert.execute(params![id, version, t.key, t.value])?;
            }
            if let Some(run_id) = &run_id {
                aliases::copy_run_metrics(tx, id, version, run_id)?;
            }
            one_version(tx, (id, version))
        })
    }

    fn get_model_version(&self, name: &str, version: &str) -> StoreResult<ModelVersion> {
        self.read(|tx| {
            let key = version_key(tx, name, version)?;
            one_version(tx, key)
        })
    }

    fn get_version(&self, name: &str, version: VersionNumber) -> StoreResult<ModelVersion> {
        self.read(|tx| {
            let key = existing_version(tx, name, version, &version.to_string())?;
            one_version(tx, key)
        })
    }

    fn update_model_version(&self, name: &str, version: &str, description: Option<&str>) -> StoreResult<ModelVersion> {
        self.write_registry(|tx| {
            let key = version_key(tx, name, version)?;
            let now = now_ms();
            if let Some(d) = description {
                let old = audit::scalar(
                    tx,
                    "SELECT description FROM model_versions WHERE rm_id = ? AND version = ?",
                    params![key.0, key.1],
                )?;
                note(
                    Change::new("model_version.update", "model_version", format!("{name}/{}", key.1))
                        .diff(Some(json!({"description": old})), Some(json!({"description": d}))),
                );
                tx.prepare_cached("UPDATE model_versions SET description = ? WHERE rm_id = ? AND version = ?")?
                    .execute(params![d, key.0, key.1])?;
            }
            tx.prepare_cached("UPDATE model_versions SET last_update_time = ? WHERE rm_id = ? AND version = ?")?
                .execute(params![now, key.0, key.1])?;
            one_version(tx, key)
        })
    }

    fn delete_model_version(&self, name: &str, version: &str) -> StoreResult<()> {
        self.write_registry(|tx| {
            let (id, v) = version_key(tx, name, version)?;
            let pointing: Vec<String> = tx
                .prepare_cached("SELECT alias FROM registered_model_aliases WHERE rm_id = ? AND version = ?")?
                .query_map(params![id, v], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if !pointing.is_empty() {
                let ctx = ChangeContext::mlflow_api();
                let batch = aliases::open_batch(tx, &aliases::NewBatch::api(&ctx))?;
                for alias in &pointing {
                    aliases::move_alias(tx, batch, id, name, alias, None)?;
                }
            }
            note(
                Change::new("model_version.delete", "model_version", format!("{name}/{v}"))
                    .diff(Some(json!({"aliases": pointing})), None),
            );
            tx.prepare_cached("DELETE FROM model_versions WHERE rm_id = ? AND version = ?")?.execute(params![id, v])?;
            touch_model(tx, id, now_ms())
        })
    }

    fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
    ) -> StoreResult<ModelVersion> {
        let stage = canonical_stage(stage).ok_or_else(|| {
            Error::invalid(format!(
                "Invalid Model Version stage: {stage}. Value must be one of None, Staging, Production, Archived."
            ))
        })?;
        self.write_registry(|tx| {
            let (id, v) = version_key(tx, name, version)?;
            let old = audit::scalar(tx, "SELECT current_stage FROM model_versions WHERE rm_id = ? AND version = ?", params![id, v])?;
            note(Change::new("model_version.transition_stage", "model_version", format!("{name}/{v}"))
                .diff(Some(json!({"stage": old})), Some(json!({"stage": stage, "archive_existing": archive_existing}))));
            let now = now_ms();
            if archive_existing && matches!(stage, "Staging" | "Production") {
                tx.prepare_cached(
                    "UPDATE model_versions SET current_stage = 'Archived', last_update_time = ? WHERE rm_id = ? AND version != ? AND current_stage = ?",
                )?
                .execute(params![now, id, v, stage])?;
            }
            tx.prepare_cached("UPDATE model_versions SET current_stage = ?, last_update_time = ? WHERE rm_id = ? AND version = ?")?
                .execute(params![stage, now, id, v])?;
            touch_model(tx, id, now)?;
            one_version(tx, (id, v))
        })
    }

    fn set_model_version_tag(&self, name: &str, version: &str, tag: &Tag) -> StoreResult<()> {
        validate_tag(tag)?;
        self.write_registry(|tx| {
            let (id, v) = version_key(tx, name, version)?;
            let old = audit::scalar(
                tx,
                "SELECT value FROM model_version_tags WHERE rm_id = ? AND version = ? AND key = ?",
                params![id, v, tag.key],
            )?;
            note(
                Change::new("model_version.set_tag", "model_version", format!("{name}/{v}")).diff(
                    Some(json!({"key": tag.key, "value": old})),
                    Some(json!({"key": tag.key, "value": tag.value})),
                ),
            );
            tx.prepare_cached(
                "INSERT OR REPLACE INTO model_version_tags (rm_id, version, key, value) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![id, v, tag.key, tag.value])?;
            Ok(())
        })
    }

    fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> StoreResult<()> {
        self.write_registry(|tx| {
            let (id, v) = version_key(tx, name, version)?;
            let old = audit::scalar(
                tx,
                "SELECT value FROM model_version_tags WHERE rm_id = ? AND version = ? AND key = ?",
                params![id, v, key],
            )?;
            note(
                Change::new("model_version.delete_tag", "model_version", format!("{name}/{v}"))
                    .diff(Some(json!({"key": key, "value": old})), None),
            );
            tx.prepare_cached("DELETE FROM model_version_tags WHERE rm_id = ? AND version = ? AND key = ?")?
                .execute(params![id, v, key])?;
            Ok(())
        })
    }

    fn set_alias_by(&self, name: &str, alias: &str, version: &str, ctx: &ChangeContext) -> StoreResult<()> {
        validation::alias(alias)?;
        self.write_registry(|tx| {
            let (id, v) = version_key(tx, name, version)?;
            let batch = aliases::open_batch(tx, &aliases::NewBatch::api(ctx))?;
            let from = aliases::move_alias(tx, batch, id, name, alias, Some(v))?;
            note(
                Change::new("registered_model.set_alias", "registered_model", name)
                    .diff(Some(json!({"alias": alias, "version": from})), Some(json!({"alias": alias, "version": v}))),
            );
            touch_model(tx, id, now_ms())
        })
    }

    fn delete_alias_by(&self, name: &str, alias: &str, ctx: &ChangeContext) -> StoreResult<()> {
        self.write_registry(|tx| {
            let id = rm_id(tx, name)?;
            let from = aliases::current(tx, id, alias)?;
            if from.is_some() {
                let batch = aliases::open_batch(tx, &aliases::NewBatch::api(ctx))?;
                aliases::move_alias(tx, batch, id, name, alias, None)?;
            }
            note(
                Change::new("registered_model.delete_alias", "registered_model", name)
                    .diff(Some(json!({"alias": alias, "version": from})), None),
            );
            touch_model(tx, id, now_ms())
        })
    }

    fn find_version_by_alias(&self, name: &str, alias: &str) -> StoreResult<Option<ModelVersion>> {
        self.read(|tx| {
            let id = rm_id(tx, name)?;
            let version: Option<i64> = tx
                .prepare_cached("SELECT version FROM registered_model_aliases WHERE rm_id = ? AND alias = ?")?
                .query_row(params![id, alias], |r| r.get(0))
                .optional()?;
            version.map(|v| one_version(tx, (id, v))).transpose()
        })
    }

    fn registry_generation(&self) -> u64 {
        self.registry_generation.load(Ordering::Acquire)
    }

    fn search_registered_models(&self, q: &RegistryQuery) -> StoreResult<Page<RegisteredModel>> {
        let limit = validation::page_size(q.page.max_results, validation::REGISTERED_MODELS_PAGE, "registered models")?;
        let keys =
            order_keys(Entity::RegisteredModels, &q.order_by, &[SortKey::asc("rm.name")], &[SortKey::asc("rm.name")])?;
        let cursor = paging::decode_opt(q.page.page_token.as_deref(), keys.len())?;
        self.read(|tx| {
            let page_ids = |sql: &str, args: &[Value]| rows::keyset_page_ids(tx, sql, args, keys.len(), limit);
            // A name pattern in name order: the place-ordered trigram index,
            // within an allowance; the older plans if it runs out.
            let allowance = self.planning.name_order_checks();
            let plan = NamePlan { page_rows: limit + 1, walk_cost: self.planning.name_walk_cost };
            let trigrams = if allowance > 0 { name_order::trigrams_for(tx, &keys, &q.filter)? } else { None };
            if let Some(trigrams) = trigrams {
                let ordered = name_order::OrderedQuery { trigrams, keys: &keys, cursor: cursor.as_deref(), limit };
                let mut args = Vec::new();
                let sql = name_order::page_sql(&ordered, &mut args, |args| {
                    registered_model_filter(tx, q, NamePlan::WALK, args)
                })?;
                match crate::budget::with_allowance(allowance, || page_ids(&sql, &args)) {
                    (Ok((ids, next)), _) => {
                        return Ok(Page { items: registered_models_by_ids(tx, &ids)?, next_page_token: next });
                    }
                    (Err(_), true) => {}
                    (Err(e), false) => return Err(e),
                }
            }
            let mut args = Vec::new();
            let mut sql =
                format!("SELECT rm.rm_id, {} FROM registered_models rm WHERE 1=1", keyset::select_list(&keys));
            sql.push_str(&registered_model_filter(tx, q, plan, &mut args)?);
            keyset::finish(&mut sql, &keys, cursor.as_deref(), limit, &mut args);
            let (ids, next) = page_ids(&sql, &args)?;
            Ok(Page { items: registered_models_by_ids(tx, &ids)?, next_page_token: next })
        })
    }

    fn search_model_versions(&self, q: &RegistryQuery) -> StoreResult<Page<ModelVersion>> {
        let limit = validation::page_size(q.page.max_results, validation::MODEL_VERSIONS_PAGE, "model versions")?;
        // MLflow's order (`sqlalchemy_store.search_model_versions`): recently
        // updated first by default, and name then newest version to break ties.
        let keys = order_keys(
            Entity::ModelVersions,
            &q.order_by,
            &[SortKey::desc("mv.last_update_time"), SortKey::asc("rm.name"), SortKey::desc("mv.version")],
            &[SortKey::asc("rm.name"), SortKey::desc("mv.version")],
        )?;
        let cursor = paging::decode_opt(q.page.page_token.as_deref(), keys.len())?;
        let mut args = Vec::new();
        let mut sql = format!(
            "SELECT mv.rm_id, mv.version, {} FROM model_versions mv JOIN registered_models rm ON rm.rm_id = mv.rm_id WHERE 1=1",
            keyset::select_list(&keys)
        );
        for c in &q.filter {
            sql.push_str(" AND ");
            sql.push_str(&model_version_clause(c, &mut args)?);
        }
        if let Some(visible) = super::visible::models(&q.visible, "rm.name", "rm.rm_id", &mut args) {
            sql.push_str(" AND ");
            sql.push_str(&visible);
        }
        if cursor.is_none() && VERSION_TIMESTAMPS.contains(&keys[0].expr.as_str()) {
            sql.push_str(" AND ");
            sql.push_str(&keyset::open_integer_range(&keys[0]));
        }
        keyset::finish(&mut sql, &keys, cursor.as_deref(), limit, &mut args);
        self.read(|tx| {
            let (pairs, next) =
                rows::keyset_page(tx, &sql, &args, keys.len(), limit, 2, |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(Page { items: versions_by_keys(tx, &pairs)?, next_page_token: next })
        })
    }
}

/// A registered-model search's conditions, each as ` AND ...`: its clauses,
/// what the caller may see, and the name prefix.
fn registered_model_filter(
    tx: &Connection,
    q: &RegistryQuery,
    plan: NamePlan,
    args: &mut Vec<Value>,
) -> StoreResult<String> {
    let mut sql = String::new();
    for c in &q.filter {
        sql.push_str(" AND ");
        sql.push_str(&registered_model_clause(tx, c, plan, args)?);
    }
    if let Some(visible) = super::visible::models(&q.visible, "rm.name", "rm.rm_id", args) {
        sql.push_str(" AND ");
        sql.push_str(&visible);
    }
    if let Some(prefix) = q.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        sql.push_str(" AND rm.name >= ? AND rm.name < ?");
        args.push(Value::Text(prefix.to_string()));
        args.push(Value::Text(format!("{prefix}\u{10FFFF}")));
    }
    Ok(sql)
}
