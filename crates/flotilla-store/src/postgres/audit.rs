//! The audit trail on PostgreSQL (`audit_events`, migration 10): the row
//! every write under an [`AuditContext`](crate::audit::AuditContext) appends
//! before it commits, as on SQLite (`sqlite/audit.rs`).

use flotilla_core::model::Page;

use super::{PgStore, Tx, unported};
use crate::StoreResult;
use crate::audit::{self, AuditEvent, AuditEventQuery, AuditStore, Change};

/// Appends the row of the write in `tx` when it runs under a context; what
/// the write noted names it, else the context's operation does.
pub(super) fn append(tx: &mut Tx<'_>) -> StoreResult<()> {
    let note = audit::take_note();
    audit::with_current(|ctx| {
        let Some(ctx) = ctx else {
            return Ok(());
        };
        let change = note.unwrap_or_else(|| Change::new(&ctx.operation, "", ""));
        tx.execute(
            "INSERT INTO audit_events (time, actor, method, token_id, client, request_id, action,
                                   resource_kind, resource_id, outcome, before, after, count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ok', $10, $11, $12)",
            &[
                &crate::sqlite::now_ms(),
                &ctx.actor,
                &ctx.method,
                &ctx.token_id,
                &ctx.client,
                &ctx.request_id,
                &change.action,
                &change.resource_kind,
                &change.resource_id,
                &change.before,
                &change.after,
                &change.count,
            ],
        )?;
        Ok(())
    })
}

impl AuditStore for PgStore {
    fn record(&self, change: &Change) -> StoreResult<()> {
        self.write(|_| {
            audit::note(change.clone());
            Ok(())
        })
    }

    fn audit_events(&self, _query: &AuditEventQuery) -> StoreResult<Page<AuditEvent>> {
        Err(unported("the audit log"))
    }
}
