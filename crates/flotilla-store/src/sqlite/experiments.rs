//! Experiments: create, read, rename, delete/restore, tags and search.

use flotilla_core::filter::{self, Attr, Comparator, Field, Operand};
use flotilla_core::model::{Experiment, LifecycleStage, Page, Tag, ViewType};
use flotilla_core::{Error, validation};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::keyset::{self, SortKey};
use super::{SqliteStore, audit, filter_sql, now_ms, rows};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::{ExperimentQuery, ExperimentStore, paging};

pub(crate) fn parse_id(experiment_id: &str) -> StoreResult<i64> {
    experiment_id.trim().parse::<i64>().ok().filter(|id| *id >= 0).ok_or_else(|| {
        Error::invalid(format!("Invalid experiment ID: '{}'", validation::truncate(experiment_id, 64))).into()
    })
}

fn not_found(experiment_id: &str) -> Error {
    Error::not_found(format!("No Experiment with id={experiment_id} exists"))
}

/// Fails unless the experiment exists; returns its lifecycle stage.
pub(crate) fn stage_of(tx: &Connection, id: i64) -> StoreResult<Option<LifecycleStage>> {
    let stage: Option<String> = tx
        .prepare_cached("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(stage.as_deref().and_then(LifecycleStage::parse))
}

/// The artifact location of an experiment that must exist and be active
/// (where new runs and logged models go).
pub(crate) fn active_location(tx: &Connection, experiment_id: i64) -> StoreResult<String> {
    let found: Option<(String, String)> = tx
        .prepare_cached("SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?")?
        .query_row([experiment_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match found {
        None => Err(Error::not_found(format!("No Experiment with id={experiment_id} exists")).into()),
        Some((_, stage)) if stage != "active" => Err(Error::invalid(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
        ))
        .into()),
        Some((location, _)) => Ok(location),
    }
}

fn require_active(tx: &Connection, experiment_id: &str) -> StoreResult<i64> {
    let id = parse_id(experiment_id)?;
    match stage_of(tx, id)? {
        None => Err(not_found(experiment_id).into()),
        Some(LifecycleStage::Deleted) => Err(Error::invalid(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
        ))
        .into()),
        Some(LifecycleStage::Active) => Ok(id),
    }
}

fn validate_tag(tag: &Tag) -> StoreResult<()> {
    validation::entity_key("Tag", &tag.key)?;
    validation::value_length("Tag", &tag.key, &tag.value, validation::MAX_EXPERIMENT_TAG_VALUE_LENGTH)?;
    Ok(())
}

fn touch(tx: &Connection, id: i64) -> StoreResult<()> {
    tx.prepare_cached("UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?")?
        .execute(params![now_ms(), id])?;
    Ok(())
}

impl ExperimentStore for SqliteStore {
    fn create_experiment_owned(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
        owner: Option<i64>,
    ) -> StoreResult<String> {
        validation::experiment_name(name)?;
        validation::list_len("tags", tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
        tags.iter().try_for_each(validate_tag)?;
        self.write(|tx| {
            let exists: Option<String> = tx
                .prepare_cached("SELECT lifecycle_stage FROM experiments WHERE name = ?")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            if let Some(stage) = exists {
                let hint = if stage == "deleted" { " (it is deleted; restore it or choose another name)" } else { "" };
                return Err(Error::already_exists(format!("Experiment(name={name}) already exists{hint}.")).into());
            }
            let now = now_ms();
            let id: i64 = tx.query_row(
                "SELECT COALESCE(MAX(experiment_id), 0) + 1 FROM experiments",
                [],
                |r| r.get(0),
            )?;
            let location = match artifact_location.filter(|l| !l.is_empty()) {
                Some(l) => l.trim_end_matches('/').to_string(),
                None => format!("mlflow-artifacts:/{id}"),
            };
            tx.prepare_cached(
                "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![id, name, location, now, now])?;
            let mut insert = tx.prepare_cached("INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)")?;
            for tag in tags {
                insert.execute(params![id, tag.key, tag.value])?;
            }
            if let Some(owner) = owner {
                super::auth::grant_creator(tx, owner, crate::auth::EXPERIMENT, &id.to_string())?;
            }
            note(Change::new("experiment.create", "experiment", id.to_string())
                .diff(None, Some(json!({"name": name, "artifact_location": location, "tags": tags.len()}))));
            Ok(id.to_string())
        })
    }

    fn get_experiment(&self, experiment_id: &str) -> StoreResult<Experiment> {
        let id = parse_id(experiment_id)?;
        self.read(|tx| rows::experiments_by_ids(tx, &[id])?.pop().ok_or_else(|| not_found(experiment_id).into()))
    }

    fn get_experiment_by_name(&self, name: &str) -> StoreResult<Experiment> {
        self.read(|tx| {
            let id: Option<i64> = tx
                .prepare_cached("SELECT experiment_id FROM experiments WHERE name = ?")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            let missing = || Error::not_found(format!("Could not find experiment with name '{name}'"));
            match id {
                None => Err(missing().into()),
                Some(id) => rows::experiments_by_ids(tx, &[id])?.pop().ok_or_else(|| missing().into()),
            }
        })
    }

    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> StoreResult<()> {
        validation::experiment_name(new_name)?;
        self.write(|tx| {
            let id = require_active(tx, experiment_id)?;
            let taken: Option<i64> = tx
                .prepare_cached("SELECT experiment_id FROM experiments WHERE name = ?")?
                .query_row([new_name], |r| r.get(0))
                .optional()?;
            if taken.is_some_and(|other| other != id) {
                return Err(Error::already_exists(format!("Experiment(name={new_name}) already exists.")).into());
            }
            let old = audit::scalar(tx, "SELECT name FROM experiments WHERE experiment_id = ?", [id])?;
            note(
                Change::new("experiment.rename", "experiment", id.to_string())
                    .diff(Some(json!({"name": old})), Some(json!({"name": new_name}))),
            );
            tx.prepare_cached("UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?")?
                .execute(params![new_name, now_ms(), id])?;
            Ok(())
        })
    }

    fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> StoreResult<()> {
        validate_tag(tag)?;
        self.write(|tx| {
            let id = require_active(tx, experiment_id)?;
            let old = audit::scalar(
                tx,
                "SELECT value FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                params![id, tag.key],
            )?;
            note(
                Change::new("experiment.set_tag", "experiment", id.to_string()).diff(
                    Some(json!({"key": tag.key, "value": old})),
                    Some(json!({"key": tag.key, "value": tag.value})),
                ),
            );
            tx.prepare_cached("INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)")?
                .execute(params![id, tag.key, tag.value])?;
            touch(tx, id)
        })
    }

    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            let id = require_active(tx, experiment_id)?;
            let old = audit::scalar(
                tx,
                "SELECT value FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                params![id, key],
            )?;
            note(
                Change::new("experiment.delete_tag", "experiment", id.to_string())
                    .diff(Some(json!({"key": key, "value": old})), None),
            );
            let n = tx
                .prepare_cached("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?")?
                .execute(params![id, key])?;
            if n == 0 {
                return Err(
                    Error::not_found(format!("No tag with name: {key} in experiment with id {experiment_id}")).into()
                );
            }
            touch(tx, id)
        })
    }

    fn search_experiments(&self, q: &ExperimentQuery) -> StoreResult<Page<Experiment>> {
        let limit = validation::page_size(q.page.max_results, validation::EXPERIMENTS_PAGE, "experiments")?;
        let mut keys = Vec::new();
        for o in &q.order_by {
            let expr = match &o.field {
                Field::Attr(a) => filter_sql::attr_column(*a, COLUMNS, "experiments")?,
                Field::Metric(_) | Field::Param(_) | Field::Tag(_) | Field::Dataset(_) => {
                    return Err(filter_sql::unsupported(&o.field, "experiments"));
                }
            };
            keys.push(SortKey { expr: expr.into(), desc: !o.ascending });
        }
        // MLflow's order: `creation_time DESC, experiment_id ASC` by default; a
        // caller's order is broken by `experiment_id DESC` unless it names the id.
        if keys.is_empty() {
            keys.extend([SortKey::desc("e.creation_time"), SortKey::asc("e.experiment_id")]);
        } else if !keys.iter().any(|k| k.expr == "e.experiment_id") {
            keys.push(SortKey::desc("e.experiment_id"));
        }
        let cursor = paging::decode_opt(q.page.page_token.as_deref(), keys.len())?;

        let mut sql = format!("SELECT e.experiment_id, {} FROM experiments e WHERE 1=1", keyset::select_list(&keys));
        let mut args: Vec<Value> = Vec::new();
        match q.view {
            ViewType::ActiveOnly => sql.push_str(" AND e.lifecycle_stage = 'active'"),
            ViewType::DeletedOnly => sql.push_str(" AND e.lifecycle_stage = 'deleted'"),
            ViewType::All => {}
        }
        if let Some(visible) = super::visible::experiments(&q.visible, "e.experiment_id", &mut args) {
            sql.push_str(" AND ");
            sql.push_str(&visible);
        }
        for clause in &q.filter {
            sql.push_str(" AND ");
            sql.push_str(&experiment_clause(clause, &mut args)?);
        }
        keyset::finish(&mut sql, &keys, cursor.as_deref(), limit, &mut args);
        self.read(|tx| {
            let (ids, next) = rows::keyset_page_ids(tx, &sql, &args, keys.len(), limit)?;
            Ok(Page { items: rows::experiments_by_ids(tx, &ids)?, next_page_token: next })
        })
    }

    fn delete_experiment(&self, experiment_id: &str) -> StoreResult<()> {
        self.set_experiment_stage(experiment_id, LifecycleStage::Deleted)
    }

    fn restore_experiment(&self, experiment_id: &str) -> StoreResult<()> {
        self.set_experiment_stage(experiment_id, LifecycleStage::Active)
    }
}

