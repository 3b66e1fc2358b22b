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

/// Every row of a page of runs in one statement, so loading a run is one
/// round trip to the server: the runs and each child table's rows, told
/// apart by `kind`, in a shared layout (`t1`..`t7` text, `f` a float, `b` a
/// flag, `i1`..`i3` integers), children in their documented order.
const RUN_ROWS: &str = "
    SELECT 0 AS kind, run_key, run_uuid AS t1, name AS t2, user_id AS t3, status AS t4, lifecycle_stage AS t5,
           artifact_uri AS t6, NULL::text AS t7, NULL::float8 AS f, NULL::bool AS b,
           experiment_id AS i1, start_time AS i2, end_time AS i3, 0::bigint AS ord, ''::text AS ord_text
      FROM runs WHERE run_key = ANY($1)
    UNION ALL
    SELECT 1, run_key, key, model_id, dataset_name, dataset_digest, NULL, NULL, NULL, value, is_nan,
           timestamp, step, NULL, 0, key
      FROM latest_metrics WHERE run_key = ANY($1)
    UNION ALL
    SELECT 2, run_key, key, value, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, key
      FROM run_params WHERE run_key = ANY($1)
    UNION ALL
    SELECT 3, run_key, key, value, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, key
      FROM run_tags WHERE run_key = ANY($1)
    UNION ALL
    SELECT 4, i.run_key, i.tags_json, d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
           NULL, NULL, NULL, NULL, NULL, i.dataset_id, ''
      FROM run_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_key = ANY($1)
    UNION ALL
    SELECT 5, run_key, model_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, model_id
      FROM run_model_inputs WHERE run_key = ANY($1)
    UNION ALL
    SELECT 6, run_key, model_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, step, NULL, NULL, 0, model_id
      FROM run_model_outputs WHERE run_key = ANY($1)
    ORDER BY kind, run_key, ord, ord_text";

/// Loads complete runs (info, latest metrics, params, tags, inputs, outputs)
/// for a page of run keys in one statement ([`RUN_ROWS`]); each run's
/// metrics, params and tags by key, inputs in the order they were logged,
/// model inputs and outputs by model id; runs in the order of `keys`.
pub(crate) fn runs_by_keys(tx: &mut Tx<'_>, keys: &[i64]) -> StoreResult<Vec<Run>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let keys_vec = keys.to_vec();
    let mut runs: HashMap<i64, Run> = HashMap::with_capacity(keys.len());
    for r in tx.query(RUN_ROWS, &[&keys_vec])? {
        let (kind, key): (i32, i64) = (r.get(0), r.get(1));
        if kind == 0 {
            let uuid: String = r.get(2);
            let info = RunInfo {
                run_id: uuid.clone(),
                run_uuid: uuid,
                experiment_id: r.get::<_, i64>(11).to_string(),
                run_name: r.get(3),
                user_id: r.get(4),
                status: RunStatus::parse(&r.get::<_, String>(5)).unwrap_or(RunStatus::Running),
                start_time: r.get(12),
                end_time: r.get(13),
                lifecycle_stage: LifecycleStage::parse(&r.get::<_, String>(6)).unwrap_or(LifecycleStage::Active),
                artifact_uri: r.get(7),
            };
            runs.insert(
                key,
                Run { info, data: RunData::default(), inputs: RunInputs::default(), outputs: RunOutputs::default() },
            );
            continue;
        }
        // Runs come first (kind 0), so a child finds its run.
        let Some(run) = runs.get_mut(&key) else { continue };
        match kind {
            1 => {
                let is_nan: bool = r.get(10);
                run.data.metrics.push(Metric {
                    key: r.get(2),
                    value: if is_nan { f64::NAN } else { r.get(9) },
                    timestamp: r.get(11),
                    step: r.get(12),
                    model_id: r.get(3),
                    dataset_name: r.get(4),
                    dataset_digest: r.get(5),
                    run_id: None,
                });
            }
            2 => run.data.params.push(Tag::new(r.get::<_, String>(2), r.get::<_, String>(3))),
            3 => run.data.tags.push(Tag::new(r.get::<_, String>(2), r.get::<_, String>(3))),
            4 => {
                let tags: Vec<Tag> = serde_json::from_str::<Vec<(String, String)>>(&r.get::<_, String>(2))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| Tag::new(k, v))
                    .collect();
                let dataset = Dataset {
                    name: r.get(3),
                    digest: r.get(4),
                    source_type: r.get(5),
                    source: r.get(6),
                    schema: r.get(7),
                    profile: r.get(8),
                };
                run.inputs.dataset_inputs.push(DatasetInput { tags, dataset });
            }
            5 => run.inputs.model_inputs.push(ModelInput { model_id: r.get(2) }),
            _ => run.outputs.model_outputs.push(ModelOutput { model_id: r.get(2), step: r.get(11) }),
        }
    }
    // By key in byte order, whatever collation the union's sort column took.
    for run in runs.values_mut() {
        run.data.metrics.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        run.data.params.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        run.data.tags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(keys.iter().filter_map(|k| runs.remove(k)).collect())
}
