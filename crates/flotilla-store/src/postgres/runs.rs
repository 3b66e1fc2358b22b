//! Runs on PostgreSQL (as `sqlite/runs.rs`): lifecycle, params, metrics,
//! tags, dataset and model inputs/outputs, metric history, and `runs/search`
//! (its clauses and orders in `search_runs.rs`; metric points in `metrics.rs`).

use flotilla_core::filter::{Attr, Comparator, Field};
use flotilla_core::model::{
    DatasetInput, LifecycleStage, Metric, ModelInput, ModelOutput, Page, Run, RunInfo, Tag, ViewType,
};
use flotilla_core::{Error, validation};
use serde_json::json;

use super::metrics::{insert_metrics, run_metrics_changed};
use super::search_runs::{clause_sql, sort_keys};
use super::sql::{self, SortKey, Value};
use super::{PgStore, Tx, datasets, experiments, rows};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::sqlite::{new_hex_id, now_ms};
use crate::{NewRun, PageRequest, RunQuery, RunStore, RunUpdate, paging};

const RUN_NAME_TAG: &str = "mlflow.runName";
const LOG_MODEL_HISTORY_TAG: &str = "mlflow.log-model.history";

/// Resolves a run id to its integer key; fails with MLflow's not-found error.
pub(crate) fn run_key(tx: &mut Tx<'_>, run_id: &str) -> StoreResult<(i64, LifecycleStage)> {
    let found: Option<(i64, String)> = tx
        .query_opt("SELECT run_key, lifecycle_stage FROM runs WHERE run_uuid = $1", &[&run_id])?
        .map(|r| (r.get(0), r.get(1)));
    match found {
        Some((key, stage)) => Ok((key, LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active))),
        None => Err(Error::not_found(format!("Run with id={run_id} not found")).into()),
    }
}

fn active_run_key(tx: &mut Tx<'_>, run_id: &str) -> StoreResult<i64> {
    match run_key(tx, run_id)? {
        (key, LifecycleStage::Active) => Ok(key),
        (_, LifecycleStage::Deleted) => {
            Err(Error::invalid(format!("The run {run_id} must be in the 'active' state. Current state is deleted."))
                .into())
        }
    }
}

/// A run tag's key must be valid; a value over the limit is cut to it when stored
/// (`upsert_tag`), as MLflow does (MLFLOW_TRUNCATE_LONG_VALUES, on by default).
fn validate_tag(tag: &Tag) -> StoreResult<()> {
    validation::entity_key("Tag", &tag.key)?;
    Ok(())
}

fn validate_batch(metrics: &[Metric], params: &[Tag], tags: &[Tag]) -> StoreResult<()> {
    let too_many = |what: &str, n: usize, max: usize| {
        Error::invalid(format!(
            "A batch logging request can contain at most {max} {what}. Got {n} {what}. Please split up {what} across multiple requests and try again."
        ))
    };
    if metrics.len() > validation::MAX_METRICS_PER_BATCH {
        return Err(too_many("metrics", metrics.len(), validation::MAX_METRICS_PER_BATCH).into());
    }
    if params.len() > validation::MAX_PARAMS_PER_BATCH {
        return Err(too_many("params", params.len(), validation::MAX_PARAMS_PER_BATCH).into());
    }
    if tags.len() > validation::MAX_TAGS_PER_BATCH {
        return Err(too_many("tags", tags.len(), validation::MAX_TAGS_PER_BATCH).into());
    }
    let total = metrics.len() + params.len() + tags.len();
    if total > validation::MAX_ENTITIES_PER_BATCH {
        return Err(too_many("entities", total, validation::MAX_ENTITIES_PER_BATCH).into());
    }
    for m in metrics {
        validation::entity_key("Metric", &m.key)?;
    }
    for p in params {
        validation::entity_key("Param", &p.key)?;
    }
    tags.iter().try_for_each(validate_tag)
}

fn generated_run_name() -> String {
    const ADJECTIVES: [&str; 12] =
        ["amber", "bold", "calm", "deft", "eager", "fleet", "grand", "keen", "lucid", "nimble", "quiet", "swift"];
    const NOUNS: [&str; 12] = [
        "albatross",
        "barque",
        "corvette",
        "dinghy",
        "frigate",
        "galleon",
        "ketch",
        "lugger",
        "schooner",
        "sloop",
        "tender",
        "yawl",
    ];
    let n: u32 = rand::random();
    format!("{}-{}-{}", ADJECTIVES[(n % 12) as usize], NOUNS[((n / 12) % 12) as usize], (n / 144) % 1000)
}

