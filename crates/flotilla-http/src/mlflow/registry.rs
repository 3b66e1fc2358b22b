//! Model registry endpoints: registered models, versions, tags, aliases,
//! stages and download URIs.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use flotilla_app::search;
use flotilla_core::Error;
use flotilla_core::model::{ModelVersion, RegisteredModel, Tag};
use flotilla_store::fleet::ChangeContext;
use flotilla_store::{NewModelVersion, PageRequest, RegistryQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::models::{check_source, download_uri};
use super::{Paged, empty};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::permissions::{Owner, Sees};
use crate::wire::{Mlflow, lenient, required};

type Json = axum::Json<Value>;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mlflow/registered-models/create", post(create_model))
        .route("/mlflow/registered-models/get", get(get_model))
        .route("/mlflow/registered-models/rename", post(rename_model))
        .route("/mlflow/registered-models/update", axum::routing::patch(update_model))
        .route("/mlflow/registered-models/delete", axum::routing::delete(delete_model))
        .route("/mlflow/registered-models/search", get(search_models))
        .route("/mlflow/registered-models/set-tag", post(set_model_tag))
        .route("/mlflow/registered-models/delete-tag", axum::routing::delete(delete_model_tag))
        .route("/mlflow/registered-models/get-latest-versions", get(latest_versions).post(latest_versions))
        .route("/mlflow/registered-models/alias", post(set_alias).delete(delete_alias).get(get_by_alias))
        .route("/mlflow/model-versions/create", post(create_version))
        .route("/mlflow/model-versions/get", get(get_version))
        .route("/mlflow/model-versions/update", axum::routing::patch(update_version))
        .route("/mlflow/model-versions/delete", axum::routing::delete(delete_version))
        .route("/mlflow/model-versions/transition-stage", post(transition_stage))
        .route("/mlflow/model-versions/search", get(search_versions))
        .route("/mlflow/model-versions/set-tag", post(set_version_tag))
        .route("/mlflow/model-versions/delete-tag", axum::routing::delete(delete_version_tag))
        .route("/mlflow/model-versions/get-download-uri", get(get_download_uri))
}

/// The union of fields registry requests carry; each handler requires its own.
#[derive(Deserialize)]
struct Req {
    name: Option<String>,
    new_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    version: Option<String>,
    description: Option<String>,
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    value: Option<String>,
    alias: Option<String>,
    stage: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool")]
    archive_existing_versions: Option<bool>,
    #[serde(default, deserialize_with = "lenient::strings")]
    stages: Vec<String>,
    #[serde(default, deserialize_with = "flotilla_core::validation::capped_list")]
    tags: Vec<Tag>,
    source: Option<String>,
    run_id: Option<String>,
    run_link: Option<String>,
    model_id: Option<String>,
}

impl Req {
    fn name(&self) -> ApiResult<String> {
        required(&self.name, "name").map(str::to_string)
    }
    fn version(&self) -> ApiResult<String> {
        required(&self.version, "version").map(str::to_string)
    }
    fn tag(&self) -> ApiResult<Tag> {
        Ok(Tag {
            key: required(&self.key, "key")?.to_string(),
            value: self.value.clone().ok_or_else(|| ApiError::missing("value"))?,
        })
    }
}

async fn create_model(State(s): State<AppState>, owner: Owner, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    let m = s
        .call(move |st| st.create_registered_model_owned(&name, &req.tags, req.description.as_deref(), owner.0))
        .await?;
    Ok(axum::Json(json!({ "registered_model": m })))
}

async fn get_model(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    let m = s.call(move |st| st.get_registered_model(&name)).await?;
    Ok(axum::Json(json!({ "registered_model": m })))
}

async fn rename_model(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    let new_name = required(&req.new_name, "new_name")?.to_string();
    let m = s.call(move |st| st.rename_registered_model(&name, &new_name)).await?;
    Ok(axum::Json(json!({ "registered_model": m })))
}

async fn update_model(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    // As MLflow: an update without a description clears it (the field is the whole update).
    let description = req.description.unwrap_or_default();
    let m = s.call(move |st| st.update_registered_model(&name, Some(&description))).await?;
    Ok(axum::Json(json!({ "registered_model": m })))
}

async fn delete_model(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    s.call(move |st| st.delete_registered_model(&name)).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct Search {
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::strings")]
    order_by: Vec<String>,
    page_token: Option<String>,
}

impl Search {
    /// The typed query, from `search`'s function for the endpoint.
    fn query(
        &self,
        parse: fn(&str, &[String], PageRequest) -> Result<RegistryQuery, Error>,
    ) -> Result<RegistryQuery, Error> {
        let page = PageRequest { max_results: self.max_results, page_token: self.page_token.clone() };
        parse(self.filter.as_deref().unwrap_or_default(), &self.order_by, page)
    }
}

async fn search_models(
    State(s): State<AppState>,
    sees: Sees,
    Mlflow(req): Mlflow<Search>,
) -> ApiResult<Paged<RegisteredModel>> {
    let visible = sees.models();
    let page = s
        .call(move |st| {
            let query = req.query(search::registered_models)?;
            st.search_registered_models(&RegistryQuery { visible, ..query })
        })
        .await?;
    // No match is `{}` in MLflow, not an empty list.
    Ok(Paged::omitting_empty("registered_models", page))
}

async fn set_model_tag(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, tag) = (req.name()?, req.tag()?);
    s.call(move |st| st.set_registered_model_tag(&name, &tag)).await?;
    Ok(empty())
}

