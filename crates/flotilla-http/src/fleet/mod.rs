//! The native fleet API, `/api/fleet/v1`: families, fleet search and facets,
//! bulk registration and alias changes, promotion with dry run, rollback and
//! the audit log. Described by the OpenAPI document at
//! `/api/fleet/v1/openapi.json`. Errors use the MLflow shape
//! (`{"error_code", "message"}`) like the rest of the server.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use flotilla_app::fleet_api::{self, BulkAliases, BulkVersions, NewFamily, Promotion, Rollback};
use flotilla_app::fleet_query as query;
use flotilla_store::PageRequest;
use flotilla_store::fleet::{self as store_fleet, AuditQuery, ChangeContext};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::mlflow::models::check_source;
use crate::permissions::{self, Owner, Sees};
use crate::wire::Mlflow;

const OPENAPI: &str = include_str!("openapi.json");
/// Who is recorded in the audit log when a request does not say.
const ANONYMOUS: &str = "anonymous";
const ACTOR_HEADER: &str = "x-flotilla-actor";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/fleet/v1/openapi.json", get(openapi))
        .route("/api/fleet/v1/families", get(list_families).post(create_family))
        .route("/api/fleet/v1/families/{name}", get(get_family))
        .route("/api/fleet/v1/models", get(search_models))
        .route("/api/fleet/v1/versions", get(search_versions))
        .route("/api/fleet/v1/facets", get(facets))
        .route("/api/fleet/v1/resolve", get(resolve))
        .route("/api/fleet/v1/versions/bulk", post(register_versions))
        .route("/api/fleet/v1/aliases/bulk", post(set_aliases))
        .route("/api/fleet/v1/promotions", post(promote))
        .route("/api/fleet/v1/batches/{batch}/rollback", post(rollback))
        .route("/api/fleet/v1/audit", get(audit))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Who asks for a change: the authenticated caller when authentication is
/// on (verified in the audit log), else whoever `X-Flotilla-Actor` claims.
pub(crate) struct Actor {
    name: String,
    verified: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<flotilla_app::auth::Caller>() {
            return Ok(Self { name: caller.username.clone(), verified: true });
        }
        Ok(Self { name: claimed(&parts.headers), verified: false })
    }
}

impl Actor {
    /// The change's context for the audit log, with the request's reason.
    fn context(self, reason: Option<String>) -> ChangeContext {
        let reason = reason.map(|r| flotilla_core::validation::truncate(&r, 4096).to_string()).unwrap_or_default();
        ChangeContext { actor: self.name, actor_verified: self.verified, reason }
    }
}

