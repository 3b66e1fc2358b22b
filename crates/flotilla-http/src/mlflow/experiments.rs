//! Experiment endpoints.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use flotilla_app::search;
use flotilla_core::model::{Experiment, Tag, ViewType};
use flotilla_store::PageRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Paged, empty};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::permissions::{Owner, Sees};
use crate::wire::{Mlflow, lenient, required};

type Json = axum::Json<Value>;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mlflow/experiments/create", post(create))
        .route("/mlflow/experiments/get", get(get_experiment))
        .route("/mlflow/experiments/get-by-name", get(get_by_name))
        .route("/mlflow/experiments/search", get(search).post(search))
        .route("/mlflow/experiments/list", get(search))
        .route("/mlflow/experiments/delete", post(delete))
        .route("/mlflow/experiments/restore", post(restore))
        .route("/mlflow/experiments/update", post(update))
        .route("/mlflow/experiments/set-experiment-tag", post(set_tag))
        .route("/mlflow/experiments/delete-experiment-tag", post(delete_tag))
        .route("/mlflow/experiments/search-datasets", post(search_datasets))
}

#[derive(Deserialize)]
struct Create {
    name: Option<String>,
    artifact_location: Option<String>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    tags: Vec<Tag>,
}

async fn create(State(s): State<AppState>, owner: Owner, Mlflow(req): Mlflow<Create>) -> ApiResult<Json> {
    let name = required(&req.name, "name")?.to_string();
    let location = match req.artifact_location.as_deref().filter(|l| !l.is_empty()) {
        Some(l) => {
            flotilla_artifacts::validate_artifact_location(l)?;
            Some(l.to_string())
        }
        None => None,
    };
    let id = s.call(move |st| st.create_experiment_owned(&name, location.as_deref(), &req.tags, owner.0)).await?;
    Ok(axum::Json(json!({ "experiment_id": id })))
}

#[derive(Deserialize)]
struct ById {
    #[serde(default, deserialize_with = "lenient::string")]
    experiment_id: Option<String>,
}

async fn get_experiment(State(s): State<AppState>, Mlflow(req): Mlflow<ById>) -> ApiResult<Json> {
    let id = required(&req.experiment_id, "experiment_id")?.to_string();
    let e = s.call(move |st| st.get_experiment(&id)).await?;
    Ok(axum::Json(json!({ "experiment": e })))
}

#[derive(Deserialize)]
struct ByName {
    experiment_name: Option<String>,
}

async fn get_by_name(State(s): State<AppState>, Mlflow(req): Mlflow<ByName>) -> ApiResult<Json> {
    let name = required(&req.experiment_name, "experiment_name")?.to_string();
    let e = s.call(move |st| st.get_experiment_by_name(&name)).await?;
    Ok(axum::Json(json!({ "experiment": e })))
}

#[derive(Deserialize)]
struct Search {
    #[serde(default, deserialize_with = "lenient::i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    view_type: Option<String>,
}

pub(crate) fn view_type(v: Option<&str>) -> ApiResult<ViewType> {
    match v.filter(|v| !v.is_empty()) {
        None => Ok(ViewType::ActiveOnly),
        Some(v) => ViewType::parse(v).ok_or_else(|| ApiError::invalid(format!("Invalid view_type '{v}'"))),
    }
}

async fn search(State(s): State<AppState>, sees: Sees, Mlflow(req): Mlflow<Search>) -> ApiResult<Paged<Experiment>> {
    let view = view_type(req.view_type.as_deref())?;
    let page = PageRequest { max_results: req.max_results, page_token: req.page_token };
    let filter = req.filter.unwrap_or_default();
    let visible = sees.experiments();
    let page = s
        .call(move |st| {
            let query = search::experiments(&filter, &req.order_by, view, page)?;
            st.search_experiments(&flotilla_store::ExperimentQuery { visible, ..query })
        })
        .await?;
    Ok(Paged::new("experiments", page))
}

async fn delete(State(s): State<AppState>, Mlflow(req): Mlflow<ById>) -> ApiResult<Json> {
    let id = required(&req.experiment_id, "experiment_id")?.to_string();
    s.call(move |st| st.delete_experiment(&id)).await?;
    Ok(empty())
}

async fn restore(State(s): State<AppState>, Mlflow(req): Mlflow<ById>) -> ApiResult<Json> {
    let id = required(&req.experiment_id, "experiment_id")?.to_string();
    s.call(move |st| st.restore_experiment(&id)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct Update {
    #[serde(default, deserialize_with = "lenient::string")]
    experiment_id: Option<String>,
    new_name: Option<String>,
}

async fn update(State(s): State<AppState>, Mlflow(req): Mlflow<Update>) -> ApiResult<Json> {
    let id = required(&req.experiment_id, "experiment_id")?.to_string();
    // Renaming is all an update does, so MLflow requires the new name.
    let name = required(&req.new_name, "new_name")?.to_string();
    s.call(move |st| st.rename_experiment(&id, &name)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct SetTag {
    #[serde(default, deserialize_with = "lenient::string")]
    experiment_id: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

async fn set_tag(State(s): State<AppState>, Mlflow(req): Mlflow<SetTag>) -> ApiResult<Json> {
    let id = required(&req.experiment_id, "experiment_id")?.to_string();
    let key = required(&req.key, "key")?.to_string();
    let value = req.value.ok_or_else(|| ApiError::missing("value"))?;
    s.call(move |st| st.set_experiment_tag(&id, &Tag { key, value })).await?;
    Ok(empty())
}

async fn delete_tag(State(s): State<AppState>, Mlflow(req): Mlflow<SetTag>) -> ApiResult<Json> {
    let id = required(&req.experiment_id, "experiment_id")?.to_string();
    let key = required(&req.key, "key")?.to_string();
    s.call(move |st| st.delete_experiment_tag(&id, &key)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct SearchDatasets {
    #[serde(default, deserialize_with = "lenient::strings")]
    experiment_ids: Vec<String>,
}

/// The MLflow UI's dataset summaries of the experiments asked for, reduced
/// to the readable ones (as run search reduces them).
async fn search_datasets(
    State(s): State<AppState>,
    sees: Sees,
    Mlflow(req): Mlflow<SearchDatasets>,
) -> ApiResult<Json> {
    let asked = req.experiment_ids.len();
    let ids = if asked == 0 || asked > flotilla_store::datasets::MAX_SUMMARY_EXPERIMENTS {
        // The store names the mistake.
        req.experiment_ids
    } else {
        sees.readable_experiments(req.experiment_ids)
    };
    if ids.is_empty() && asked > 0 {
        return Ok(axum::Json(json!({})));
    }
    let summaries = s.call(move |st| st.search_dataset_summaries(&ids)).await?;
    if summaries.is_empty() {
        return Ok(axum::Json(json!({})));
    }
    Ok(axum::Json(json!({ "dataset_summaries": summaries })))
}
