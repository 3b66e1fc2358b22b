//! Experiments, runs (with their history and inputs) and logged models
//! written with their ids; see the parent module.

use flotilla_core::model::{Experiment, Metric, Tag};
use rusqlite::{Connection, OptionalExtension, params};

use super::super::{datasets, logged_models, metrics, rows};
use crate::error::StoreResult;
use crate::import::{
    ImportedLoggedModel, ImportedRun, Outcome, RunOutcome, compare_experiments, compare_logged_models, compare_runs,
};

fn parse_id(id: &str, what: &str) -> StoreResult<i64> {
    id.parse().map_err(|_| flotilla_core::Error::invalid(format!("{what} id {id:?} is not a number")).into())
}

fn insert_pairs(tx: &Connection, table: &str, owner: &dyn rusqlite::ToSql, pairs: &[Tag]) -> StoreResult<()> {
    let owner_column = match table {
        "experiment_tags" => "experiment_id",
        "run_params" | "run_tags" => "run_key",
        _ => "model_id",
    };
    let mut insert =
        tx.prepare_cached(&format!("INSERT INTO {table} ({owner_column}, key, value) VALUES (?, ?, ?)"))?;
    for p in pairs {
        insert.execute(params![owner, p.key, p.value])?;
    }
    Ok(())
}

/// Flotilla's own "Default" experiment, untouched since the store was made:
/// the source's experiment 0 takes its place rather than conflicting with it.
fn is_placeholder(tx: &Connection, have: &Experiment) -> StoreResult<bool> {
    let runs: i64 = tx.query_row("SELECT count(*) FROM runs WHERE experiment_id = 0", [], |r| r.get(0))?;
    Ok(have.experiment_id == "0"
        && have.name == "Default"
        && have.tags.is_empty()
        && have.artifact_location == "mlflow-artifacts:/0"
        && runs == 0)
}

pub(super) fn experiment(tx: &Connection, e: &Experiment) -> StoreResult<Outcome> {
    let id = parse_id(&e.experiment_id, "experiment")?;
    if let Some(have) = rows::experiments_by_ids(tx, &[id])?.pop() {
        let outcome = compare_experiments(e, &have);
        if outcome == Outcome::Unchanged || !is_placeholder(tx, &have)? {
            return Ok(outcome);
        }
        tx.execute("DELETE FROM experiments WHERE experiment_id = 0", [])?;
    }
    let taken: Option<i64> = tx
        .prepare_cached("SELECT experiment_id FROM experiments WHERE name = ?")?
        .query_row([&e.name], |r| r.get(0))
        .optional()?;
    if taken.is_some() {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    }
    tx.prepare_cached(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        id,
        e.name,
        e.artifact_location,
        e.lifecycle_stage.as_str(),
        e.creation_timestamp,
        e.last_updated_timestamp
    ])?;
    insert_pairs(tx, "experiment_tags", &id, &e.tags)?;
    Ok(Outcome::Inserted)
}

fn points(tx: &Connection, run_key: i64) -> StoreResult<u64> {
    Ok(tx.prepare_cached("SELECT count(*) FROM metrics WHERE run_key = ?")?.query_row([run_key], |r| r.get(0))?)
}

pub(super) fn run(tx: &Connection, item: &ImportedRun) -> StoreResult<RunOutcome> {
    let info = &item.run.info;
    let existing: Option<i64> = tx
        .prepare_cached("SELECT run_key FROM runs WHERE run_uuid = ?")?
        .query_row([&info.run_id], |r| r.get(0))
        .optional()?;
    if let Some(key) = existing {
        let have = rows::runs_by_keys(tx, &[key])?.remove(0);
        let points = points(tx, key)?;
        let mut outcome = compare_runs(&item.run, &have);
        if points != item.history.len() as u64 {
            outcome = match outcome {
                Outcome::Conflict(mut fields) => {
                    fields.push("metric_history".into());
                    Outcome::Conflict(fields)
                }
                Outcome::Inserted | Outcome::Unchanged => Outcome::Conflict(vec!["metric_history".into()]),
            };
        }
        return Ok(RunOutcome { outcome, points });
    }
    let experiment_id = parse_id(&info.experiment_id, "experiment")?;
    let experiment: Option<String> = tx
        .prepare_cached("SELECT artifact_location FROM experiments WHERE experiment_id = ?")?
        .query_row([experiment_id], |r| r.get(0))
        .optional()?;
    if experiment.is_none() {
        return Ok(RunOutcome { outcome: Outcome::Conflict(vec!["info.experiment_id".into()]), points: 0 });
    }
    tx.prepare_cached(
        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage,
                           artifact_uri, deleted_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        info.run_id,
        experiment_id,
        info.run_name,
        info.user_id,
        info.status.as_str(),
        info.start_time,
        info.end_time,
        info.lifecycle_stage.as_str(),
        info.artifact_uri,
        item.deleted_time
    ])?;
    let key = tx.last_insert_rowid();
    insert_pairs(tx, "run_params", &key, &item.run.data.params)?;
    insert_pairs(tx, "run_tags", &key, &item.run.data.tags)?;
    // Large histories go in slices, so the latest-value upserts stay per slice.
    for slice in item.history.chunks(10_000) {
        metrics::insert_metrics(tx, key, &info.run_id, slice)?;
    }
    inputs(tx, key, experiment_id, item)?;
    Ok(RunOutcome { outcome: Outcome::Inserted, points: item.history.len() as u64 })
}

