//! Experiments, runs (params, tags, history, inputs, outputs) and logged
//! models as an MLflow SQL store holds them.

use std::collections::HashMap;

use flotilla_core::model::{
    Dataset, DatasetInput, Experiment, LifecycleStage, LoggedModel, LoggedModelData, LoggedModelInfo,
    LoggedModelStatus, Metric, ModelInput, ModelOutput, Run, RunData, RunInfo, RunInputs, RunOutputs, RunStatus, Tag,
};
use flotilla_store::import::{ImportedLoggedModel, ImportedRun};
use rusqlite::params_from_iter;

use super::Source;
use crate::ImportResult;

fn stage(s: Option<String>) -> LifecycleStage {
    s.as_deref().and_then(LifecycleStage::parse).unwrap_or(LifecycleStage::Active)
}

/// `(owner, key, value)` rows grouped by owner.
fn pairs(source: &Source, sql: &str, ids: &[String]) -> ImportResult<HashMap<String, Vec<Tag>>> {
    let mut out: HashMap<String, Vec<Tag>> = HashMap::new();
    let mut stmt = source.conn().prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(ids))?;
    while let Some(r) = rows.next()? {
        let value: Option<String> = r.get(2)?;
        out.entry(r.get(0)?).or_default().push(Tag::new(r.get::<_, String>(1)?, value.unwrap_or_default()));
    }
    Ok(out)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl Source {
    /// The default workspace's experiments, by id.
    pub fn experiments(&self) -> ImportResult<Vec<Experiment>> {
        let ws = self.in_default_workspace("experiments")?;
        let tags = pairs(
            self,
            &format!(
                "SELECT CAST(experiment_id AS TEXT), key, value FROM experiment_tags
                 WHERE experiment_id IN (SELECT experiment_id FROM experiments WHERE {ws})"
            ),
            &[],
        )?;
        let mut tags = tags;
        let mut stmt = self.conn().prepare(&format!(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time
             FROM experiments WHERE {ws} ORDER BY experiment_id"
        ))?;
        let rows = stmt.query_map([], |r| {
            let id: i64 = r.get(0)?;
            Ok(Experiment {
                experiment_id: id.to_string(),
                name: r.get(1)?,
                artifact_location: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                lifecycle_stage: stage(r.get(3)?),
                creation_timestamp: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                last_updated_timestamp: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                tags: Vec::new(),
            })
        })?;
        let mut out = Vec::new();
        for e in rows {
            let mut e = e?;
            e.tags = tags.remove(&e.experiment_id).unwrap_or_default();
            out.push(e);
        }
        Ok(out)
    }

    fn runs_filter(&self) -> ImportResult<String> {
        let ws = self.in_default_workspace("experiments")?;
        Ok(format!("experiment_id IN (SELECT experiment_id FROM experiments WHERE {ws})"))
    }

    /// Every run id (in id order) and whether it is deleted.
    pub fn run_ids(&self) -> ImportResult<Vec<(String, bool)>> {
        let filter = self.runs_filter()?;
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT run_uuid, lifecycle_stage FROM runs WHERE {filter} ORDER BY run_uuid"))?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.as_deref() == Some("deleted"))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Metric points of the source's runs, in all.
    pub fn metric_points(&self) -> ImportResult<u64> {
        let filter = self.runs_filter()?;
        self.count(&format!(
            "SELECT count(*) FROM metrics WHERE run_uuid IN (SELECT run_uuid FROM runs WHERE {filter})"
        ))
    }

    /// These runs, complete, in the order asked.
    pub fn runs(&self, ids: &[String]) -> ImportResult<Vec<ImportedRun>> {
        let list = placeholders(ids.len());
        let deleted_time = self.column_or_null("runs", "deleted_time")?;
        let sql = format!(
            "SELECT run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri,
                    {deleted_time} FROM runs WHERE run_uuid IN ({list})"
        );
        let mut by_id: HashMap<String, ImportedRun> = HashMap::with_capacity(ids.len());
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(ids))?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let info = RunInfo {
                run_id: id.clone(),
                run_uuid: id.clone(),
                experiment_id: r.get::<_, i64>(1)?.to_string(),
                run_name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                user_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                status: r
                    .get::<_, Option<String>>(4)?
                    .as_deref()
                    .and_then(RunStatus::parse)
                    .unwrap_or(RunStatus::Running),
                start_time: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                end_time: r.get(6)?,
                lifecycle_stage: stage(r.get(7)?),
                artifact_uri: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
            };
            let run =
                Run { info, data: RunData::default(), inputs: RunInputs::default(), outputs: RunOutputs::default() };
            by_id.insert(id, ImportedRun { run, deleted_time: r.get(9)?, history: Vec::new() });
        }
        let mut params =
            pairs(self, &format!("SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({list})"), ids)?;
        let mut tags = pairs(self, &format!("SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({list})"), ids)?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT run_uuid, key, value, is_nan, timestamp, step FROM metrics WHERE run_uuid IN ({list})
             ORDER BY run_uuid, key, step, timestamp"
        ))?;
        let mut rows = stmt.query(params_from_iter(ids))?;
        while let Some(r) = rows.next()? {
            if let Some(run) = by_id.get_mut(&r.get::<_, String>(0)?) {
                let is_nan: bool = r.get::<_, Option<bool>>(3)?.unwrap_or(false);
                run.history.push(Metric {
                    key: r.get(1)?,
                    value: if is_nan { f64::NAN } else { r.get(2)? },
                    timestamp: r.get(4)?,
                    step: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                    model_id: None,
                    dataset_name: None,
                    dataset_digest: None,
                    run_id: None,
                });
            }
        }
        if self.has_table("inputs")? {
            self.read_inputs(ids, &mut by_id)?;
        }
        for (id, run) in &mut by_id {
            run.run.data.params = params.remove(id).unwrap_or_default();
            run.run.data.tags = tags.remove(id).unwrap_or_default();
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    fn read_inputs(&self, ids: &[String], by_id: &mut HashMap<String, ImportedRun>) -> ImportResult<()> {
        let list = placeholders(ids.len());
        let has_tags = self.has_table("input_tags")?;
        let input_tags = if has_tags {
            pairs(
                self,
                &format!(
                    "SELECT t.input_uuid, t.name, t.value FROM input_tags t JOIN inputs i ON i.input_uuid = t.input_uuid
                     WHERE i.destination_type = 'RUN' AND i.destination_id IN ({list})"
                ),
                ids,
            )?
        } else {
            HashMap::new()
        };
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source,
                    d.dataset_schema, d.dataset_profile
             FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
             WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id IN ({list})"
        ))?;
        let mut rows = stmt.query(params_from_iter(ids))?;
        while let Some(r) = rows.next()? {
            if let Some(run) = by_id.get_mut(&r.get::<_, String>(0)?) {
                let input_uuid: String = r.get(1)?;
                let dataset = Dataset {
                    name: r.get(2)?,
                    digest: r.get(3)?,
                    source_type: r.get(4)?,
                    source: r.get(5)?,
                    schema: r.get(6)?,
                    profile: r.get(7)?,
                };
                let tags = input_tags.get(&input_uuid).cloned().unwrap_or_default();
                run.run.inputs.dataset_inputs.push(DatasetInput { tags, dataset });
            }
        }
        let step = self.column_or_null("inputs", "step")?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT source_type, source_id, destination_id, {step} FROM inputs
             WHERE source_type IN ('RUN_INPUT', 'RUN_OUTPUT') AND source_id IN ({list})"
        ))?;
        let mut rows = stmt.query(params_from_iter(ids))?;
        while let Some(r) = rows.next()? {
            if let Some(run) = by_id.get_mut(&r.get::<_, String>(1)?) {
                let model_id: String = r.get(2)?;
                if r.get::<_, String>(0)? == "RUN_INPUT" {
                    run.run.inputs.model_inputs.push(ModelInput { model_id });
                } else {
                    let step = r.get::<_, Option<i64>>(3)?.unwrap_or(0);
                    run.run.outputs.model_outputs.push(ModelOutput { model_id, step });
                }
            }
        }
        Ok(())
    }

    /// Logged models (3.x; none before), each metric at its latest point.
    pub fn logged_models(&self) -> ImportResult<Vec<ImportedLoggedModel>> {
        if !self.has_table("logged_models")? {
            return Ok(Vec::new());
        }
        let filter = self.runs_filter()?;
        let mut tags = pairs(self, "SELECT model_id, tag_key, tag_value FROM logged_model_tags", &[])?;
        let mut params = pairs(self, "SELECT model_id, param_key, param_value FROM logged_model_params", &[])?;
        let mut metrics: HashMap<String, Vec<Metric>> = HashMap::new();
        let mut stmt = self.conn().prepare(
            "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, dataset_name, dataset_digest
             FROM logged_model_metrics ORDER BY model_id, metric_name, metric_step, metric_timestamp_ms",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let model_id: String = r.get(0)?;
            let metric = Metric {
                key: r.get(1)?,
                value: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
                timestamp: r.get(3)?,
                step: r.get(4)?,
                model_id: Some(model_id.clone()),
                dataset_name: r.get(6)?,
                dataset_digest: r.get(7)?,
                run_id: r.get(5)?,
            };
            let list = metrics.entry(model_id).or_default();
            // Rows come in (key, step, time) order: a later row of a key is its latest point.
            match list.last_mut() {
                Some(last) if last.key == metric.key => *last = metric,
                _ => list.push(metric),
            }
        }
        let mut stmt = self.conn().prepare(&format!(
            "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms,
                    status, lifecycle_stage, model_type, source_run_id, status_message
             FROM logged_models WHERE {filter} ORDER BY model_id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let model_id: String = r.get(0)?;
            let status = r.get::<_, Option<i64>>(6)?.unwrap_or(0);
            let info = LoggedModelInfo {
                model_id: model_id.clone(),
                experiment_id: r.get::<_, i64>(1)?.to_string(),
                name: r.get(2)?,
                artifact_uri: r.get(3)?,
                creation_timestamp: r.get(4)?,
                last_updated_timestamp: r.get(5)?,
                status: LoggedModelStatus::parse(&status.to_string()).unwrap_or(LoggedModelStatus::Pending),
                model_type: r.get(8)?,
                source_run_id: r.get(9)?,
                status_message: r.get(10)?,
                tags: tags.remove(&model_id).unwrap_or_default(),
            };
            let data = LoggedModelData {
                params: params.remove(&model_id).unwrap_or_default(),
                metrics: metrics.remove(&model_id).unwrap_or_default(),
            };
            let deleted = r.get::<_, Option<String>>(7)?.as_deref() == Some("deleted");
            out.push(ImportedLoggedModel { model: LoggedModel { info, data }, deleted });
        }
        Ok(out)
    }
}
