//! Experiments on PostgreSQL: create, read, rename, delete/restore, tags and
//! search (as `sqlite/experiments.rs`).

use flotilla_core::filter::{self, Attr, Comparator, Field, Operand};
use flotilla_core::model::{Experiment, LifecycleStage, Page, Tag, ViewType};
use flotilla_core::{Error, validation};
use serde_json::json;

use super::sql::{self, SortKey, Value};
use super::{PgStore, Tx, auth, rows};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::sqlite::now_ms;
use crate::{ExperimentQuery, ExperimentStore, paging};

pub(crate) use crate::sqlite::parse_experiment_id as parse_id;

fn not_found(experiment_id: &str) -> Error {
    Error::not_found(format!("No Experiment with id={experiment_id} exists"))
}

/// Fails unless the experiment exists; returns its lifecycle stage.
pub(crate) fn stage_of(tx: &mut Tx<'_>, id: i64) -> StoreResult<Option<LifecycleStage>> {
    let stage: Option<String> =
        tx.query_opt("SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1", &[&id])?.map(|r| r.get(0));
    Ok(stage.as_deref().and_then(LifecycleStage::parse))
}

/// The artifact location of an experiment that must exist and be active
/// (where new runs and logged models go).
pub(crate) fn active_location(tx: &mut Tx<'_>, experiment_id: i64) -> StoreResult<String> {
    let found: Option<(String, String)> = tx
        .query_opt(
            "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = $1",
            &[&experiment_id],
        )?
        .map(|r| (r.get(0), r.get(1)));
    match found {
        None => Err(Error::not_found(format!("No Experiment with id={experiment_id} exists")).into()),
        Some((_, stage)) if stage != "active" => Err(Error::invalid(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
        ))
        .into()),
        Some((location, _)) => Ok(location),
    }
}

