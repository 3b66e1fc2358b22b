//! The audit trail at the edge: [`context`] builds the request's audit
//! context once, in one place (the authenticated caller, the client address
//! and request id from [`RequestMeta`], the route asked for), so every store
//! write the request makes records who made it; and the trail's query
//! route, `GET /api/fleet/v1/audit/events`.

use axum::extract::{MatchedPath, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use flotilla_app::auth::Caller;
use flotilla_app::fleet_api::audit::{self as api, AuditEvents};
use flotilla_app::{AppState, audit};

use crate::error::ApiResult;
use crate::request_meta::RequestMeta;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/fleet/v1/audit/events", get(events))
}

/// Middleware (inside authentication): runs a request that may change
/// something under its audit context. Reads change nothing and skip it,
/// as do the POSTs that only read (searches, V2 inference).
pub(crate) async fn context(request: Request, next: Next) -> Response {
    if crate::auth::is_read(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| request.uri().path(), MatchedPath::as_str);
    let operation = format!("{} {route}", request.method());
    let meta = request.extensions().get::<RequestMeta>();
    let context = audit::of_request(
        request.extensions().get::<Caller>(),
        meta.and_then(|m| m.client).map(|c| c.to_string()),
        meta.map(|m| m.id.to_string()),
        operation,
    );
    audit::scope(context, next.run(request)).await
}

/// `GET /api/fleet/v1/audit/events`: the trail, newest first, filtered.
/// Admins (and everyone with `--auth none`) read all of it; any other caller
/// reads their own actions only, whatever `actor` they ask for.
async fn events(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<AuditEvents>> {
    let mut query = api::parse_query(raw.as_deref().unwrap_or(""))?;
    if let Some(Extension(caller)) = caller.filter(|c| !c.is_admin) {
        query.actor = Some(caller.username);
    }
    let page = s.call(move |store| store.audit_events(&query)).await?;
    Ok(Json(AuditEvents {
        events: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}
