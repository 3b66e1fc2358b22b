//! Run endpoints: lifecycle, logging (metric, param, tag, batch, inputs,
//! outputs, 2.x log-model), reads, search and metric history.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use flotilla_app::search;
use flotilla_core::model::{Dataset, DatasetInput, Metric, ModelInput, ModelOutput, Page, Run, RunStatus, Tag};
use flotilla_store::{NewRun, PageRequest, RunUpdate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::experiments::view_type;
use super::{Paged, empty};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::permissions::Sees;
use crate::wire::{Mlflow, lenient, required, run_id};

type Json = axum::Json<Value>;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mlflow/runs/create", post(create))
        .route("/mlflow/runs/get", get(get_run))
        .route("/mlflow/runs/update", post(update))
        .route("/mlflow/runs/delete", post(delete))
        .route("/mlflow/runs/restore", post(restore))
        .route("/mlflow/runs/log-metric", post(log_metric))
        .route("/mlflow/runs/log-parameter", post(log_param))
        .route("/mlflow/runs/set-tag", post(set_tag))
        .route("/mlflow/runs/delete-tag", post(delete_tag))
        .route("/mlflow/runs/log-batch", post(log_batch))
        .route("/mlflow/runs/log-inputs", post(log_inputs))
        .route("/mlflow/runs/outputs", post(log_outputs))
        .route("/mlflow/runs/log-model", post(log_model))
        .route("/mlflow/runs/search", post(search).get(search))
        .route("/mlflow/metrics/get-history", get(metric_history))
}

/// Fields every run-addressed request may carry.
#[derive(Deserialize)]
struct RunRef {
    run_id: Option<String>,
    run_uuid: Option<String>,
}

#[derive(Deserialize)]
struct Create {
    #[serde(default, deserialize_with = "lenient::string")]
    experiment_id: Option<String>,
    user_id: Option<String>,
    run_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::i64")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    tags: Vec<Tag>,
}

async fn create(State(s): State<AppState>, Mlflow(req): Mlflow<Create>) -> ApiResult<Json> {
    let new = NewRun {
        experiment_id: req.experiment_id.filter(|e| !e.is_empty()).unwrap_or_else(|| "0".into()),
        user_id: req.user_id.unwrap_or_default(),
        run_name: req.run_name,
        start_time: req.start_time,
        tags: req.tags,
    };
    let run = s.call(move |st| st.create_run(&new)).await?;
    // MLflow's create answer has no `outputs` (its get answer has them, empty or not).
    let mut run = serde_json::to_value(run).map_err(|_| ApiError::internal())?;
    if let Some(fields) = run.as_object_mut() {
        fields.remove("outputs");
    }
    Ok(axum::Json(json!({ "run": run })))
}

async fn get_run(State(s): State<AppState>, Mlflow(req): Mlflow<RunRef>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let run = s.call(move |st| st.get_run(&id)).await?;
    Ok(axum::Json(json!({ "run": run })))
}

#[derive(Deserialize)]
struct Update {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient::i64")]
    end_time: Option<i64>,
    run_name: Option<String>,
}

async fn update(State(s): State<AppState>, Mlflow(req): Mlflow<Update>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let status = match req.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => Some(RunStatus::parse(v).ok_or_else(|| ApiError::invalid(format!("Invalid run status '{v}'")))?),
    };
    let update = RunUpdate { status, end_time: req.end_time, run_name: req.run_name };
    let info = s.call(move |st| st.update_run(&id, &update)).await?;
    Ok(axum::Json(json!({ "run_info": info })))
}

async fn delete(State(s): State<AppState>, Mlflow(req): Mlflow<RunRef>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    s.call(move |st| st.delete_run(&id)).await?;
    Ok(empty())
}

