//! The grant log on PostgreSQL (`auth_grant_log`, migration 12), as on
//! SQLite (`sqlite/grant_log.rs`): every change to `auth_grants` appends an
//! entry in the same transaction, and the entries a committed write appended
//! are handed over by [`crate::auth::take_written_grants`].
//!
//! Several writers run at once here: an appender first takes the log's
//! table lock (EXCLUSIVE: readers still read), held to its commit, so `seq`
//! order is commit order and a reader that has applied entries up to `n`
//! misses exactly those with `seq > n`.

use postgres::Row;

use super::Tx;
use crate::auth::{Grant, GrantChange};
use crate::error::StoreResult;

/// Entries kept; older ones are pruned every [`PRUNE_EVERY`] appends.
const KEEP: i64 = 100_000;
const PRUNE_EVERY: i64 = 1024;

/// Appends that `grant` now exists.
pub(super) fn put(tx: &mut Tx<'_>, grant: &Grant) -> StoreResult<()> {
    append(tx, Some(grant.user_id), Some(&grant.resource_kind), Some(&grant.resource_id), Some(&grant.level))
}

/// Appends that a grant no longer exists.
pub(super) fn removed(tx: &mut Tx<'_>, user_id: i64, kind: &str, id: &str) -> StoreResult<()> {
    append(tx, Some(user_id), Some(kind), Some(id), None)
}

/// Appends a reset: readers read every grant again.
pub(super) fn reset(tx: &mut Tx<'_>) -> StoreResult<()> {
    append(tx, None, None, None, None)
}

fn append(
    tx: &mut Tx<'_>,
    user_id: Option<i64>,
    kind: Option<&str>,
    id: Option<&str>,
    level: Option<&str>,
) -> StoreResult<()> {
    tx.execute("LOCK TABLE auth_grant_log IN EXCLUSIVE MODE", &[])?;
    let seq: i64 = tx
        .query_one(
            "INSERT INTO auth_grant_log (user_id, resource_kind, resource_id, level) VALUES ($1, $2, $3, $4)
             RETURNING seq",
            &[&user_id, &kind, &id, &level],
        )?
        .get(0);
    crate::sqlite::grant_log_pending(seq, user_id, kind, id, level);
    if seq % PRUNE_EVERY == 0 {
        tx.execute("DELETE FROM auth_grant_log WHERE seq <= $1", &[&(seq - KEEP)])?;
    }
    Ok(())
}

/// The last entry's `seq`.
pub(super) fn head(tx: &mut Tx<'_>) -> StoreResult<u64> {
    let seq: Option<i64> = tx.query_one("SELECT max(seq) FROM auth_grant_log", &[])?.get(0);
    Ok(seq.unwrap_or(0) as u64)
}

/// Entries after `after`, oldest first, at most `limit`; `None` when some
/// of them were pruned.
pub(super) fn since(tx: &mut Tx<'_>, after: u64, limit: usize) -> StoreResult<Option<Vec<GrantChange>>> {
    let oldest: Option<i64> = tx.query_one("SELECT min(seq) FROM auth_grant_log", &[])?.get(0);
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    if oldest.is_some_and(|oldest| oldest > after.saturating_add(1)) {
        return Ok(None);
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = tx.query(
        "SELECT seq, user_id, resource_kind, resource_id, level FROM auth_grant_log
         WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[&after, &limit],
    )?;
    Ok(Some(rows.iter().map(change_row).collect()))
}

fn change_row(r: &Row) -> GrantChange {
    let seq = r.get::<_, i64>(0) as u64;
    GrantChange { seq, event: crate::sqlite::grant_event(r.get(1), r.get(2), r.get(3), r.get(4)) }
}