async fn delete_model_tag(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    let key = required(&req.key, "key")?.to_string();
    s.call(move |st| st.delete_registered_model_tag(&name, &key)).await?;
    Ok(empty())
}

async fn latest_versions(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    let versions = s.call(move |st| st.get_latest_versions(&name, &req.stages)).await?;
    Ok(axum::Json(json!({ "model_versions": versions })))
}

/// The audit context of an alias move: the authenticated caller, else
/// MLflow's unnamed (unverified) API actor.
fn alias_context(caller: Option<axum::Extension<flotilla_app::auth::Caller>>) -> ChangeContext {
    caller.map_or_else(ChangeContext::mlflow_api, |axum::Extension(c)| ChangeContext::verified(c.username, ""))
}

async fn set_alias(
    State(s): State<AppState>,
    caller: Option<axum::Extension<flotilla_app::auth::Caller>>,
    Mlflow(req): Mlflow<Req>,
) -> ApiResult<Json> {
    let (name, version) = (req.name()?, req.version()?);
    let alias = required(&req.alias, "alias")?.to_string();
    let ctx = alias_context(caller);
    s.call(move |st| st.set_alias_by(&name, &alias, &version, &ctx)).await?;
    Ok(empty())
}

async fn delete_alias(
    State(s): State<AppState>,
    caller: Option<axum::Extension<flotilla_app::auth::Caller>>,
    Mlflow(req): Mlflow<Req>,
) -> ApiResult<Json> {
    let name = req.name()?;
    let alias = required(&req.alias, "alias")?.to_string();
    let ctx = alias_context(caller);
    s.call(move |st| st.delete_alias_by(&name, &alias, &ctx)).await?;
    Ok(empty())
}

async fn get_by_alias(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    let alias = required(&req.alias, "alias")?.to_string();
    let v = s.call(move |st| st.get_version_by_alias(&name, &alias)).await?;
    Ok(axum::Json(json!({ "model_version": v })))
}

async fn create_version(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let name = req.name()?;
    let source = required(&req.source, "source")?.to_string();
    check_source(&source, req.run_id.as_deref(), req.model_id.as_deref())?;
    let new = NewModelVersion {
        name,
        source,
        run_id: req.run_id,
        run_link: req.run_link,
        model_id: req.model_id,
        description: req.description,
        tags: req.tags,
    };
    let v = s.call(move |st| st.create_model_version(&new)).await?;
    Ok(axum::Json(json!({ "model_version": v })))
}

async fn get_version(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, version) = (req.name()?, req.version()?);
    let v = s.call(move |st| st.get_model_version(&name, &version)).await?;
    Ok(axum::Json(json!({ "model_version": v })))
}

async fn update_version(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, version) = (req.name()?, req.version()?);
    let v = s.call(move |st| st.update_model_version(&name, &version, req.description.as_deref())).await?;
    Ok(axum::Json(json!({ "model_version": v })))
}

async fn delete_version(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, version) = (req.name()?, req.version()?);
    s.call(move |st| st.delete_model_version(&name, &version)).await?;
    Ok(empty())
}

async fn transition_stage(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, version) = (req.name()?, req.version()?);
    let stage = required(&req.stage, "stage")?.to_string();
    let archive = req.archive_existing_versions.unwrap_or(false);
    let v = s.call(move |st| st.transition_stage(&name, &version, &stage, archive)).await?;
    Ok(axum::Json(json!({ "model_version": v })))
}

async fn search_versions(
    State(s): State<AppState>,
    sees: Sees,
    Mlflow(req): Mlflow<Search>,
) -> ApiResult<Paged<ModelVersion>> {
    let visible = sees.models();
    let page = s
        .call(move |st| {
            let query = req.query(search::model_versions)?;
            st.search_model_versions(&RegistryQuery { visible, ..query })
        })
        .await?;
    // No match is `{}` in MLflow, not an empty list.
    Ok(Paged::omitting_empty("model_versions", page))
}

async fn set_version_tag(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, version, tag) = (req.name()?, req.version()?, req.tag()?);
    s.call(move |st| st.set_model_version_tag(&name, &version, &tag)).await?;
    Ok(empty())
}

async fn delete_version_tag(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, version) = (req.name()?, req.version()?);
    let key = required(&req.key, "key")?.to_string();
    s.call(move |st| st.delete_model_version_tag(&name, &version, &key)).await?;
    Ok(empty())
}

async fn get_download_uri(State(s): State<AppState>, Mlflow(req): Mlflow<Req>) -> ApiResult<Json> {
    let (name, version) = (req.name()?, req.version()?);
    let uri = s.call(move |st| download_uri(st, &name, &version)).await?;
    Ok(axum::Json(json!({ "artifact_uri": uri })))
}