/// The run's dataset inputs (the experiment's dataset rows, the usages and
/// dataset entities as `log-inputs` writes them) and model inputs and outputs.
fn inputs(tx: &Connection, key: i64, experiment_id: i64, item: &ImportedRun) -> StoreResult<()> {
    let run = &item.run;
    for input in &run.inputs.dataset_inputs {
        let d = &input.dataset;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO datasets (experiment_id, name, digest, source_type, source, schema, profile)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![experiment_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile])?;
        let dataset_id: i64 = tx
            .prepare_cached("SELECT dataset_id FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?")?
            .query_row(params![experiment_id, d.name, d.digest], |r| r.get(0))?;
        let tags: Vec<(&str, &str)> = input.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
        let tags_json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
        tx.prepare_cached("INSERT OR REPLACE INTO run_inputs (run_key, dataset_id, tags_json) VALUES (?, ?, ?)")?
            .execute(params![key, dataset_id, tags_json])?;
    }
    datasets::record_run_inputs(tx, key, &run.inputs.dataset_inputs)?;
    for m in &run.inputs.model_inputs {
        tx.prepare_cached("INSERT OR IGNORE INTO run_model_inputs (run_key, model_id) VALUES (?, ?)")?
            .execute(params![key, m.model_id])?;
    }
    for m in &run.outputs.model_outputs {
        tx.prepare_cached("INSERT OR REPLACE INTO run_model_outputs (run_key, model_id, step) VALUES (?, ?, ?)")?
            .execute(params![key, m.model_id, m.step])?;
    }
    Ok(())
}

pub(super) fn logged_model(tx: &Connection, item: &ImportedLoggedModel) -> StoreResult<Outcome> {
    let info = &item.model.info;
    if let Some(have) = logged_models::models_by_ids(tx, std::slice::from_ref(&info.model_id))?.pop() {
        return Ok(compare_logged_models(&item.model, &have));
    }
    let experiment_id = parse_id(&info.experiment_id, "experiment")?;
    let stage = if item.deleted { "deleted" } else { "active" };
    tx.prepare_cached(
        "INSERT INTO logged_models (model_id, experiment_id, name, creation_time, last_update_time, status,
                                    status_message, model_type, source_run_id, artifact_uri, lifecycle_stage)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        info.model_id,
        experiment_id,
        info.name,
        info.creation_timestamp,
        info.last_updated_timestamp,
        info.status.as_str(),
        info.status_message,
        info.model_type,
        info.source_run_id,
        info.artifact_uri,
        stage
    ])?;
    insert_pairs(tx, "logged_model_tags", &info.model_id, &info.tags)?;
    insert_pairs(tx, "logged_model_params", &info.model_id, &item.model.data.params)?;
    for m in &item.model.data.metrics {
        logged_model_metric(tx, &info.model_id, m)?;
    }
    Ok(Outcome::Inserted)
}

/// A logged model's latest value of one metric (the caller gives one per key).
fn logged_model_metric(tx: &Connection, model_id: &str, m: &Metric) -> StoreResult<()> {
    let (value, is_nan) = if m.value.is_nan() { (0.0, true) } else { (m.value, false) };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO logged_model_metrics (model_id, key, value, is_nan, timestamp, step, run_uuid,
                                                      dataset_name, dataset_digest)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        model_id,
        m.key,
        value,
        is_nan,
        m.timestamp,
        m.step,
        m.run_id,
        m.dataset_name,
        m.dataset_digest
    ])?;
    Ok(())
}
