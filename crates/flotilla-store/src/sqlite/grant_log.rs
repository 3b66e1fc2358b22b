//! The grant log on SQLite (`auth_grant_log`, migration 12): every change to
//! `auth_grants` appends an entry in the same transaction. One writer at a
//! time means `seq` order is commit order, so a reader that has applied
//! entries up to `n` misses exactly those with `seq > n`. The log keeps its
//! last [`KEEP`] entries; a reader further behind reads every grant again.
//!
//! The entries a transaction appends are also kept on its thread and, once
//! it commits, handed to whoever asks ([`take_written`]): the process that
//! made a change applies it to its permission snapshot from what it wrote,
//! without reading the log back (a rolled-back transaction hands nothing).

use std::cell::RefCell;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::auth::{Grant, GrantChange, GrantEvent};
use crate::error::StoreResult;

/// Entries kept; older ones are pruned every [`PRUNE_EVERY`] appends.
const KEEP: i64 = 100_000;
const PRUNE_EVERY: i64 = 1024;

thread_local! {
    /// Entries appended by the transaction open on this thread.
    static PENDING: RefCell<Vec<GrantChange>> = const { RefCell::new(Vec::new()) };
    /// Entries of this thread's committed transactions, not yet taken.
    static WRITTEN: RefCell<Vec<GrantChange>> = const { RefCell::new(Vec::new()) };
}

/// A write transaction starts on this thread: nothing of an earlier one is pending.
pub(crate) fn begin() {
    PENDING.with(|p| p.borrow_mut().clear());
}

/// The transaction on this thread committed: its entries become written.
pub(crate) fn committed() {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if !pending.is_empty() {
        WRITTEN.with(|w| w.borrow_mut().extend(pending));
    }
}

/// Takes (and clears) the grant-log entries committed on this thread since
/// the last call, in `seq` order.
pub fn take_written() -> Vec<GrantChange> {
    WRITTEN.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// Appends that `grant` now exists.
pub(super) fn put(tx: &Connection, grant: &Grant) -> StoreResult<()> {
    append(tx, Some(grant.user_id), Some(&grant.resource_kind), Some(&grant.resource_id), Some(&grant.level))
}

/// Appends that a grant no longer exists.
pub(super) fn removed(tx: &Connection, user_id: i64, kind: &str, id: &str) -> StoreResult<()> {
    append(tx, Some(user_id), Some(kind), Some(id), None)
}

/// Appends a reset: readers read every grant again.
pub(super) fn reset(tx: &Connection) -> StoreResult<()> {
    append(tx, None, None, None, None)
}

fn append(
    tx: &Connection,
    user_id: Option<i64>,
    kind: Option<&str>,
    id: Option<&str>,
    level: Option<&str>,
) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO auth_grant_log (user_id, resource_kind, resource_id, level) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![user_id, kind, id, level])?;
    let seq = tx.last_insert_rowid();
    pending(seq, user_id, kind, id, level);
    if seq % PRUNE_EVERY == 0 {
        tx.prepare_cached("DELETE FROM auth_grant_log WHERE seq <= ?1")?.execute([seq - KEEP])?;
    }
    Ok(())
}

/// Keeps an entry the transaction open on this thread appended (any backend).
pub(crate) fn pending(seq: i64, user_id: Option<i64>, kind: Option<&str>, id: Option<&str>, level: Option<&str>) {
    let event = event(user_id, kind.map(str::to_string), id.map(str::to_string), level.map(str::to_string));
    PENDING.with(|p| p.borrow_mut().push(GrantChange { seq: seq as u64, event }));
}

/// The last entry's `seq`.
pub(super) fn head(tx: &Connection) -> StoreResult<u64> {
    let seq: Option<i64> = tx.prepare_cached("SELECT max(seq) FROM auth_grant_log")?.query_row([], |r| r.get(0))?;
    Ok(seq.unwrap_or(0) as u64)
}

/// Entries after `after`, oldest first, at most `limit`; `None` when some
/// of them were pruned.
pub(super) fn since(tx: &Connection, after: u64, limit: usize) -> StoreResult<Option<Vec<GrantChange>>> {
    let oldest: Option<i64> =
        tx.prepare_cached("SELECT min(seq) FROM auth_grant_log")?.query_row([], |r| r.get(0)).optional()?.flatten();
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    if oldest.is_some_and(|oldest| oldest > after.saturating_add(1)) {
        return Ok(None);
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = tx.prepare_cached(
        "SELECT seq, user_id, resource_kind, resource_id, level FROM auth_grant_log \
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let changes = stmt.query_map(params![after, limit], change_row)?;
    Ok(Some(changes.collect::<rusqlite::Result<Vec<_>>>()?))
}

fn change_row(r: &Row<'_>) -> rusqlite::Result<GrantChange> {
    let seq = r.get::<_, i64>(0)? as u64;
    Ok(GrantChange { seq, event: event(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?) })
}

pub(crate) fn event(
    user_id: Option<i64>,
    kind: Option<String>,
    id: Option<String>,
    level: Option<String>,
) -> GrantEvent {
    match (user_id, kind, id, level) {
        (Some(user_id), Some(resource_kind), Some(resource_id), Some(level)) => {
            GrantEvent::Put(Grant { user_id, resource_kind, resource_id, level })
        }
        (Some(user_id), Some(resource_kind), Some(resource_id), None) => {
            GrantEvent::Removed { user_id, resource_kind, resource_id }
        }
        // A reset, or a row this version does not understand: start over.
        _ => GrantEvent::Reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_behind_the_pruned_entries_is_told_to_start_over() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("migrations/0012_grant_log.sql")).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..5 {
            removed(&tx, i, "experiment", "1").unwrap();
        }
        assert_eq!(head(&tx).unwrap(), 6);
        let all = since(&tx, 0, 100).unwrap().unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(all[0].event, GrantEvent::Reset, "the first entry makes a new reader read everything");
        assert_eq!(since(&tx, 4, 1).unwrap().unwrap().len(), 1, "the limit holds");
        tx.execute("DELETE FROM auth_grant_log WHERE seq <= 3", []).unwrap();
        assert_eq!(since(&tx, 2, 100).unwrap(), None, "entry 3 is gone");
        assert_eq!(since(&tx, 3, 100).unwrap().unwrap().len(), 3);
        assert_eq!(since(&tx, 6, 100).unwrap(), Some(vec![]));
    }
}
