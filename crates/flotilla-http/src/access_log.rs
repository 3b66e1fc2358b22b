//! The access log: one line per request at target `flotilla::access`, written
//! when the answer's body has been sent (or dropped), with the method, the
//! route template (axum's `MatchedPath`, never the path with its ids and
//! never the query string), status, duration, bytes sent, the user, the
//! request id and the client address. The same moment counts the request
//! for `/metrics` by route class and status class (`route_metrics.rs`).
//!
//! Two layers: [`record`] sits outside authentication, so refusals are
//! logged too, and [`note_caller`] sits inside it, where the [`Caller`] is
//! known, and leaves the user name in a slot [`record`] reads. Nothing from
//! a header, a query string or a body is logged except the request id,
//! which `request_meta` admits only when it is a plain token.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use flotilla_app::auth::Caller;

use crate::observed::{Observed, Observer};
use crate::request_meta::RequestMeta;
use crate::route_metrics::RouteClass;

/// Where the inner layer leaves the caller's name for the line.
#[derive(Clone, Default)]
struct UserSlot(Arc<OnceLock<String>>);

/// One request's line, logged when dropped with the body.
struct Line {
    started: Instant,
    method: Method,
    route: Option<MatchedPath>,
    status: u16,
    bytes: u64,
    user: UserSlot,
    meta: Option<RequestMeta>,
}

impl Observer for Line {
    fn sent(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let took = self.started.elapsed();
        let template = self.route.as_ref().map(MatchedPath::as_str);
        crate::route_metrics::record(RouteClass::of(&self.method, template), self.status, took);
        let client = self.meta.as_ref().and_then(|m| m.client);
        tracing::info!(
            target: "flotilla::access",
            method = %self.method,
            route = %self.route.as_ref().map_or("-", MatchedPath::as_str),
            status = self.status,
            duration_ms = took.as_secs_f64() * 1e3,
            bytes = self.bytes,
            user = %self.user.0.get().map_or("-", String::as_str),
            request_id = %self.meta.as_ref().map_or("-", |m| &*m.id),
            client = %client.map_or_else(|| "-".to_string(), |c| c.to_string()),
            "request"
        );
    }
}

/// Outer middleware: times the request and logs its line once the body is done.
pub(crate) async fn record(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let user = UserSlot::default();
    request.extensions_mut().insert(user.clone());
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let meta = request.extensions().get::<RequestMeta>().cloned();
    let response = next.run(request).await;
    let line = Line { started, method, route, status: response.status().as_u16(), bytes: 0, user, meta };
    response.map(|body| Observed::body(body, line))
}

/// Inner middleware: notes who the authenticated caller is.
pub(crate) async fn note_caller(request: Request, next: Next) -> Response {
    if let (Some(slot), Some(caller)) = (request.extensions().get::<UserSlot>(), request.extensions().get::<Caller>()) {
        let _ = slot.0.set(caller.username.clone());
    }
    next.run(request).await
}