fn upsert_tag(tx: &mut Tx<'_>, key: i64, tag: &Tag) -> StoreResult<()> {
    let value = validation::truncate(&tag.value, validation::MAX_TAG_VALUE_LENGTH);
    tx.execute(
        "INSERT INTO run_tags (run_key, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (run_key, key) DO UPDATE SET value = excluded.value",
        &[&key, &tag.key, &value],
    )?;
    if tag.key == RUN_NAME_TAG {
        tx.execute("UPDATE runs SET name = $1 WHERE run_key = $2", &[&value, &key])?;
    }
    Ok(())
}

fn insert_param(tx: &mut Tx<'_>, key: i64, run_id: &str, p: &Tag) -> StoreResult<()> {
    let value = validation::truncate(&p.value, validation::MAX_PARAM_VALUE_LENGTH);
    let existing: Option<String> = tx
        .query_opt("SELECT value FROM run_params WHERE run_key = $1 AND key = $2", &[&key, &p.key])?
        .map(|r| r.get(0));
    match existing {
        Some(old) if old == value => Ok(()),
        Some(old) => Err(Error::invalid(format!(
            "Changing param values is not allowed. Param with key='{}' was already logged with value='{old}' for run ID='{run_id}'. Attempted logging new value '{value}'.",
            p.key
        ))
        .into()),
        None => {
            tx.execute("INSERT INTO run_params (run_key, key, value) VALUES ($1, $2, $3)", &[&key, &p.key, &value])?;
            Ok(())
        }
    }
}

