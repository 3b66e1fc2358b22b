//! MLflow basic-auth's user routes (`/api/2.0/mlflow/users/...`, and the
//! `/ajax-api/2.0` copies MLflow 3 serves) and flotilla's token routes
//! (`/api/fleet/v1/tokens`). Thin: who may do what is decided in
//! `flotilla_app::auth`.

use axum::extract::{Path, Query};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use flotilla_app::AppState;
use flotilla_app::auth::{NewTokenRequest, TokenScope, UserView};
use flotilla_store::auth::Token;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::mlflow::empty;
use crate::wire::Mlflow;

pub(crate) fn routes() -> Router<AppState> {
    let users = Router::new()
        .route("/mlflow/users/create", post(create))
        .route("/mlflow/users/get", get(get_user))
        .route("/mlflow/users/update-password", patch(update_password))
        .route("/mlflow/users/update-admin", patch(update_admin))
        .route("/mlflow/users/delete", delete(delete_user))
        .route("/mlflow/users/list", get(list))
        .route("/mlflow/users/current", get(current));
    Router::new()
        .nest("/api/2.0", users.clone())
        .nest("/ajax-api/2.0", users)
        .route("/api/fleet/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/fleet/v1/tokens/{id}", delete(revoke_token))
}

#[derive(Deserialize)]
struct UserReq {
    username: Option<String>,
    password: Option<String>,
    current_password: Option<String>,
    is_admin: Option<bool>,
}

fn required<T>(value: Option<T>, field: &str) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::missing(field))
}

/// MLflow 2.x's user shape, a superset of 3.x's: the 2.x client reads both
/// permission lists (a missing one is a `KeyError`), the 3.x client ignores them.
fn user_json(user: &UserView) -> Value {
    let grants = |kind: &str, key: &str| -> Vec<Value> {
        user.grants
            .iter()
            .filter(|g| g.resource_kind == kind)
            .map(|g| json!({ key: g.resource_id, "user_id": g.user_id, "permission": g.level }))
            .collect()
    };
    json!({
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": grants("experiment", "experiment_id"),
        "registered_model_permissions": grants("registered_model", "name"),
    })
}

async fn create(Authed(auth, caller): Authed, Mlflow(req): Mlflow<UserReq>) -> ApiResult<Json<Value>> {
    let username = required(req.username, "username")?;
    let password = required(req.password, "password")?;
    let user = auth.create_user(&caller, username, password).await?;
    Ok(Json(json!({ "user": user_json(&user) })))
}

async fn get_user(Authed(auth, caller): Authed, Mlflow(req): Mlflow<UserReq>) -> ApiResult<Json<Value>> {
    let user = auth.get_user(&caller, required(req.username, "username")?).await?;
    Ok(Json(json!({ "user": user_json(&user) })))
}

async fn update_password(Authed(auth, caller): Authed, Mlflow(req): Mlflow<UserReq>) -> ApiResult<Json<Value>> {
    let username = required(req.username, "username")?;
    let password = required(req.password, "password")?;
    auth.update_password(&caller, username, password, req.current_password).await?;
    Ok(empty())
}

async fn update_admin(Authed(auth, caller): Authed, Mlflow(req): Mlflow<UserReq>) -> ApiResult<Json<Value>> {
    let username = required(req.username, "username")?;
    auth.update_admin(&caller, username, required(req.is_admin, "is_admin")?).await?;
    Ok(empty())
}

async fn delete_user(Authed(auth, caller): Authed, Mlflow(req): Mlflow<UserReq>) -> ApiResult<Json<Value>> {
    auth.delete_user(&caller, required(req.username, "username")?).await?;
    Ok(empty())
}

async fn list(Authed(auth, caller): Authed) -> ApiResult<Json<Value>> {
    let users = auth.list_users(&caller).await?;
    let users: Vec<Value> = users
        .iter()
        .map(|u| json!({ "id": u.id, "username": u.username, "is_admin": u.is_admin, "roles": [] }))
        .collect();
    Ok(Json(json!({ "users": users })))
}

async fn current(Authed(_, caller): Authed) -> Json<Value> {
    Json(json!({
        "user": { "id": caller.user_id, "username": caller.username, "is_admin": caller.is_admin },
        "is_basic_auth": true,
    }))
}

/// A token as listed: never its secret.
fn token_json(t: &Token) -> Value {
    json!({
        "id": t.id,
        "user": t.username,
        "name": t.name,
        "scope": t.scope.as_str(),
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    })
}

#[derive(Deserialize)]
struct TokenReq {
    #[serde(default)]
    name: String,
    scope: Option<String>,
    expires_in_days: Option<u32>,
    /// Another user's token (admins only).
    user: Option<String>,
}

async fn create_token(Authed(auth, caller): Authed, Mlflow(req): Mlflow<TokenReq>) -> ApiResult<Json<Value>> {
    let scope = match req.scope.as_deref() {
        None => TokenScope::Read,
        Some(s) => TokenScope::parse(s)
            .ok_or_else(|| ApiError::invalid(format!("scope must be 'read' or 'write', got '{s}'")))?,
    };
    let request = NewTokenRequest { owner: req.user, name: req.name, scope, expires_in_days: req.expires_in_days };
    let (plaintext, token) = auth.create_token(&caller, request).await?;
    Ok(Json(json!({ "token": plaintext, "info": token_json(&token) })))
}

#[derive(Deserialize)]
struct ListTokens {
    #[serde(default)]
    all: bool,
}

async fn list_tokens(Authed(auth, caller): Authed, Query(q): Query<ListTokens>) -> ApiResult<Json<Value>> {
    let tokens = auth.list_tokens(&caller, q.all).await?;
    Ok(Json(json!({ "tokens": tokens.iter().map(token_json).collect::<Vec<_>>() })))
}

async fn revoke_token(Authed(auth, caller): Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    auth.revoke_token(&caller, id).await?;
    Ok(empty())
}
