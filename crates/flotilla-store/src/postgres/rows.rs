//! Page-at-a-time entity loading on PostgreSQL (as `sqlite/rows.rs`): a
//! page's ids are bound as one array parameter (`= ANY($1)`), so a page of
//! any size is one statement per table.

use std::collections::HashMap;

use flotilla_core::model::{
    Dataset, DatasetInput, Experiment, LifecycleStage, Metric, ModelInput, ModelOutput, Run, RunData, RunInfo,
    RunInputs, RunOutputs, RunStatus, Tag,
};
use postgres::Row;

use super::Tx;
use crate::error::StoreResult;

pub(crate) fn experiments_by_ids(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<Vec<Experiment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut tags: HashMap<i64, Vec<Tag>> = HashMap::new();
    for r in tx.query(
        "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id = ANY($1) ORDER BY experiment_id, key",
        &[&ids],
    )? {
        tags.entry(r.get(0)).or_default().push(Tag::new(r.get::<_, String>(1), r.get::<_, String>(2)));
    }
    let mut by_id: HashMap<i64, Experiment> = HashMap::new();
    for r in tx.query(
        "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time \
         FROM experiments WHERE experiment_id = ANY($1)",
        &[&ids],
    )? {
        let id: i64 = r.get(0);
        by_id.insert(
            id,
            Experiment {
                experiment_id: id.to_string(),
                name: r.get(1),
                artifact_location: r.get(2),
                lifecycle_stage: LifecycleStage::parse(&r.get::<_, String>(3)).unwrap_or(LifecycleStage::Active),
                creation_timestamp: r.get(4),
                last_updated_timestamp: r.get(5),
                tags: tags.remove(&id).unwrap_or_default(),
                workspace: Default::default(),
            },
        );
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

pub(crate) fn metric_from_row(r: &Row, at: usize) -> Metric {
    let is_nan: bool = r.get(at + 2);
    Metric {
        key: r.get(at),
        value: if is_nan { f64::NAN } else { r.get(at + 1) },
        timestamp: r.get(at + 3),
        step: r.get(at + 4),
        model_id: r.get(at + 5),
        dataset_name: r.get(at + 6),
        dataset_digest: r.get(at + 7),
        run_id: None,
    }
}

pub(crate) const METRIC_COLUMNS: &str = "key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest";

fn run_info_from_row(r: &Row) -> RunInfo {
    let uuid: String = r.get(1);
    RunInfo {
        run_id: uuid.clone(),
        run_uuid: uuid,
        experiment_id: r.get::<_, i64>(2).to_string(),
        run_name: r.get(3),
        user_id: r.get(4),
        status: RunStatus::parse(&r.get::<_, String>(5)).unwrap_or(RunStatus::Running),
        start_time: r.get(6),
        end_time: r.get(7),
        lifecycle_stage: LifecycleStage::parse(&r.get::<_, String>(8)).unwrap_or(LifecycleStage::Active),
        artifact_uri: r.get(9),
    }
}

const RUN_INFO_COLUMNS: &str =
    "run_key, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri";

pub(crate) fn run_info(tx: &mut Tx<'_>, run_key: i64) -> StoreResult<RunInfo> {
    let sql = format!("SELECT {RUN_INFO_COLUMNS} FROM runs WHERE run_key = $1");
    Ok(run_info_from_row(&tx.query_one(&sql, &[&run_key])?))
}

/// Loads complete runs (info, latest metrics, params, tags, inputs, outputs)
/// for a page of run keys, one statement per table; each run's metrics,
/// params and tags sorted by key.
pub(crate) fn runs_by_keys(tx: &mut Tx<'_>, keys: &[i64]) -> StoreResult<Vec<Run>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let keys_vec = keys.to_vec();
    let mut runs: HashMap<i64, Run> = HashMap::with_capacity(keys.len());
    for r in tx.query(&format!("SELECT {RUN_INFO_COLUMNS} FROM runs WHERE run_key = ANY($1)"), &[&keys_vec])? {
        let run = Run {
            info: run_info_from_row(&r),
            data: RunData::default(),
            inputs: RunInputs::default(),
            outputs: RunOutputs::default(),
        };
        runs.insert(r.get(0), run);
    }
    let sql = format!("SELECT run_key, {METRIC_COLUMNS} FROM latest_metrics WHERE run_key = ANY($1)");
    for r in tx.query(&sql, &[&keys_vec])? {
        if let Some(run) = runs.get_mut(&r.get(0)) {
            run.data.metrics.push(metric_from_row(&r, 1));
        }
    }
    for (table, params) in [("run_params", true), ("run_tags", false)] {
        let sql = format!("SELECT run_key, key, value FROM {table} WHERE run_key = ANY($1)");
        for r in tx.query(&sql, &[&keys_vec])? {
            if let Some(run) = runs.get_mut(&r.get(0)) {
                let tag = Tag::new(r.get::<_, String>(1), r.get::<_, String>(2));
                if params { run.data.params.push(tag) } else { run.data.tags.push(tag) }
            }
        }
    }
    for r in tx.query(
        "SELECT i.run_key, i.tags_json, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
         FROM run_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id
         WHERE i.run_key = ANY($1) ORDER BY i.run_key, i.dataset_id",
        &[&keys_vec],
    )? {
        if let Some(run) = runs.get_mut(&r.get(0)) {
            let tags: Vec<Tag> = serde_json::from_str::<Vec<(String, String)>>(&r.get::<_, String>(1))
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect();
            let dataset = Dataset {
                name: r.get(2),
                digest: r.get(3),
                source_type: r.get(4),
                source: r.get(5),
                schema: r.get(6),
                profile: r.get(7),
            };
            run.inputs.dataset_inputs.push(DatasetInput { tags, dataset });
        }
    }
    for r in tx.query(
        "SELECT run_key, model_id FROM run_model_inputs WHERE run_key = ANY($1) ORDER BY run_key, model_id",
        &[&keys_vec],
    )? {
        if let Some(run) = runs.get_mut(&r.get(0)) {
            run.inputs.model_inputs.push(ModelInput { model_id: r.get(1) });
        }
    }
    for r in tx.query(
        "SELECT run_key, model_id, step FROM run_model_outputs WHERE run_key = ANY($1) ORDER BY run_key, model_id",
        &[&keys_vec],
    )? {
        if let Some(run) = runs.get_mut(&r.get(0)) {
            run.outputs.model_outputs.push(ModelOutput { model_id: r.get(1), step: r.get(2) });
        }
    }
    for run in runs.values_mut() {
        run.data.metrics.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        run.data.params.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        run.data.tags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(keys.iter().filter_map(|k| runs.remove(k)).collect())
}
