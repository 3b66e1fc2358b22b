//! Experiments, runs and logged models with their ids (see `sqlite/import/tracking.rs`).

use flotilla_core::model::{Experiment, Tag};

use super::super::tx::Tx;
use super::super::{datasets, logged_models, metrics, rows};
use crate::error::StoreResult;
use crate::import::{
    ImportedLoggedModel, ImportedRun, Outcome, RunOutcome, compare_experiments, compare_logged_models, compare_runs,
};

fn parse_id(id: &str) -> StoreResult<i64> {
    id.parse().map_err(|_| flotilla_core::Error::invalid(format!("experiment id {id:?} is not a number")).into())
}

fn insert_pairs(
    tx: &mut Tx<'_>,
    sql: &str,
    owner: &(dyn postgres::types::ToSql + Sync),
    pairs: &[Tag],
) -> StoreResult<()> {
    for p in pairs {
        tx.execute(sql, &[owner, &p.key, &p.value])?;
    }
    Ok(())
}

pub(super) fn experiment(tx: &mut Tx<'_>, e: &Experiment) -> StoreResult<Outcome> {
    let id = parse_id(&e.experiment_id)?;
    if let Some(have) = rows::experiments_by_ids(tx, &[id])?.pop() {
        let outcome = compare_experiments(e, &have);
        let runs: i64 = tx.query_one("SELECT count(*) FROM runs WHERE experiment_id = 0", &[])?.get(0);
        let placeholder = have.experiment_id == "0"
            && have.name == "Default"
            && have.tags.is_empty()
            && have.artifact_location == "mlflow-artifacts:/0"
            && runs == 0;
        if outcome == Outcome::Unchanged || !placeholder {
            return Ok(outcome);
        }
        tx.execute("DELETE FROM experiments WHERE experiment_id = 0", &[])?;
    }
    if tx.query_opt("SELECT 1 FROM experiments WHERE name = $1", &[&e.name])?.is_some() {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    }
    tx.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &e.name, &e.artifact_location, &e.lifecycle_stage.as_str(), &e.creation_timestamp, &e.last_updated_timestamp],
    )?;
    insert_pairs(tx, "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)", &id, &e.tags)?;
    Ok(Outcome::Inserted)
}

pub(super) fn run(tx: &mut Tx<'_>, item: &ImportedRun) -> StoreResult<RunOutcome> {
    let info = &item.run.info;
    let existing: Option<i64> =
        tx.query_opt("SELECT run_key FROM runs WHERE run_uuid = $1", &[&info.run_id])?.map(|r| r.get(0));
    if let Some(key) = existing {
        let have = rows::runs_by_keys(tx, &[key])?.remove(0);
        let points: i64 = tx.query_one("SELECT count(*) FROM metrics WHERE run_key = $1", &[&key])?.get(0);
        let mut outcome = compare_runs(&item.run, &have);
        if points as usize != item.history.len() {
            outcome = match outcome {
                Outcome::Conflict(mut fields) => {
                    fields.push("metric_history".into());
                    Outcome::Conflict(fields)
                }
                Outcome::Inserted | Outcome::Unchanged => Outcome::Conflict(vec!["metric_history".into()]),
            };
        }
        return Ok(RunOutcome { outcome, points: points as u64 });
    }
    let experiment_id = parse_id(&info.experiment_id)?;
    if tx.query_opt("SELECT 1 FROM experiments WHERE experiment_id = $1", &[&experiment_id])?.is_none() {
        return Ok(RunOutcome { outcome: Outcome::Conflict(vec!["info.experiment_id".into()]), points: 0 });
    }
    let key: i64 = tx
        .query_one(
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage,
                               artifact_uri, deleted_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING run_key",
            &[
                &info.run_id,
                &experiment_id,
                &info.run_name,
                &info.user_id,
                &info.status.as_str(),
                &info.start_time,
                &info.end_time,
                &info.lifecycle_stage.as_str(),
                &info.artifact_uri,
                &item.deleted_time,
            ],
        )?
        .get(0);
    insert_pairs(tx, "INSERT INTO run_params (run_key, key, value) VALUES ($1, $2, $3)", &key, &item.run.data.params)?;
    insert_pairs(tx, "INSERT INTO run_tags (run_key, key, value) VALUES ($1, $2, $3)", &key, &item.run.data.tags)?;
    for slice in item.history.chunks(10_000) {
        metrics::insert_metrics(tx, key, &info.run_id, slice)?;
    }
    for input in &item.run.inputs.dataset_inputs {
        super::super::runs::insert_dataset_input(tx, key, experiment_id, input)?;
    }
    datasets::record_run_inputs(tx, key, &item.run.inputs.dataset_inputs)?;
    for m in &item.run.inputs.model_inputs {
        tx.execute(
            "INSERT INTO run_model_inputs (run_key, model_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&key, &m.model_id],
        )?;
    }
    for m in &item.run.outputs.model_outputs {
        tx.execute(
            "INSERT INTO run_model_outputs (run_key, model_id, step) VALUES ($1, $2, $3)
             ON CONFLICT (run_key, model_id) DO UPDATE SET step = excluded.step",
            &[&key, &m.model_id, &m.step],
        )?;
    }
    Ok(RunOutcome { outcome: Outcome::Inserted, points: item.history.len() as u64 })
}

pub(super) fn logged_model(tx: &mut Tx<'_>, item: &ImportedLoggedModel) -> StoreResult<Outcome> {
    let info = &item.model.info;
    if let Some(have) = logged_models::models_by_ids(tx, std::slice::from_ref(&info.model_id))?.pop() {
        return Ok(compare_logged_models(&item.model, &have));
    }
    let experiment_id = parse_id(&info.experiment_id)?;
    let stage = if item.deleted { "deleted" } else { "active" };
    tx.execute(
        "INSERT INTO logged_models (model_id, experiment_id, name, creation_time, last_update_time, status,
                                    status_message, model_type, source_run_id, artifact_uri, lifecycle_stage)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &info.model_id,
            &experiment_id,
            &info.name,
            &info.creation_timestamp,
            &info.last_updated_timestamp,
            &info.status.as_str(),
            &info.status_message,
            &info.model_type,
            &info.source_run_id,
            &info.artifact_uri,
            &stage,
        ],
    )?;
    let id: &(dyn postgres::types::ToSql + Sync) = &info.model_id;
    insert_pairs(tx, "INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3)", id, &info.tags)?;
    insert_pairs(
        tx,
        "INSERT INTO logged_model_params (model_id, key, value) VALUES ($1, $2, $3)",
        id,
        &item.model.data.params,
    )?;
    for m in &item.model.data.metrics {
        let (value, is_nan) = if m.value.is_nan() { (0.0, true) } else { (m.value, false) };
        tx.execute(
            "INSERT INTO logged_model_metrics (model_id, key, value, is_nan, timestamp, step, run_uuid, dataset_name,
                                               dataset_digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &info.model_id,
                &m.key,
                &value,
                &is_nan,
                &m.timestamp,
                &m.step,
                &m.run_id,
                &m.dataset_name,
                &m.dataset_digest,
            ],
        )?;
    }
    Ok(Outcome::Inserted)
}
