//! The permission routes over the one grant table: MLflow 2's per-resource
//! `experiments|registered-models/permissions/{create,get,update,delete}`
//! (under `/api/2.0` only, as MLflow 2 serves them) and MLflow 3's
//! `users/permissions/{grant,revoke,get}` (under `/api/3.0` and
//! `/ajax-api/3.0`). Thin: who may do what is `flotilla_app::auth`'s.

use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use flotilla_app::AppState;
use flotilla_app::auth::{Kind, Permission, PutGrant};
use flotilla_core::Error;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::mlflow::empty;
use crate::wire::{Mlflow, lenient};

pub(crate) fn routes() -> Router<AppState> {
    let v2 = Router::new()
        .route("/mlflow/experiments/permissions/create", post(create_experiment))
        .route("/mlflow/experiments/permissions/get", get(get_experiment))
        .route("/mlflow/experiments/permissions/update", patch(update_experiment))
        .route("/mlflow/experiments/permissions/delete", delete(delete_experiment))
        .route("/mlflow/registered-models/permissions/create", post(create_model))
        .route("/mlflow/registered-models/permissions/get", get(get_model))
        .route("/mlflow/registered-models/permissions/update", patch(update_model))
        .route("/mlflow/registered-models/permissions/delete", delete(delete_model));
    let v3 = Router::new()
        .route("/mlflow/users/permissions/grant", post(grant))
        .route("/mlflow/users/permissions/revoke", post(revoke))
        .route("/mlflow/users/permissions/get", get(effective));
    Router::new().nest("/api/2.0", v2).nest("/api/3.0", v3.clone()).nest("/ajax-api/3.0", v3)
}

#[derive(Deserialize)]
struct Req {
    #[serde(default, deserialize_with = "lenient::string")]
    experiment_id: Option<String>,
    name: Option<String>,
    username: Option<String>,
    permission: Option<String>,
    resource_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    resource_id: Option<String>,
}

fn required(value: Option<String>, field: &str) -> ApiResult<String> {
    value.ok_or_else(|| ApiError::missing(field))
}

impl Req {
    /// The resource a per-resource route names, and the response's key for it.
    fn target(&mut self, kind: Kind) -> ApiResult<String> {
        match kind {
            Kind::Experiment => required(self.experiment_id.take(), "experiment_id"),
            Kind::RegisteredModel | Kind::Family => required(self.name.take(), "name"),
        }
    }
}

fn grant_json(kind: Kind, g: &flotilla_app::auth::GrantView) -> Value {
    match kind {
        Kind::Experiment => json!({ "experiment_permission": {
            "experiment_id": g.resource_id, "user_id": g.user_id, "permission": g.level } }),
        Kind::RegisteredModel | Kind::Family => json!({ "registered_model_permission": {
            "name": g.resource_id, "user_id": g.user_id, "permission": g.level } }),
    }
}

async fn create(Authed(auth, caller): Authed, mut req: Req, kind: Kind) -> ApiResult<Json<Value>> {
    let id = req.target(kind)?;
    let username = required(req.username, "username")?;
    let level = required(req.permission, "permission")?;
    let g = auth.put_grant(&caller, kind, id, username, level, PutGrant::Create).await?;
    Ok(Json(grant_json(kind, &g)))
}

async fn read(Authed(auth, caller): Authed, mut req: Req, kind: Kind) -> ApiResult<Json<Value>> {
    let id = req.target(kind)?;
    let username = required(req.username, "username")?;
    let g = auth.get_grant(&caller, kind, id, username).await?;
    Ok(Json(grant_json(kind, &g)))
}

async fn update(Authed(auth, caller): Authed, mut req: Req, kind: Kind) -> ApiResult<Json<Value>> {
    let id = req.target(kind)?;
    let username = required(req.username, "username")?;
    let level = required(req.permission, "permission")?;
    auth.put_grant(&caller, kind, id, username, level, PutGrant::Update).await?;
    Ok(empty())
}

async fn remove(Authed(auth, caller): Authed, mut req: Req, kind: Kind) -> ApiResult<Json<Value>> {
    let id = req.target(kind)?;
    let username = required(req.username, "username")?;
    auth.delete_grant(&caller, kind, id, username, PutGrant::Update).await?;
    Ok(empty())
}

async fn create_experiment(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    create(a, req, Kind::Experiment).await
}
async fn get_experiment(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    read(a, req, Kind::Experiment).await
}
async fn update_experiment(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    update(a, req, Kind::Experiment).await
}
async fn delete_experiment(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    remove(a, req, Kind::Experiment).await
}
async fn create_model(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    create(a, req, Kind::RegisteredModel).await
}
async fn get_model(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    read(a, req, Kind::RegisteredModel).await
}
async fn update_model(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    update(a, req, Kind::RegisteredModel).await
}
async fn delete_model(a: Authed, Mlflow(req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    remove(a, req, Kind::RegisteredModel).await
}

/// MLflow 3's `resource_type`, of the kinds flotilla keeps grants on.
fn resource_type(req: &mut Req) -> ApiResult<(Kind, String)> {
    let t = required(req.resource_type.take(), "resource_type")?;
    let id = required(req.resource_id.take(), "resource_id")?;
    match Kind::parse(&t) {
        Some(kind) => Ok((kind, id)),
        None if t == "workspace" => Err(Error::invalid(
            "resource_type 'workspace' is not supported by the per-user permission convenience APIs. Use \
             set_workspace_permission / delete_workspace_permission for workspace-wide grants.",
        )
        .into()),
        None => Err(Error::invalid(format!(
            "Invalid resource type '{t}'. Valid resource types are: ('experiment', 'family', 'registered_model')"
        ))
        .into()),
    }
}

async fn grant(Authed(auth, caller): Authed, Mlflow(mut req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    let username = required(req.username.take(), "username")?;
    let (kind, id) = resource_type(&mut req)?;
    let given = required(req.permission.take(), "permission")?;
    // MLflow 3 names the veto DENY; MLflow 2's NO_PERMISSIONS is accepted as it.
    let level = Permission::parse(&given).ok_or_else(|| Permission::invalid(&given))?;
    auth.put_grant(&caller, kind, id, username, level.name().to_string(), PutGrant::Grant).await?;
    Ok(empty())
}

async fn revoke(Authed(auth, caller): Authed, Mlflow(mut req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    let username = required(req.username.take(), "username")?;
    let (kind, id) = resource_type(&mut req)?;
    auth.delete_grant(&caller, kind, id, username, PutGrant::Grant).await?;
    Ok(empty())
}

async fn effective(Authed(auth, caller): Authed, Mlflow(mut req): Mlflow<Req>) -> ApiResult<Json<Value>> {
    let username = required(req.username.take(), "username")?;
    let (kind, id) = resource_type(&mut req)?;
    let level = auth.effective(&caller, username, kind, id).await?;
    Ok(Json(json!({ "allowed": level.allows(Permission::Use), "permission": level.name() })))
}
