//! The audit trail of every mutation ([`AuditStore`], SQLite: `sqlite/audit.rs`).
//!
//! Whoever makes a change runs the store call inside [`AuditContext::run`]
//! (the HTTP layer per request, the CLI per command on a data directory):
//! who, how they authenticated, from where, under which request id. Every
//! write transaction made under a context appends one `audit_events` row in
//! that same transaction, so a committed change never lacks its row and a
//! failed one leaves neither. A write names what it did with [`note`] (an
//! action like `registered_model.create`, the resource, and for small
//! changes the before and after); a write that names nothing (a new write
//! path) is still recorded, under the context's `operation` (the route). A
//! request that logs many points writes one row with a count, not one per
//! point. Refusals are not recorded: a failed transaction rolls its row back.

use std::cell::RefCell;

use flotilla_core::model::Page;

use crate::StoreResult;
use crate::query::PageRequest;

/// The largest before or after document kept; a bigger one is replaced by
/// `{"truncated":true,"bytes":N}`.
pub const MAX_DOCUMENT_BYTES: usize = 4096;

/// Who makes the changes of the work running under it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditContext {
    /// The authenticated identity; `anonymous` when authentication is off.
    pub actor: String,
    /// How the actor proved it: `password`, `token`, `session`, `local`, `none`.
    pub method: String,
    /// The token's public id when `method` is `token`.
    pub token_id: Option<String>,
    /// The client's address.
    pub client: Option<String>,
    pub request_id: Option<String>,
    /// What the caller asked for (e.g. `POST /api/2.0/mlflow/runs/create`),
    /// the action recorded when a write does not name its own.
    pub operation: String,
}

/// What one write did, named by the store (or by the caller, for changes
/// outside the store such as artifacts: [`AuditStore::record`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// `area.verb`, e.g. `registered_model.rename`.
    pub action: String,
    pub resource_kind: String,
    pub resource_id: String,
    /// Small JSON documents; see [`MAX_DOCUMENT_BYTES`].
    pub before: Option<String>,
    pub after: Option<String>,
    /// How many things the write changed (metric points, models moved, ...).
    pub count: i64,
}

impl Change {
    pub fn new(action: &str, resource_kind: &str, resource_id: impl Into<String>) -> Self {
        Self {
            action: action.to_string(),
            resource_kind: resource_kind.to_string(),
            resource_id: resource_id.into(),
            before: None,
            after: None,
            count: 1,
        }
    }

    /// With before and after documents (JSON values).
    pub fn diff(mut self, before: Option<serde_json::Value>, after: Option<serde_json::Value>) -> Self {
        self.before = before.map(|v| capped(v.to_string()));
        self.after = after.map(|v| capped(v.to_string()));
        self
    }

    pub fn count(mut self, count: usize) -> Self {
        self.count = i64::try_from(count).unwrap_or(i64::MAX);
        self
    }
}

fn capped(doc: String) -> String {
    if doc.len() <= MAX_DOCUMENT_BYTES { doc } else { format!(r#"{{"truncated":true,"bytes":{}}}"#, doc.len()) }
}

/// One recorded mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    /// Milliseconds since the epoch.
    pub time: i64,
    pub actor: String,
    pub method: String,
    pub token_id: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub resource_kind: String,
    pub resource_id: String,
    pub outcome: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub count: i64,
}

/// Filters over the trail (all ANDed), newest first, keyset-paged.
#[derive(Debug, Clone, Default)]
pub struct AuditEventQuery {
    pub actor: Option<String>,
    /// An action, or a prefix ending in `*` (`registered_model.*`).
    pub action: Option<String>,
    pub resource_kind: Option<String>,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub since: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    pub until: Option<i64>,
    pub page: PageRequest,
}

/// The audit trail (SQLite: `sqlite/audit.rs`).
pub trait AuditStore: Send + Sync {
    /// Records a change made outside the store (an artifact written or
    /// deleted) under the current context, in a transaction of its own.
    fn record(&self, change: &Change) -> StoreResult<()>;
    fn audit_events(&self, query: &AuditEventQuery) -> StoreResult<Page<AuditEvent>>;
}

thread_local! {
    static CONTEXT: RefCell<Option<AuditContext>> = const { RefCell::new(None) };
    static NOTE: RefCell<Option<Change>> = const { RefCell::new(None) };
}

impl AuditContext {
    /// Runs `f` on this thread with this context in force for the store.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<AuditContext>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CONTEXT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let previous = CONTEXT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }

    /// The context in force on this thread, if any.
    pub fn current() -> Option<Self> {
        CONTEXT.with(|c| c.borrow().clone())
    }
}

/// Calls `f` with the context in force on this thread, without copying it.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&AuditContext>) -> R) -> R {
    CONTEXT.with(|c| f(c.borrow().as_ref()))
}

/// Names what the write running on this thread does (the last call wins).
/// Called by the store's write paths inside their transaction.
pub fn note(change: Change) {
    NOTE.with(|n| *n.borrow_mut() = Some(change));
}

/// Takes (and clears) what the current write noted.
pub(crate) fn take_note() -> Option<Change> {
    NOTE.with(|n| n.borrow_mut().take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_nest_and_documents_are_capped() {
        let outer = AuditContext { actor: "a".into(), ..AuditContext::default() };
        let inner = AuditContext { actor: "b".into(), ..AuditContext::default() };
        assert_eq!(AuditContext::current(), None);
        outer.run(|| {
            inner.run(|| assert_eq!(AuditContext::current().unwrap().actor, "b"));
            assert_eq!(AuditContext::current().unwrap().actor, "a");
        });
        let big = serde_json::Value::String("x".repeat(MAX_DOCUMENT_BYTES));
        let c = Change::new("t.set", "t", "1").diff(Some(serde_json::json!({"v": 1})), Some(big));
        assert_eq!(c.before.as_deref(), Some(r#"{"v":1}"#));
        assert_eq!(c.after.as_deref(), Some(r#"{"truncated":true,"bytes":4098}"#));
    }
}
