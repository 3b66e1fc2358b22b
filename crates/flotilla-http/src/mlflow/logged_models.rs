//! MLflow 3.x logged-model endpoints (`/mlflow/logged-models/...`).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use flotilla_app::search;
use flotilla_core::model::{LoggedModel, LoggedModelStatus, Page, Tag};
use flotilla_store::{NewLoggedModel, PageRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Paged, empty};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::permissions::Sees;
use crate::wire::{Mlflow, lenient, required};

type Json = axum::Json<Value>;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mlflow/logged-models", post(create))
        .route("/mlflow/logged-models/search", post(search))
        .route("/mlflow/logged-models/{model_id}", get(get_model).patch(finalize).delete(delete))
        .route("/mlflow/logged-models/{model_id}/tags", axum::routing::patch(set_tags))
        .route("/mlflow/logged-models/{model_id}/tags/{tag_key}", axum::routing::delete(delete_tag))
        .route("/mlflow/logged-models/{model_id}/params", post(log_params))
        .route("/mlflow/logged-models/{model_id}/artifacts/directories", get(list_artifacts))
}

#[derive(Deserialize)]
struct Create {
    #[serde(default, deserialize_with = "lenient::string")]
    experiment_id: Option<String>,
    name: Option<String>,
    model_type: Option<String>,
    source_run_id: Option<String>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    params: Vec<Tag>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    tags: Vec<Tag>,
}

async fn create(State(s): State<AppState>, Mlflow(req): Mlflow<Create>) -> ApiResult<Json> {
    let new = NewLoggedModel {
        experiment_id: required(&req.experiment_id, "experiment_id")?.to_string(),
        name: req.name,
        model_type: req.model_type,
        source_run_id: req.source_run_id.filter(|r| !r.is_empty()),
        params: req.params,
        tags: req.tags,
    };
    let m = s.call(move |st| st.create_logged_model(&new)).await?;
    Ok(axum::Json(json!({ "model": m })))
}

async fn get_model(State(s): State<AppState>, Path(model_id): Path<String>) -> ApiResult<Json> {
    let m = s.call(move |st| st.get_logged_model(&model_id)).await?;
    Ok(axum::Json(json!({ "model": m })))
}

#[derive(Deserialize)]
struct Finalize {
    #[serde(default, deserialize_with = "lenient::string")]
    status: Option<String>,
}

async fn finalize(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    Mlflow(req): Mlflow<Finalize>,
) -> ApiResult<Json> {
    let raw = required(&req.status, "status")?;
    let status = LoggedModelStatus::parse(raw)
        .ok_or_else(|| ApiError::invalid(format!("Invalid logged model status '{raw}'")))?;
    let m = s.call(move |st| st.finalize_logged_model(&model_id, status)).await?;
    Ok(axum::Json(json!({ "model": m })))
}

async fn delete(State(s): State<AppState>, Path(model_id): Path<String>) -> ApiResult<Json> {
    s.call(move |st| st.delete_logged_model(&model_id)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct Pairs {
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    tags: Vec<Tag>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    params: Vec<Tag>,
}

async fn set_tags(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    Mlflow(req): Mlflow<Pairs>,
) -> ApiResult<Json> {
    let m = s.call(move |st| st.set_logged_model_tags(&model_id, &req.tags)).await?;
    Ok(axum::Json(json!({ "model": m })))
}

async fn delete_tag(State(s): State<AppState>, Path((model_id, key)): Path<(String, String)>) -> ApiResult<Json> {
    s.call(move |st| st.delete_logged_model_tag(&model_id, &key)).await?;
    Ok(empty())
}

async fn log_params(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    Mlflow(req): Mlflow<Pairs>,
) -> ApiResult<Json> {
    s.call(move |st| st.log_logged_model_params(&model_id, &req.params)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct OrderBy {
    field_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool")]
    ascending: Option<bool>,
}

#[derive(Deserialize)]
struct Search {
    #[serde(default, deserialize_with = "lenient::strings")]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    order_by: Vec<OrderBy>,
    page_token: Option<String>,
}

async fn search(State(s): State<AppState>, sees: Sees, Mlflow(req): Mlflow<Search>) -> ApiResult<Paged<LoggedModel>> {
    let order_by = req
        .order_by
        .into_iter()
        .map(|o| Ok((required(&o.field_name, "field_name")?.to_string(), o.ascending.unwrap_or(true))))
        .collect::<ApiResult<Vec<_>>>()?;
    let page = PageRequest { max_results: req.max_results, page_token: req.page_token };
    let asked = !req.experiment_ids.is_empty();
    let (ids, filter) = (sees.readable_experiments(req.experiment_ids), req.filter.unwrap_or_default());
    // No match is `{}` in MLflow, not an empty list.
    if ids.is_empty() && (asked || !sees.experiments().is_everything()) {
        return Ok(Paged::omitting_empty("models", Page { items: Vec::new(), next_page_token: None }));
    }
    let page =
        s.call(move |st| st.search_logged_models(&search::logged_models(ids, &filter, &order_by, page)?)).await?;
    Ok(Paged::omitting_empty("models", page))
}

#[derive(Deserialize)]
struct ListArtifacts {
    artifact_directory_path: Option<String>,
}

async fn list_artifacts(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    Mlflow(req): Mlflow<ListArtifacts>,
) -> ApiResult<Json> {
    let model = s.call(move |st| st.get_logged_model(&model_id)).await?;
    crate::artifacts::list_under(&s, model.info.artifact_uri, req.artifact_directory_path.as_deref().unwrap_or(""))
        .await
}
