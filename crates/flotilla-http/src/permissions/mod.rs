//! Authorization at the edge: after authentication (`auth.rs`) and routing,
//! one middleware looks up what the matched route needs ([`table`]), finds
//! the resource the request names with the same reader its handler uses,
//! and asks `flotilla_app::auth` for the caller's level on it. Handlers
//! check nothing themselves, except the fleet's changes to many models,
//! which only know the models they touch once planned ([`require_models`]).
//!
//! A non-admin asking about a run, logged model or experiment that does not
//! exist is refused (403) rather than told it is missing, so ids are no
//! oracle; admins bypass every check and see the store's own answers.

pub(crate) mod routes;
mod source;
mod table;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flotilla_app::AppState;
use flotilla_app::auth::{Authenticator, Caller, Kind, Owner as ExperimentOf, Permission, Resource, denied};
use flotilla_core::Error;
use flotilla_store::Visible;
use serde::Deserialize;
use std::collections::HashMap;

use crate::auth::AuthState;
use crate::error::ApiError;
use crate::v2::error::V2Error;
use crate::wire::{MAX_JSON_BODY, Mlflow, lenient};
pub(crate) use table::Need;
pub(crate) use table::unprefixed;
use table::{Locate, need};

/// The creator of a resource, who gets MANAGE on it in the create's
/// transaction (`None` with `--auth none`).
pub(crate) struct Owner(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for Owner {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Caller>().filter(|c| c.user_id > 0).map(|c| c.user_id)))
    }
}

/// What a search's caller may read, for the store to filter by
/// (everything with `--auth none` and for admins).
pub(crate) struct Sees(Option<(std::sync::Arc<Authenticator>, Caller)>);

impl FromRequestParts<AppState> for Sees {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = parts.extensions.get::<Caller>().cloned();
        Ok(Self(state.auth.clone().zip(caller)))
    }
}

impl Sees {
    pub(crate) fn experiments(&self) -> Visible {
        self.0.as_ref().map_or_else(Visible::everything, |(a, c)| a.readable(c, Kind::Experiment))
    }
    pub(crate) fn models(&self) -> Visible {
        self.0.as_ref().map_or_else(Visible::everything, |(a, c)| a.readable(c, Kind::RegisteredModel))
    }
    pub(crate) fn families(&self) -> Visible {
        self.0.as_ref().map_or_else(Visible::everything, |(a, c)| a.readable(c, Kind::Family))
    }
    /// A search's experiment ids, reduced to the readable ones (MLflow 3
    /// reduces them silently rather than refusing).
    pub(crate) fn readable_experiments(&self, ids: Vec<String>) -> Vec<String> {
        let visible = self.experiments();
        ids.into_iter().filter(|id| visible.admits(id, None)).collect()
    }
}

/// The fields a route may name its resource by, read as the handler reads them.
#[derive(Deserialize, Default)]
struct Locator {
    #[serde(default, deserialize_with = "lenient::string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    family: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    run_uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    source: Option<String>,
}

impl Locator {
    fn field(&self, name: &str) -> Option<&str> {
        match name {
            "experiment_id" => self.experiment_id.as_deref(),
            "name" => self.name.as_deref(),
            "family" => self.family.as_deref(),
            "path" => self.path.as_deref(),
            _ => None,
        }
    }
}

/// The middleware (a route layer: it runs once the route is matched).
pub(crate) async fn check(State(auth): State<AuthState>, mut request: Request, next: Next) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    // Taken out while the request is checked and put back after (no copy).
    let Some(caller) = request.extensions_mut().remove::<Caller>() else {
        // Only the open probes reach a route without a caller.
        return next.run(request).await;
    };
    if caller.is_admin {
        request.extensions_mut().insert(caller);
        return next.run(request).await;
    }
    let v2 = request.uri().path().starts_with("/v2");
    let template = request.extensions().get::<MatchedPath>().cloned();
    let template = template.as_ref().map(MatchedPath::as_str);
    let declared = template.and_then(|t| need(request.method(), t));
    let Some(need) = declared else {
        tracing::warn!(method = %request.method(), route = ?template, "refused a route with no declared permission");
        return refuse(v2, denied());
    };
    let second = template.and_then(|t| table::also(request.method(), t));
    let checked = match authorize(&auth, &caller, need, request).await {
        Ok(request) => match second {
            Some(need) => authorize(&auth, &caller, need, request).await,
            None => Ok(request),
        },
        Err(e) => Err(e),
    };
    match checked {
        Ok(mut request) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) => refuse(v2, e),
    }
}

fn refuse(v2: bool, error: Error) -> Response {
    if v2 { V2Error::from(error).into_response() } else { ApiError::from(error).into_response() }
}