/// The actor named in `X-Flotilla-Actor`: the caller's claim, recorded as unverified.
fn claimed(headers: &HeaderMap) -> String {
    headers
        .get(ACTOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map_or_else(|| ANONYMOUS.to_string(), |a| flotilla_core::validation::truncate(a, 256).to_string())
}

fn page_request(raw: &str) -> ApiResult<PageRequest> {
    let mut page = PageRequest::default();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "max_results" => {
                page.max_results = Some(
                    v.parse().map_err(|_| ApiError::invalid(format!("'max_results' must be an integer, got '{v}'")))?,
                );
            }
            "page_token" => page.page_token = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok(page)
}

async fn list_families(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let page = page_request(raw.as_deref().unwrap_or(""))?;
    let visible = sees.families();
    let families = s.call(move |store| store.list_families(&page, &visible)).await?;
    Ok(Json(json!({ "families": families.items, "next_page_token": families.next_page_token })))
}

/// Any authenticated caller may create a family (see
/// `Authenticator::may_create_family`) and gets MANAGE on it.
async fn create_family(
    State(s): State<AppState>,
    caller: CallerOf,
    owner: Owner,
    Mlflow(family): Mlflow<NewFamily>,
) -> ApiResult<Json<Value>> {
    let family = store_fleet::NewFamily::from(family);
    if let (Some(auth), Some(caller)) = (s.auth.as_ref(), caller.0.as_ref()) {
        auth.may_create_family(caller, &family.name).await?;
    }
    let family = s.call(move |store| store.create_family_owned(&family, owner.0)).await?;
    Ok(Json(json!({ "family": family })))
}

async fn get_family(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let family = s.call(move |store| store.get_family(&name)).await?;
    Ok(Json(json!({ "family": family })))
}

async fn search_models(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let mut q = query::parse(raw.as_deref().unwrap_or(""), &[])?;
    q.visible = sees.models();
    let page = s.call(move |store| store.search_fleet(&q)).await?;
    Ok(Json(json!({ "models": page.items, "next_page_token": page.next_page_token })))
}

async fn search_versions(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let mut q = query::parse_versions(raw.as_deref().unwrap_or(""))?;
    q.visible = sees.models();
    let page = s.call(move |store| store.search_versions(&q)).await?;
    Ok(Json(json!({ "versions": page.items, "next_page_token": page.next_page_token })))
}

async fn facets(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let raw = raw.unwrap_or_default();
    let mut q = query::parse(&raw, &["facet_tag"])?;
    q.visible = sees.models();
    let tag_keys = query::all(&raw, "facet_tag");
    let facets = s.call(move |store| store.fleet_facets(&q, &tag_keys)).await?;
    let pairs = |v: &[(String, i64)]| v.iter().map(|(k, n)| json!({ "value": k, "count": n })).collect::<Vec<_>>();
    Ok(Json(json!({
        "total": facets.total,
        "families": pairs(&facets.families),
        "aliases": pairs(&facets.aliases),
        "stages": pairs(&facets.stages),
        "tags": facets.tags.iter().map(|(key, values)| json!({ "key": key, "values": pairs(values) })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ResolveParams {
    family: Option<String>,
    partition: Option<String>,
    alias: Option<String>,
}

async fn resolve(State(s): State<AppState>, Mlflow(p): Mlflow<ResolveParams>) -> ApiResult<Json<Value>> {
    let family = p.family.ok_or_else(|| ApiError::missing("family"))?;
    let partition = query::partition(p.partition.as_deref())?;
    let alias = p.alias.unwrap_or_else(|| flotilla_core::fleet::DEFAULT_ALIAS.to_string());
    flotilla_core::validation::alias(&alias)?;
    let target = s.call(move |store| store.resolve_partition(&family, &partition, &alias)).await?;
    Ok(Json(json!({ "target": fleet_api::PartitionTarget::from(target) })))
}

async fn register_versions(
    State(s): State<AppState>,
    actor: Actor,
    caller: CallerOf,
    Mlflow(req): Mlflow<BulkVersions>,
) -> ApiResult<Json<Value>> {
    let mut refused = Vec::new();
    for (i, v) in req.versions.iter().enumerate() {
        if let Err(e) = check_source(&v.source, v.run_id.as_deref(), None) {
            refused.push(format!("item {i}: {}", e.message));
        }
    }
    if !refused.is_empty() {
        refused.truncate(20);
        return Err(ApiError::invalid(format!("bulk registration: nothing was applied: {}", refused.join("; "))));
    }
    let ctx = actor.context(req.reason);
    let versions: Vec<store_fleet::BulkVersion> = req.versions.into_iter().map(Into::into).collect();
    let touched: Vec<String> = versions
        .iter()
        .map(|v| match &v.model {
            store_fleet::ModelAddress::Name { model } => model.clone(),
            // A member not made yet is judged by its family (named like its default).
            store_fleet::ModelAddress::Partition { family, .. } => family.clone(),
        })
        .collect();
    permissions::require_models(&s, caller.0.as_ref(), &touched).await?;
    let registered = s.call(move |store| store.register_versions(&versions, &ctx)).await?;
    let registered: Vec<fleet_api::RegisteredVersion> = registered.into_iter().map(Into::into).collect();
    Ok(Json(json!({ "registered": registered })))
}

async fn set_aliases(
    State(s): State<AppState>,
    actor: Actor,
    caller: CallerOf,
    Mlflow(req): Mlflow<BulkAliases>,
) -> ApiResult<Json<Value>> {
    let ctx = actor.context(req.reason);
    let changes: Vec<store_fleet::AliasChange> = req.changes.into_iter().map(Into::into).collect();
    let touched: Vec<String> = changes.iter().map(|c| c.model.clone()).collect();
    permissions::require_models(&s, caller.0.as_ref(), &touched).await?;
    let report = s.call(move |store| store.set_aliases(&changes, &ctx)).await?;
    Ok(Json(json!({ "report": fleet_api::AliasReport::from(report) })))
}

/// A promotion needs EDIT on every model it would move: it is planned (a
/// dry run) first; a dry run answers which models are refused, a real run
/// with any refused is refused whole.
async fn promote(
    State(s): State<AppState>,
    actor: Actor,
    caller: CallerOf,
    Mlflow(req): Mlflow<Promotion>,
) -> ApiResult<Json<Value>> {
    let ctx = actor.context(req.reason);
    let (rule, dry_run) = (store_fleet::PromotionRule::from(req.rule), req.dry_run);
    let checked = caller.0.as_ref().is_some_and(|c| !c.is_admin) && s.auth.is_some();
    if checked || dry_run {
        let (plan_rule, plan_ctx) = (rule.clone(), ctx.clone());
        let plan = s.call(move |store| store.promote(&plan_rule, true, &plan_ctx)).await?;
        let touched: Vec<String> = plan.moves.iter().map(|m| m.model.clone()).collect();
        let refused = permissions::refused_models(&s, caller.0.as_ref(), &touched).await?;
        if dry_run {
            return Ok(Json(json!({ "report": fleet_api::AliasReport::from(plan), "refused": refused })));
        }
        permissions::require_models(&s, caller.0.as_ref(), &touched).await?;
    }
    let report = s.call(move |store| store.promote(&rule, dry_run, &ctx)).await?;
    Ok(Json(json!({ "report": fleet_api::AliasReport::from(report), "refused": [] })))
}

async fn rollback(
    State(s): State<AppState>,
    actor: Actor,
    caller: CallerOf,
    Path(batch): Path<String>,
    Mlflow(req): Mlflow<Rollback>,
) -> ApiResult<Json<Value>> {
    let batch: i64 = batch.parse().map_err(|_| ApiError::invalid(format!("batch id '{batch}' is not an integer")))?;
    let ctx = actor.context(req.reason);
    if caller.0.as_ref().is_some_and(|c| !c.is_admin) && s.auth.is_some() {
        let touched = batch_models(&s, batch).await?;
        permissions::require_models(&s, caller.0.as_ref(), &touched).await?;
    }
    let report = s.call(move |store| store.rollback(batch, &ctx)).await?;
    Ok(Json(json!({ "report": fleet_api::AliasReport::from(report) })))
}

/// Every model a batch moved an alias of (what its rollback touches).
async fn batch_models(s: &AppState, batch: i64) -> ApiResult<Vec<String>> {
    let mut models = Vec::new();
    let mut token = None;
    loop {
        let q = AuditQuery {
            batch_id: Some(batch),
            page: PageRequest { max_results: Some(1000), page_token: token },
            ..AuditQuery::default()
        };
        let page = s.call(move |store| store.audit_log(&q)).await?;
        models.extend(page.items.into_iter().map(|e| e.model));
        match page.next_page_token {
            Some(t) if !t.is_empty() => token = Some(t),
            Some(_) | None => return Ok(models),
        }
    }
}

/// The authenticated caller, if any (`--auth none`: none).
struct CallerOf(Option<flotilla_app::auth::Caller>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CallerOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<flotilla_app::auth::Caller>().cloned()))
    }
}

async fn audit(State(s): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let raw = raw.unwrap_or_default();
    let mut q = AuditQuery { page: page_request(&raw)?, ..AuditQuery::default() };
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "model" => q.model = Some(v.into_owned()),
            "batch" => {
                q.batch_id =
                    Some(v.parse().map_err(|_| ApiError::invalid(format!("'batch' must be an integer, got '{v}'")))?);
            }
            "max_results" | "page_token" => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown parameter '{other}'; known: model, batch, max_results, page_token"
                )));
            }
        }
    }
    let page = s.call(move |store| store.audit_log(&q)).await?;
    let events: Vec<fleet_api::AliasEvent> = page.items.into_iter().map(Into::into).collect();
    Ok(Json(json!({ "events": events, "next_page_token": page.next_page_token })))
}