impl SqliteStore {
    fn set_experiment_stage(&self, experiment_id: &str, to: LifecycleStage) -> StoreResult<()> {
        let id = parse_id(experiment_id)?;
        self.write(|tx| {
            // As MLflow: deleting a deleted experiment, or restoring an active one, finds no
            // experiment in the stage it starts from.
            let from = if to == LifecycleStage::Deleted { LifecycleStage::Active } else { LifecycleStage::Deleted };
            if stage_of(tx, id)? != Some(from) {
                return Err(not_found(experiment_id).into());
            }
            if id == 0 && to == LifecycleStage::Deleted {
                return Err(Error::invalid(
                    "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
                )
                .into());
            }
            let old = stage_of(tx, id)?;
            let action = if to == LifecycleStage::Deleted { "experiment.delete" } else { "experiment.restore" };
            note(
                Change::new(action, "experiment", id.to_string())
                    .diff(Some(json!({"lifecycle_stage": old})), Some(json!({"lifecycle_stage": to.as_str()}))),
            );
            let now = now_ms();
            tx.prepare_cached(
                "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
            )?
            .execute(params![to.as_str(), now, id])?;
            let deleted_time = (to == LifecycleStage::Deleted).then_some(now);
            tx.prepare_cached("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?")?
                .execute(params![to.as_str(), deleted_time, id])?;
            Ok(())
        })
    }
}