/// Checks `need`, handing the request back (its body read and put back when
/// a field named the resource).
async fn authorize(
    auth: &std::sync::Arc<Authenticator>,
    caller: &Caller,
    need: Need,
    request: Request,
) -> Result<Request, Error> {
    let (required, locate, kind) = match need {
        Need::Open | Need::Authenticated | Need::Delegated | Need::Filtered | Need::Fleet => return Ok(request),
        Need::Admin => return Err(denied()),
        Need::Source => return source::authorize(auth, caller, request).await,
        Need::Experiment(p, l) => (p, l, Target::Experiment),
        Need::Model(p, l) => (p, l, Target::Model),
        Need::Family(p, l) => (p, l, Target::Family),
    };
    let (request, id) = locate_in(request, locate).await?;
    let Some(id) = id else {
        // A request that does not name its resource is answered by its
        // handler (a missing parameter); it reaches nothing.
        return Ok(request);
    };
    let level = match (kind, locate) {
        (Target::Experiment, Locate::Run | Locate::RunPath(_)) => {
            let exp = auth.experiment_of(ExperimentOf::Run, &id).await?.ok_or_else(denied)?;
            auth.level(caller, Resource::Experiment(&exp))
        }
        (Target::Experiment, Locate::LoggedModelPath(_)) => {
            let exp = auth.experiment_of(ExperimentOf::LoggedModel, &id).await?.ok_or_else(denied)?;
            auth.level(caller, Resource::Experiment(&exp))
        }
        (Target::Experiment, Locate::Field("name")) => {
            let exp = auth.experiment_of(ExperimentOf::Name, &id).await?;
            // MLflow answers a missing name with 404 before any permission.
            let Some(exp) = exp else { return Ok(request) };
            auth.level(caller, Resource::Experiment(&exp))
        }
        (Target::Experiment, Locate::ArtifactPath) => {
            let first = id.trim_start_matches('/').split('/').next().unwrap_or("");
            let exp = if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) { first } else { "" };
            auth.level(caller, Resource::Experiment(exp))
        }
        (Target::Experiment, _) => auth.level(caller, Resource::Experiment(&id)),
        (Target::Model, _) => {
            // V2 names a model `name` or `name@alias`.
            let name = match id.rsplit_once('@') {
                Some((n, a)) if !n.is_empty() && !a.is_empty() => n,
                Some(_) | None => id.as_str(),
            };
            auth.model_level(caller, name).await?
        }
        (Target::Family, _) => auth.level(caller, Resource::Family(&id)),
    };
    if level.allows(required) {
        Ok(request)
    } else {
        tracing::info!(user = %caller.username, need = ?required, held = ?level, "permission denied");
        Err(denied())
    }
}

#[derive(Clone, Copy)]
enum Target {
    Experiment,
    Model,
    Family,
}

/// The resource id a request names, by `locate`.
async fn locate_in(request: Request, locate: Locate) -> Result<(Request, Option<String>), Error> {
    match locate {
        Locate::Path(p) | Locate::RunPath(p) | Locate::LoggedModelPath(p) => {
            let (mut parts, body) = request.into_parts();
            // The one parameter, percent-decoded, without a map of them all.
            let params =
                RawPathParams::from_request_parts(&mut parts, &()).await.map_err(|e| Error::invalid(e.body_text()))?;
            let value = params.iter().find(|(k, _)| *k == p).map(|(_, v)| v.to_string());
            Ok((Request::from_parts(parts, body), value))
        }
        Locate::ArtifactPath => {
            let (mut parts, body) = request.into_parts();
            let params = Path::<HashMap<String, String>>::from_request_parts(&mut parts, &()).await.ok();
            match params.and_then(|p| p.0.get("path").cloned()) {
                Some(path) => Ok((Request::from_parts(parts, body), Some(path))),
                None => {
                    let (request, locator) = fields(Request::from_parts(parts, body)).await?;
                    Ok((request, Some(locator.path.unwrap_or_default())))
                }
            }
        }
        Locate::Field(name) => {
            let (request, locator) = fields(request).await?;
            Ok((request, locator.field(name).map(str::to_string)))
        }
        Locate::Run => {
            let (request, locator) = fields(request).await?;
            Ok((request, locator.run_id.or(locator.run_uuid)))
        }
    }
}

/// The request's fields, read by the handlers' own reader; the body is put
/// back for the handler.
async fn fields(request: Request) -> Result<(Request, Locator), Error> {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        let copy = Request::builder().method(Method::GET).uri(request.uri().clone()).body(Body::empty());
        let copy = copy.map_err(|_| Error::invalid("bad request"))?;
        let locator = Mlflow::<Locator>::from_request(copy, &()).await.map(|l| l.0).unwrap_or_default();
        return Ok((request, locator));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_JSON_BODY).await.map_err(|_| {
        Error::invalid(format!("Request body exceeds the limit of {MAX_JSON_BODY} bytes or could not be read"))
    })?;
    let mut copy = Request::builder().method(parts.method.clone()).uri(parts.uri.clone());
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        copy = copy.header(header::CONTENT_TYPE, ct);
    }
    let copy = copy.body(Body::from(bytes.clone())).map_err(|_| Error::invalid("bad request"))?;
    let locator = match Mlflow::<Locator>::from_request(copy, &()).await {
        Ok(l) => l.0,
        // Not a readable message: its handler answers that, reaching nothing.
        Err(_) => Locator::default(),
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), locator))
}

/// EDIT on every model a fleet change touches, for a non-admin: the names
/// refused (empty: all allowed). With `--auth none` nothing is refused.
pub(crate) async fn refused_models(
    state: &AppState,
    caller: Option<&Caller>,
    models: &[String],
) -> Result<Vec<String>, Error> {
    let (Some(auth), Some(caller)) = (state.auth.as_ref(), caller) else { return Ok(Vec::new()) };
    if caller.is_admin {
        return Ok(Vec::new());
    }
    let mut refused = Vec::new();
    for name in models {
        if !auth.model_level(caller, name).await?.allows(Permission::Edit) && !refused.contains(name) {
            refused.push(name.clone());
        }
    }
    Ok(refused)
}

/// [`refused_models`] as a refusal of the whole change.
pub(crate) async fn require_models(state: &AppState, caller: Option<&Caller>, models: &[String]) -> Result<(), Error> {
    let refused = refused_models(state, caller, models).await?;
    if refused.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = refused.iter().take(20).map(String::as_str).collect();
    Err(Error::permission_denied(format!(
        "Permission denied: EDIT is needed on every model this change touches; nothing was applied. Refused: {}",
        shown.join(", ")
    )))
}