impl RunStore for PgStore {
    fn create_run(&self, new: &NewRun) -> StoreResult<Run> {
        validation::list_len("tags", new.tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
        new.tags.iter().try_for_each(validate_tag)?;
        if let Some(name) = &new.run_name {
            validation::run_name(name)?;
        }
        let experiment_id = experiments::parse_id(&new.experiment_id)?;
        self.write(|tx| {
            let location = experiments::active_location(tx, experiment_id)?;
            let run_id = new_hex_id();
            let tag_name = new.tags.iter().find(|t| t.key == RUN_NAME_TAG).map(|t| t.value.clone());
            let name = match (new.run_name.clone().filter(|n| !n.is_empty()), tag_name) {
                (Some(a), Some(b)) if a != b => {
                    return Err(Error::invalid(format!(
                        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{a}', mlflow.runName='{b}')."
                    ))
                    .into());
                }
                (Some(a), _) => a,
                (None, Some(b)) => b,
                (None, None) => generated_run_name(),
            };
            let artifact_uri = format!("{}/{run_id}/artifacts", location.trim_end_matches('/'));
            let start = new.start_time.unwrap_or_else(now_ms);
            let key: i64 = tx
                .query_one(
                    "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri)
                     VALUES ($1, $2, $3, $4, 'RUNNING', $5, 'active', $6) RETURNING run_key",
                    &[&run_id, &experiment_id, &name, &new.user_id, &start, &artifact_uri],
                )?
                .get(0);
            for tag in &new.tags {
                upsert_tag(tx, key, tag)?;
            }
            note(Change::new("run.create", "run", run_id.as_str())
                .diff(None, Some(json!({"experiment_id": experiment_id.to_string(), "run_name": name}))));
            upsert_tag(tx, key, &Tag::new(RUN_NAME_TAG, name))?;
            Ok(rows::runs_by_keys(tx, &[key])?.remove(0))
        })
    }

    fn get_run(&self, run_id: &str) -> StoreResult<Run> {
        self.read(|tx| {
            let (key, _) = run_key(tx, run_id)?;
            rows::runs_by_keys(tx, &[key])?
                .pop()
                .ok_or_else(|| Error::not_found(format!("Run with id={run_id} not found")).into())
        })
    }

    fn update_run(&self, run_id: &str, update: &RunUpdate) -> StoreResult<RunInfo> {
        if let Some(name) = &update.run_name {
            validation::run_name(name)?;
        }
        self.write(|tx| {
            let key = active_run_key(tx, run_id)?;
            let after = json!({"status": update.status.map(|s| s.as_str()), "end_time": update.end_time, "run_name": update.run_name});
            note(Change::new("run.update", "run", run_id).diff(None, Some(after)));
            if let Some(status) = update.status {
                tx.execute("UPDATE runs SET status = $1 WHERE run_key = $2", &[&status.as_str(), &key])?;
            }
            if let Some(end) = update.end_time {
                tx.execute("UPDATE runs SET end_time = $1 WHERE run_key = $2", &[&end, &key])?;
            }
            if let Some(name) = update.run_name.as_deref().filter(|n| !n.is_empty()) {
                upsert_tag(tx, key, &Tag::new(RUN_NAME_TAG, name))?;
            }
            rows::run_info(tx, key)
        })
    }

    fn log_batch(&self, run_id: &str, metrics: &[Metric], params: &[Tag], tags: &[Tag]) -> StoreResult<()> {
        validate_batch(metrics, params, tags)?;
        for (i, a) in params.iter().enumerate() {
            if let Some(b) = params[..i].iter().find(|b| b.key == a.key && b.value != a.value) {
                return Err(Error::invalid(format!(
                    "Duplicate parameter keys have been submitted: '{}' with values '{}' and '{}'.",
                    a.key, b.value, a.value
                ))
                .into());
            }
        }
        self.write(|tx| {
            let key = active_run_key(tx, run_id)?;
            for p in params {
                insert_param(tx, key, run_id, p)?;
            }
            insert_metrics(tx, key, run_id, metrics)?;
            if !metrics.is_empty() {
                run_metrics_changed(tx, run_id)?;
            }
            for t in tags {
                upsert_tag(tx, key, t)?;
            }
            // One compact row for the whole batch: counts, not the points.
            note(
                Change::new("run.log_batch", "run", run_id)
                    .diff(None, Some(json!({"metrics": metrics.len(), "params": params.len(), "tags": tags.len()})))
                    .count(metrics.len() + params.len() + tags.len()),
            );
            Ok(())
        })
    }

    fn delete_run_tag(&self, run_id: &str, tag_key: &str) -> StoreResult<()> {
        self.write(|tx| {
            let key = active_run_key(tx, run_id)?;
            note(Change::new("run.delete_tag", "run", run_id).diff(Some(json!({"key": tag_key})), None));
            let n = tx.execute("DELETE FROM run_tags WHERE run_key = $1 AND key = $2", &[&key, &tag_key])?;
            if n == 0 {
                return Err(Error::not_found(format!("No tag with name: {tag_key} in run with id {run_id}")).into());
            }
            Ok(())
        })
    }

    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput], models: &[ModelInput]) -> StoreResult<()> {
        validation::list_len("datasets", datasets.len(), validation::MAX_DATASETS_PER_BATCH)?;
        validation::list_len("models", models.len(), validation::MAX_MODELS_PER_REQUEST)?;
        for input in datasets {
            validation::list_len("dataset input tags", input.tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
            for tag in &input.tags {
                validation::input_tag(tag)?;
            }
            let d = &input.dataset;
            let checks = [
                ("name", d.name.len(), validation::MAX_DATASET_NAME_LENGTH),
                ("digest", d.digest.len(), validation::MAX_DATASET_DIGEST_LENGTH),
                ("source", d.source.len(), validation::MAX_DATASET_SOURCE_LENGTH),
                ("schema", d.schema.as_ref().map_or(0, String::len), validation::MAX_DATASET_SCHEMA_LENGTH),
                ("profile", d.profile.as_ref().map_or(0, String::len), validation::MAX_DATASET_PROFILE_LENGTH),
            ];
            for (field, len, max) in checks {
                if len > max {
                    return Err(Error::invalid(format!("Dataset {field} exceeds the maximum length of {max}")).into());
                }
            }
            if d.name.is_empty() || d.digest.is_empty() {
                return Err(Error::invalid("Dataset name and digest are required").into());
            }
        }
        self.write(|tx| {
            let key = active_run_key(tx, run_id)?;
            let experiment_id: i64 = tx.query_one("SELECT experiment_id FROM runs WHERE run_key = $1", &[&key])?.get(0);
            for input in datasets {
                note(Change::new("run.log_inputs", "run", run_id).count(datasets.len() + models.len()));
                insert_dataset_input(tx, key, experiment_id, input)?;
            }
            datasets::record_run_inputs(tx, key, datasets)?;
            for m in models {
                tx.execute(
                    "INSERT INTO run_model_inputs (run_key, model_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&key, &m.model_id],
                )?;
            }
            Ok(())
        })
    }

    fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> StoreResult<()> {
        validation::list_len("models", models.len(), validation::MAX_MODELS_PER_REQUEST)?;
        self.write(|tx| {
            let key = active_run_key(tx, run_id)?;
            note(Change::new("run.log_outputs", "run", run_id).count(models.len()));
            for m in models {
                tx.execute(
                    "INSERT INTO run_model_outputs (run_key, model_id, step) VALUES ($1, $2, $3)
                     ON CONFLICT (run_key, model_id) DO UPDATE SET step = excluded.step",
                    &[&key, &m.model_id, &m.step],
                )?;
            }
            Ok(())
        })
    }

    fn record_logged_model(&self, run_id: &str, model_json: &str) -> StoreResult<()> {
        let model = crate::model_info::parse(model_json)?;
        self.write(|tx| {
            let key = active_run_key(tx, run_id)?;
            note(Change::new("run.log_model", "run", run_id));
            let old: Option<String> = tx
                .query_opt(
                    "SELECT value FROM run_tags WHERE run_key = $1 AND key = $2",
                    &[&key, &LOG_MODEL_HISTORY_TAG],
                )?
                .map(|r| r.get(0));
            let mut history: Vec<serde_json::Value> =
                old.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
            history.push(model.clone());
            let mut value = serde_json::to_string(&history).unwrap_or_default();
            // Keep the newest entries within the tag limit rather than failing the client.
            while value.len() > validation::MAX_TAG_VALUE_LENGTH && history.len() > 1 {
                history.remove(0);
                value = serde_json::to_string(&history).unwrap_or_default();
            }
            upsert_tag(tx, key, &Tag::new(LOG_MODEL_HISTORY_TAG, value))
        })
    }

    fn metric_history(&self, run_id: &str, metric_key: &str, page: &PageRequest) -> StoreResult<Page<Metric>> {
        let limit = validation::page_size(page.max_results, validation::METRIC_HISTORY_PAGE, "metric history")?;
        let cursor = paging::decode_opt(page.page_token.as_deref(), 3)?;
        self.read(|tx| {
            let (key, _) = run_key(tx, run_id)?;
            let (step, ts, id) = match &cursor {
                Some(c) => (c[0].as_i64(), c[1].as_i64(), c[2].as_i64()),
                None => (Some(i64::MIN), Some(i64::MIN), Some(i64::MIN)),
            };
            let (Some(step), Some(ts), Some(id)) = (step, ts, id) else {
                return Err(Error::invalid("Invalid page token").into());
            };
            let sql = format!(
                "SELECT {}, id FROM metrics WHERE run_key = $1 AND key = $2 AND (step, timestamp, id) > ($3, $4, $5)
                 ORDER BY step, timestamp, id LIMIT $6",
                rows::METRIC_COLUMNS
            );
            let fetch = (limit + 1) as i64;
            let found = tx.query(&sql, &[&key, &metric_key, &step, &ts, &id, &fetch])?;
            let mut items = Vec::new();
            let mut next = None;
            let mut last = (0, 0, 0);
            for r in &found {
                if items.len() == limit {
                    next = Some(paging::encode(&vec![last.0.into(), last.1.into(), last.2.into()]));
                    break;
                }
                let m = rows::metric_from_row(r, 0);
                last = (m.step, m.timestamp, r.get::<_, i64>(8));
                items.push(m);
            }
            Ok(Page { items, next_page_token: next })
        })
    }

    fn delete_run(&self, run_id: &str) -> StoreResult<()> {
        self.set_run_stage(run_id, LifecycleStage::Deleted)
    }

    fn restore_run(&self, run_id: &str) -> StoreResult<()> {
        self.set_run_stage(run_id, LifecycleStage::Active)
    }

    fn search_runs(&self, q: &RunQuery) -> StoreResult<Page<Run>> {
        let limit = validation::page_size(q.page.max_results, validation::RUNS_PAGE, "runs")?;
        validation::list_len("experiment ids", q.experiment_ids.len(), validation::MAX_SEARCH_EXPERIMENT_IDS)?;
        let mut keys = Vec::new();
        for o in &q.order_by {
            sort_keys(o, &mut keys)?;
        }
        if !keys.iter().any(|k| k.expr == "r.start_time") {
            keys.push(SortKey::desc("r.start_time"));
        }
        if !keys.iter().any(|k| k.expr == "r.run_uuid") {
            keys.push(SortKey::asc("r.run_uuid"));
        }
        let cursor = paging::decode_opt(q.page.page_token.as_deref(), keys.len())?;
        let experiment_ids =
            q.experiment_ids.iter().map(|id| experiments::parse_id(id)).collect::<StoreResult<Vec<_>>>()?;

        // One experiment (the usual search) is an equality, so that the
        // `runs_by_experiment` index yields runs already in the default order
        // and the page stops early; a list of them needs a sort.
        let (experiments, experiment_arg) = match experiment_ids.as_slice() {
            [one] => ("r.experiment_id = ?".to_string(), vec![Value::Int(*one)]),
            many => (
                format!("r.experiment_id IN ({})", vec!["?"; many.len().max(1)].join(", ")),
                if many.is_empty() { vec![Value::Int(-1)] } else { many.iter().map(|id| Value::Int(*id)).collect() },
            ),
        };
        let mut args: Vec<Value> = experiment_arg;
        let mut sql = format!("SELECT r.run_key, {} FROM runs r WHERE {experiments}", sql::select_list(&keys));
        match q.view {
            ViewType::ActiveOnly => sql.push_str(" AND r.lifecycle_stage = 'active'"),
            ViewType::DeletedOnly => sql.push_str(" AND r.lifecycle_stage = 'deleted'"),
            ViewType::All => {}
        }
        for c in &q.filter {
            if c.cmp == Comparator::In && !matches!(c.field, Field::Attr(Attr::RunId) | Field::Dataset(_)) {
                return Err(Error::invalid("IN is only supported for run_id and dataset fields").into());
            }
            sql.push_str(" AND ");
            sql.push_str(&clause_sql(c, &mut args)?);
        }
        sql::finish(&mut sql, &keys, cursor.as_deref(), limit, &mut args);
        self.read(|tx| {
            let (run_keys, next) = sql::keyset_page_ids(tx, &sql, &args, keys.len(), limit)?;
            Ok(Page { items: rows::runs_by_keys(tx, &run_keys)?, next_page_token: next })
        })
    }
}