const COLUMNS: &[(Attr, &str)] = &[
    (Attr::Name, "e.name"),
    (Attr::ExperimentId, "e.experiment_id"),
    (Attr::CreationTime, "e.creation_time"),
    (Attr::LastUpdateTime, "e.last_update_time"),
];

fn experiment_clause(c: &filter::Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    let column = match &c.field {
        Field::Tag(key) => {
            return filter_sql::tag_exists("experiment_tags", "experiment_id", "e.experiment_id", key, c, args);
        }
        Field::Attr(a) => filter_sql::attr_column(*a, COLUMNS, "experiments")?,
        Field::Metric(_) | Field::Param(_) | Field::Dataset(_) => {
            return Err(filter_sql::unsupported(&c.field, "experiments"));
        }
    };
    if column == "e.experiment_id" {
        // Ids are strings on the wire and integers here.
        let to_int = |s: &str| s.trim().parse::<i64>().unwrap_or(-1);
        let value = match &c.value {
            Operand::Str(s) => Operand::Num(to_int(s) as f64),
            Operand::Num(_) | Operand::List(_) | Operand::Null => c.value.clone(),
        };
        let c = filter::Clause { field: c.field.clone(), cmp: c.cmp, value };
        if let (Comparator::In | Comparator::NotIn, Operand::List(items)) = (c.cmp, &c.value) {
            {
                let marks = vec!["?"; items.len()].join(", ");
                args.extend(items.iter().map(|s| Value::Integer(to_int(s))));
                let not = if c.cmp == Comparator::NotIn { "NOT " } else { "" };
                return Ok(format!("{column} {not}IN ({marks})"));
            }
        }
        return filter_sql::compare(column, &c, args);
    }
    filter_sql::compare(column, c, args)
}
