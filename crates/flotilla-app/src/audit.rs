//! Who is changing things, for the audit trail: the [`AuditContext`] of the
//! request a task is serving. The HTTP layer builds it once per request
//! from the authenticated caller and the request's metadata and runs the
//! handler inside [`scope`]; [`AppState::call`](crate::AppState::call) (and
//! the authenticator's own store calls) carry it to the blocking thread,
//! where every store write appends its audit row in its own transaction.
//! The CLI, working on a data directory, sets a [`local`] context on its
//! thread instead.

use std::future::Future;

use flotilla_store::audit::{AuditContext, Change};

use crate::auth::{Caller, Method};

tokio::task_local! {
    static CONTEXT: AuditContext;
}

/// Runs `work` with `context` as its request's audit context.
pub async fn scope<F: Future>(context: AuditContext, work: F) -> F::Output {
    CONTEXT.scope(context, work).await
}

/// The audit context of the request this task is serving, else the one set
/// on this thread (the CLI), if any.
pub fn current() -> Option<AuditContext> {
    CONTEXT.try_with(AuditContext::clone).ok().or_else(AuditContext::current)
}

/// Runs `f` (on a blocking thread) under `context` when there is one.
pub fn run<T>(context: Option<&AuditContext>, f: impl FnOnce() -> T) -> T {
    match context {
        Some(c) => c.run(f),
        None => f(),
    }
}

/// A request's context: its caller (`None` when authentication is off),
/// where it came from, its id, and what it asked for.
pub fn of_request(
    caller: Option<&Caller>,
    client: Option<String>,
    request_id: Option<String>,
    operation: String,
) -> AuditContext {
    let (actor, method, token_id) = match caller {
        Some(c) => (c.username.clone(), method_name(c.method).to_string(), c.token_id.clone()),
        None => ("anonymous".to_string(), "none".to_string(), None),
    };
    AuditContext { actor, method, token_id, client, request_id, operation }
}

/// `context` with `caller` as its actor: a login's own writes (its
/// session) are the user's, proved by the password the request carried,
/// though the request itself came in unauthenticated.
pub fn acting_as(context: AuditContext, caller: &Caller) -> AuditContext {
    AuditContext {
        actor: caller.username.clone(),
        method: method_name(caller.method).to_string(),
        token_id: caller.token_id.clone(),
        ..context
    }
}

/// Whoever runs the CLI on a data directory (`$USER`, else `local`).
pub fn local(user: Option<String>, operation: String) -> AuditContext {
    AuditContext {
        actor: user.filter(|u| !u.is_empty()).unwrap_or_else(|| "local".to_string()),
        method: method_name(Method::Local).to_string(),
        token_id: None,
        client: None,
        request_id: None,
        operation,
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Password => "password",
        Method::Token => "token",
        Method::Local => "local",
        Method::Session => "session",
    }
}

/// Records a change made outside the store (an artifact written or deleted)
/// under the request's context. Called after the change succeeds; when it
/// fails the request fails, so no acknowledged change lacks its row.
pub async fn record(state: &crate::AppState, change: Change) -> Result<(), flotilla_core::Error> {
    state.call(move |store| store.record(&change)).await
}

/// An artifact written through the artifact proxy.
pub fn artifact_written(path: &str, bytes: u64) -> Change {
    Change::new("artifact.write", "artifact", path).diff(None, Some(serde_json::json!({"bytes": bytes})))
}

/// An artifact deleted through the artifact proxy.
pub fn artifact_deleted(path: &str) -> Change {
    Change::new("artifact.delete", "artifact", path)
}