async fn restore(State(s): State<AppState>, Mlflow(req): Mlflow<RunRef>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    s.call(move |st| st.restore_run(&id)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct WireMetric {
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::f64")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "lenient::i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient::i64")]
    step: Option<i64>,
    model_id: Option<String>,
    dataset_name: Option<String>,
    dataset_digest: Option<String>,
}

impl WireMetric {
    fn into_metric(self) -> ApiResult<Metric> {
        Ok(Metric {
            key: self.key.filter(|k| !k.is_empty()).ok_or_else(|| ApiError::missing("key"))?,
            value: self.value.ok_or_else(|| ApiError::missing("value"))?,
            timestamp: self.timestamp.ok_or_else(|| ApiError::missing("timestamp"))?,
            step: self.step.unwrap_or(0),
            model_id: self.model_id.filter(|m| !m.is_empty()),
            dataset_name: self.dataset_name.filter(|m| !m.is_empty()),
            dataset_digest: self.dataset_digest.filter(|m| !m.is_empty()),
            run_id: None,
        })
    }
}

#[derive(Deserialize)]
struct WirePair {
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    value: Option<String>,
}

impl WirePair {
    fn into_tag(self) -> ApiResult<Tag> {
        Ok(Tag {
            key: self.key.filter(|k| !k.is_empty()).ok_or_else(|| ApiError::missing("key"))?,
            // MLflow stores a param or tag sent without a value as an empty one.
            value: self.value.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize)]
struct LogMetric {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(flatten)]
    metric: WireMetric,
}

async fn log_metric(State(s): State<AppState>, Mlflow(req): Mlflow<LogMetric>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let metric = req.metric.into_metric()?;
    s.call(move |st| st.log_batch(&id, &[metric], &[], &[])).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct LogPair {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(flatten)]
    pair: WirePair,
}

async fn log_param(State(s): State<AppState>, Mlflow(req): Mlflow<LogPair>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let param = req.pair.into_tag()?;
    s.call(move |st| st.log_batch(&id, &[], &[param], &[])).await?;
    Ok(empty())
}

async fn set_tag(State(s): State<AppState>, Mlflow(req): Mlflow<LogPair>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let tag = req.pair.into_tag()?;
    s.call(move |st| st.log_batch(&id, &[], &[], &[tag])).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct DeleteTag {
    run_id: Option<String>,
    run_uuid: Option<String>,
    key: Option<String>,
}

async fn delete_tag(State(s): State<AppState>, Mlflow(req): Mlflow<DeleteTag>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let key = required(&req.key, "key")?.to_string();
    s.call(move |st| st.delete_run_tag(&id, &key)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct LogBatch {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    metrics: Vec<WireMetric>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    params: Vec<WirePair>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    tags: Vec<WirePair>,
}

async fn log_batch(State(s): State<AppState>, Mlflow(req): Mlflow<LogBatch>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let metrics = req.metrics.into_iter().map(WireMetric::into_metric).collect::<ApiResult<Vec<_>>>()?;
    let params = req.params.into_iter().map(WirePair::into_tag).collect::<ApiResult<Vec<_>>>()?;
    let tags = req.tags.into_iter().map(WirePair::into_tag).collect::<ApiResult<Vec<_>>>()?;
    s.call(move |st| st.log_batch(&id, &metrics, &params, &tags)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct WireDatasetInput {
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    tags: Vec<Tag>,
    dataset: Option<Dataset>,
}

#[derive(Deserialize)]
struct LogInputs {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    datasets: Vec<WireDatasetInput>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    models: Vec<WireModelRef>,
}

#[derive(Deserialize)]
struct WireModelRef {
    model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::i64")]
    step: Option<i64>,
}

async fn log_inputs(State(s): State<AppState>, Mlflow(req): Mlflow<LogInputs>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let datasets = req
        .datasets
        .into_iter()
        .map(|d| Ok(DatasetInput { tags: d.tags, dataset: d.dataset.ok_or_else(|| ApiError::missing("dataset"))? }))
        .collect::<ApiResult<Vec<_>>>()?;
    let models = req
        .models
        .into_iter()
        .map(|m| Ok(ModelInput { model_id: required(&m.model_id, "model_id")?.to_string() }))
        .collect::<ApiResult<Vec<_>>>()?;
    s.call(move |st| st.log_inputs(&id, &datasets, &models)).await?;
    Ok(empty())
}

async fn log_outputs(State(s): State<AppState>, Mlflow(req): Mlflow<LogInputs>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let models = req
        .models
        .into_iter()
        .map(|m| {
            Ok(ModelOutput { model_id: required(&m.model_id, "model_id")?.to_string(), step: m.step.unwrap_or(0) })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    s.call(move |st| st.log_outputs(&id, &models)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct LogModel {
    run_id: Option<String>,
    run_uuid: Option<String>,
    model_json: Option<String>,
}

async fn log_model(State(s): State<AppState>, Mlflow(req): Mlflow<LogModel>) -> ApiResult<Json> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let model_json = required(&req.model_json, "model_json")?.to_string();
    s.call(move |st| st.record_logged_model(&id, &model_json)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct Search {
    #[serde(default, deserialize_with = "lenient::strings")]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::strings")]
    order_by: Vec<String>,
    page_token: Option<String>,
}

async fn search(State(s): State<AppState>, sees: Sees, Mlflow(req): Mlflow<Search>) -> ApiResult<Paged<Run>> {
    let view = view_type(req.run_view_type.as_deref())?;
    let page = PageRequest { max_results: req.max_results, page_token: req.page_token };
    let asked = !req.experiment_ids.is_empty();
    let (ids, filter) = (sees.readable_experiments(req.experiment_ids), req.filter.unwrap_or_default());
    if ids.is_empty() && (asked || !sees.experiments().is_everything()) {
        // None of them readable (or none named while some are hidden): nothing to search.
        return Ok(Paged::omitting_empty("runs", Page { items: Vec::new(), next_page_token: None }));
    }
    let page = s.call(move |st| st.search_runs(&search::runs(ids, &filter, &req.order_by, view, page)?)).await?;
    Ok(Paged::omitting_empty("runs", page))
}

#[derive(Deserialize)]
struct History {
    run_id: Option<String>,
    run_uuid: Option<String>,
    metric_key: Option<String>,
    page_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::i64")]
    max_results: Option<i64>,
}

async fn metric_history(State(s): State<AppState>, Mlflow(req): Mlflow<History>) -> ApiResult<Paged<Metric>> {
    let id = run_id(&req.run_id, &req.run_uuid)?.to_string();
    let key = required(&req.metric_key, "metric_key")?.to_string();
    let page = PageRequest { max_results: req.max_results, page_token: req.page_token };
    let page = s.call(move |st| st.metric_history(&id, &key, &page)).await?;
    // An unknown key's history is `{}` in MLflow, not an empty list.
    Ok(Paged::omitting_empty("metrics", page))
}
