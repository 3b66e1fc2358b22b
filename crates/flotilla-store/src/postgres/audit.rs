//! The audit trail on PostgreSQL (`audit_events`, migration 10): the row
//! every write under an [`AuditContext`](crate::audit::AuditContext) appends
//! before it commits, as on SQLite (`sqlite/audit.rs`).

use flotilla_core::model::Page;
use flotilla_core::validation;

use super::sql::{self, Value};
use super::{PgStore, Tx};
use crate::StoreResult;
use crate::audit::{self, AuditEvent, AuditEventQuery, AuditStore, Change};
use crate::paging;

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

    fn audit_events(&self, query: &AuditEventQuery) -> StoreResult<Page<AuditEvent>> {
        let limit = validation::page_size(query.page.max_results, (100, 1000), "max_results")?;
        let cursor = paging::decode_opt(query.page.page_token.as_deref(), 1)?;
        let mut filter = String::new();
        let mut args: Vec<Value> = Vec::new();
        let mut eq = |column: &str, value: &Option<String>| {
            if let Some(v) = value {
                filter.push_str(&format!(" AND {column} = ?"));
                args.push(Value::Text(v.clone()));
            }
        };
        eq("actor", &query.actor);
        eq("resource_kind", &query.resource_kind);
        eq("resource_id", &query.resource_id);
        eq("request_id", &query.request_id);
        // An action, or every action under a prefix (`experiment.*`): a range
        // of the (action, id) index.
        match query.action.as_deref().map(|a| (a, a.strip_suffix('*'))) {
            Some((_, Some(prefix))) => {
                filter.push_str(" AND action >= ? AND action < ?");
                args.push(Value::Text(prefix.to_string()));
                args.push(Value::Text(format!("{prefix}\u{10FFFF}")));
            }
            Some((action, None)) => {
                filter.push_str(" AND action = ?");
                args.push(Value::Text(action.to_string()));
            }
            None => {}
        }
        if let Some(since) = query.since {
            filter.push_str(" AND time >= ?");
            args.push(Value::Int(since));
        }
        if let Some(until) = query.until {
            filter.push_str(" AND time < ?");
            args.push(Value::Int(until));
        }
        if let Some(after) = cursor.as_ref().and_then(|c| c[0].as_i64()) {
            filter.push_str(" AND id < ?");
            args.push(Value::Int(after));
        }
        let text = sql::numbered(&format!(
            "SELECT id, time, actor, method, token_id, client, request_id, action, resource_kind,
                    resource_id, outcome, before, after, count
             FROM audit_events WHERE TRUE{filter} ORDER BY id DESC LIMIT {}",
            limit + 1
        ));
        self.read(|tx| {
            let mut items: Vec<AuditEvent> = tx
                .query(&text, &sql::params(&args))?
                .iter()
                .map(|r| AuditEvent {
                    id: r.get(0),
                    time: r.get(1),
                    actor: r.get(2),
                    method: r.get(3),
                    token_id: r.get(4),
                    client: r.get(5),
                    request_id: r.get(6),
                    action: r.get(7),
                    resource_kind: r.get(8),
                    resource_id: r.get(9),
                    outcome: r.get(10),
                    before: r.get(11),
                    after: r.get(12),
                    count: r.get(13),
                })
                .collect();
            let more = items.len() > limit;
            items.truncate(limit);
            let next_page_token = more.then(|| paging::encode(&vec![items[limit - 1].id.into()]));
            Ok(Page { items, next_page_token })
        })
    }
}