fn require_active(tx: &mut Tx<'_>, experiment_id: &str) -> StoreResult<i64> {
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

fn touch(tx: &mut Tx<'_>, id: i64) -> StoreResult<()> {
    tx.execute("UPDATE experiments SET last_update_time = $1 WHERE experiment_id = $2", &[&now_ms(), &id])?;
    Ok(())
}

impl ExperimentStore for PgStore {
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
            let exists: Option<String> =
                tx.query_opt("SELECT lifecycle_stage FROM experiments WHERE name = $1", &[&name])?.map(|r| r.get(0));
            if let Some(stage) = exists {
                let hint = if stage == "deleted" { " (it is deleted; restore it or choose another name)" } else { "" };
                return Err(Error::already_exists(format!("Experiment(name={name}) already exists{hint}.")).into());
            }
            let now = now_ms();
            let id: i64 = tx.query_one("SELECT COALESCE(MAX(experiment_id), 0) + 1 FROM experiments", &[])?.get(0);
            let location = match artifact_location.filter(|l| !l.is_empty()) {
                Some(l) => l.trim_end_matches('/').to_string(),
                None => format!("mlflow-artifacts:/{id}"),
            };
            tx.execute(
                "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time) \
                 VALUES ($1, $2, $3, $4, $4)",
                &[&id, &name, &location, &now],
            )?;
            for tag in tags {
                tx.execute(SET_TAG, &[&id, &tag.key, &tag.value])?;
            }
            if let Some(owner) = owner {
                auth::grant_creator(tx, owner, crate::auth::EXPERIMENT, &id.to_string())?;
            }
            note(
                Change::new("experiment.create", "experiment", id.to_string())
                    .diff(None, Some(json!({"name": name, "artifact_location": location, "tags": tags.len()}))),
            );
            Ok(id.to_string())
        })
    }

    fn get_experiment(&self, experiment_id: &str) -> StoreResult<Experiment> {
        let id = parse_id(experiment_id)?;
        self.read(|tx| rows::experiments_by_ids(tx, &[id])?.pop().ok_or_else(|| not_found(experiment_id).into()))
    }

    fn get_experiment_by_name(&self, name: &str) -> StoreResult<Experiment> {
        self.read(|tx| {
            let id: Option<i64> =
                tx.query_opt("SELECT experiment_id FROM experiments WHERE name = $1", &[&name])?.map(|r| r.get(0));
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
            let taken: Option<i64> =
                tx.query_opt("SELECT experiment_id FROM experiments WHERE name = $1", &[&new_name])?.map(|r| r.get(0));
            if taken.is_some_and(|other| other != id) {
                return Err(Error::already_exists(format!("Experiment(name={new_name}) already exists.")).into());
            }
            let old: Option<String> =
                tx.query_opt("SELECT name FROM experiments WHERE experiment_id = $1", &[&id])?.map(|r| r.get(0));
            note(
                Change::new("experiment.rename", "experiment", id.to_string())
                    .diff(Some(json!({"name": old})), Some(json!({"name": new_name}))),
            );
            tx.execute(
                "UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3",
                &[&new_name, &now_ms(), &id],
            )?;
            Ok(())
        })
    }

    fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> StoreResult<()> {
        validate_tag(tag)?;
        self.write(|tx| {
            let id = require_active(tx, experiment_id)?;
            let old = tag_value(tx, id, &tag.key)?;
            note(
                Change::new("experiment.set_tag", "experiment", id.to_string()).diff(
                    Some(json!({"key": tag.key, "value": old})),
                    Some(json!({"key": tag.key, "value": tag.value})),
                ),
            );
            tx.execute(SET_TAG, &[&id, &tag.key, &tag.value])?;
            touch(tx, id)
        })
    }

    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            let id = require_active(tx, experiment_id)?;
            let old = tag_value(tx, id, key)?;
            note(
                Change::new("experiment.delete_tag", "experiment", id.to_string())
                    .diff(Some(json!({"key": key, "value": old})), None),
            );
            let n = tx.execute("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2", &[&id, &key])?;
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
                Field::Attr(a) => sql::attr_column(*a, COLUMNS, "experiments")?,
                Field::Metric(_) | Field::Param(_) | Field::Tag(_) | Field::Dataset(_) => {
                    return Err(sql::unsupported(&o.field, "experiments"));
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

        let mut sql = format!("SELECT e.experiment_id, {} FROM experiments e WHERE TRUE", sql::select_list(&keys));
        let mut args: Vec<Value> = Vec::new();
        match q.view {
            ViewType::ActiveOnly => sql.push_str(" AND e.lifecycle_stage = 'active'"),
            ViewType::DeletedOnly => sql.push_str(" AND e.lifecycle_stage = 'deleted'"),
            ViewType::All => {}
        }
        if let Some(visible) = visible_experiments(&q.visible, "e.experiment_id", &mut args) {
            sql.push_str(" AND ");
            sql.push_str(&visible);
        }
        for clause in &q.filter {
            sql.push_str(" AND ");
            sql.push_str(&experiment_clause(clause, &mut args)?);
        }
        sql::finish(&mut sql, &keys, cursor.as_deref(), limit, &mut args);
        self.read(|tx| {
            let (ids, next) = sql::keyset_page_ids(tx, &sql, &args, keys.len(), limit)?;
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

impl PgStore {
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
            tx.execute(
                "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3",
                &[&to.as_str(), &now, &id],
            )?;
            let deleted_time = (to == LifecycleStage::Deleted).then_some(now);
            tx.execute(
                "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3",
                &[&to.as_str(), &deleted_time, &id],
            )?;
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
            return sql::tag_exists("experiment_tags", "experiment_id", "e.experiment_id", key, c, args);
        }
        Field::Attr(a) => sql::attr_column(*a, COLUMNS, "experiments")?,
        Field::Metric(_) | Field::Param(_) | Field::Dataset(_) => {
            return Err(sql::unsupported(&c.field, "experiments"));
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
                args.extend(items.iter().map(|s| Value::Int(to_int(s))));
                let not = if c.cmp == Comparator::NotIn { "NOT " } else { "" };
                return Ok(format!("{column} {not}IN ({marks})"));
            }
        }
        return sql::compare(column, &c, args);
    }
    sql::compare(column, c, args)
}

const SET_TAG: &str = "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
                       ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value";

fn tag_value(tx: &mut Tx<'_>, id: i64, key: &str) -> StoreResult<Option<String>> {
    Ok(tx
        .query_opt("SELECT value FROM experiment_tags WHERE experiment_id = $1 AND key = $2", &[&id, &key])?
        .map(|r| r.get(0)))
}

/// The caller's readable experiments as a predicate (as `sqlite/visible.rs`),
/// `None` when everything is visible.
fn visible_experiments(v: &crate::query::Visible, id: &str, args: &mut Vec<Value>) -> Option<String> {
    if v.is_everything() {
        return None;
    }
    let ints = |ids: &[String]| ids.iter().filter_map(|i| i.parse::<i64>().ok()).collect::<Vec<_>>();
    let bind = |ids: Vec<i64>, args: &mut Vec<Value>| {
        let marks = vec!["?"; ids.len()].join(", ");
        args.extend(ids.into_iter().map(Value::Int));
        marks
    };
    let mut parts = Vec::new();
    let out = ints(&v.ids_out);
    if !out.is_empty() {
        parts.push(format!("{id} NOT IN ({})", bind(out, args)));
    }
    if !v.all {
        let ids = ints(&v.ids_in);
        if ids.is_empty() {
            parts.push("FALSE".to_string());
        } else {
            parts.push(format!("{id} IN ({})", bind(ids, args)));
        }
    }
    Some(if parts.is_empty() { "TRUE".to_string() } else { parts.join(" AND ") })
}