impl PgStore {
    fn set_run_stage(&self, run_id: &str, to: LifecycleStage) -> StoreResult<()> {
        self.write(|tx| {
            let (key, _) = run_key(tx, run_id)?;
            let action = if to == LifecycleStage::Deleted { "run.delete" } else { "run.restore" };
            note(Change::new(action, "run", run_id).diff(None, Some(json!({"lifecycle_stage": to.as_str()}))));
            let deleted_time = (to == LifecycleStage::Deleted).then(now_ms);
            tx.execute(
                "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_key = $3",
                &[&to.as_str(), &deleted_time, &key],
            )?;
            Ok(())
        })
    }
}

/// A dataset input of run `key` in `experiment_id`: the experiment's dataset
/// (kept if it is there) and the run's link to it with the input's tags.
pub(super) fn insert_dataset_input(
    tx: &mut Tx<'_>,
    key: i64,
    experiment_id: i64,
    input: &flotilla_core::model::DatasetInput,
) -> StoreResult<()> {
    let d = &input.dataset;
    tx.execute(
        "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        &[&experiment_id, &d.name, &d.digest, &d.source_type, &d.source, &d.schema, &d.profile],
    )?;
    let dataset_id: i64 = tx
        .query_one(
            "SELECT dataset_id FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
            &[&experiment_id, &d.name, &d.digest],
        )?
        .get(0);
    let tags: Vec<(&str, &str)> = input.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
    let tags_json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO run_inputs (run_key, dataset_id, tags_json) VALUES ($1, $2, $3)
         ON CONFLICT (run_key, dataset_id) DO UPDATE SET tags_json = excluded.tags_json",
        &[&key, &dataset_id, &tags_json],
    )?;
    Ok(())
}
