//! Group commit: concurrent writes share one SQLite transaction and one commit.
//!
//! SQLite has one writer. Each write used to be its own transaction, so a
//! burst of small writes (eight clients creating models) wrote the pages they
//! share (a table's last leaf, an index's, the grant log's) to the WAL once
//! per write. Here a write that finds others queued behind it leaves the
//! transaction open for them instead of committing; the last of the group (no
//! one queued, or [`GroupLimits`] reached)
//! commits for all, and every member is answered only after that commit.
//!
//! Each member runs on its own thread (its request's budget, audit context
//! and grant-log entries stay thread-local as before) inside its own
//! savepoint: a member that fails or panics rolls back only its own changes
//! and is answered at once; the others go on. A lone writer commits at once,
//! as before, so grouping adds no latency without concurrency.
//!
//! One exception SQLite imposes: an error that aborts the whole transaction
//! (an interrupted statement, a full disk) takes the open group's earlier
//! members with it. They are answered with that error, never acknowledged.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{StoreError, StoreResult};

/// How far a group may grow before it commits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupLimits {
    /// Members at most in one group.
    pub members: usize,
    /// How long a group stays open for more members after its first began:
    /// the longest a member's answer waits for others' work.
    pub open: Duration,
}

impl Default for GroupLimits {
    fn default() -> Self {
        Self { members: 64, open: Duration::from_millis(2) }
    }
}

/// The writer connection and the group transaction open on it, if any.
pub(crate) struct GroupWriter {
    state: Mutex<WriterState>,
    /// Notified when a group commits or fails.
    closed: Condvar,
    /// Writers waiting for the connection: a member that sees some leaves the
    /// group open for them.
    queued: AtomicUsize,
    limits: GroupLimits,
}

struct WriterState {
    conn: Connection,
    open: Option<OpenGroup>,
}

struct OpenGroup {
    started: Instant,
    members: usize,
    outcome: Arc<Outcome>,
}

/// How a group ended: committed, or the failure every member is answered with.
#[derive(Default)]
struct Outcome(OnceLock<Result<(), (rusqlite::ffi::Error, String)>>);

impl Outcome {
    fn error(&self) -> Option<StoreError> {
        match self.0.get() {
            Some(Err((code, message))) => {
                Some(rusqlite::Error::SqliteFailure(*code, Some(format!("group commit failed: {message}"))).into())
            }
            _ => None,
        }
    }
}

/// What a member's own work came to.
enum MemberEnd<T> {
    Done(T),
    Failed(StoreError),
    Panicked(Box<dyn std::any::Any + Send>),
}

impl GroupWriter {
    pub(crate) fn new(conn: Connection, limits: GroupLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(WriterState { conn, open: None }),
            closed: Condvar::new(),
            queued: AtomicUsize::new(0),
        }
    }

    pub(crate) fn set_limits(&mut self, limits: GroupLimits) {
        self.limits = limits;
    }

    fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.queued.fetch_add(1, Ordering::AcqRel);
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.queued.fetch_sub(1, Ordering::AcqRel);
        state
    }

    /// Runs `f` as one member of a group transaction and returns once the
    /// group committed. `f` runs inside its own savepoint: its error rolls
    /// back its changes only. `committed` runs on this thread after the
    /// commit, before returning (the caller's thread-local bookkeeping).
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut state = self.lock();
        let mut group = match state.open.take() {
            Some(group) => group,
            None => {
                state.conn.execute_batch("BEGIN IMMEDIATE")?;
                OpenGroup { started: Instant::now(), members: 0, outcome: Arc::default() }
            }
        };
        group.members += 1;
        let end = run_member(&state.conn, f);
        if state.conn.is_autocommit() {
            // SQLite rolled the whole transaction back (see the module's note).
            let message = match &end {
                MemberEnd::Failed(e) => e.to_string(),
                MemberEnd::Done(_) | MemberEnd::Panicked(_) => "the transaction was rolled back".to_owned(),
            };
            let code = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT);
            let _ = group.outcome.0.set(Err((code, message)));
            self.closed.notify_all();
            drop(state);
            return finish(end);
        }
        let failed = !matches!(end, MemberEnd::Done(_));
        let keep_open = self.queued.load(Ordering::Acquire) > 0
            && group.members < self.limits.members
            && group.started.elapsed() < self.limits.open;
        if keep_open {
            let outcome = Arc::clone(&group.outcome);
            state.open = Some(group);
            if failed {
                drop(state);
                return finish(end);
            }
            while outcome.0.get().is_none() {
                state = self.closed.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            drop(state);
            return match outcome.error() {
                Some(e) => Err(e),
                None => finish(end),
            };
        }
        let committed = state.conn.execute_batch("COMMIT");
        let result = match &committed {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = state.conn.execute_batch("ROLLBACK");
                let code = if let rusqlite::Error::SqliteFailure(code, _) = e {
                    *code
                } else {
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR)
                };
                Err((code, e.to_string()))
            }
        };
        let _ = group.outcome.0.set(result);
        self.closed.notify_all();
        drop(state);
        committed?;
        finish(end)
    }
}

/// Runs one member's work in its own savepoint.
fn run_member<T>(conn: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> MemberEnd<T> {
    if let Err(e) = conn.execute_batch("SAVEPOINT member") {
        return MemberEnd::Failed(e.into());
    }
    let end = match catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(Ok(out)) => match conn.execute_batch("RELEASE member") {
            Ok(()) => return MemberEnd::Done(out),
            Err(e) => MemberEnd::Failed(e.into()),
        },
        Ok(Err(e)) => MemberEnd::Failed(e),
        Err(panic) => MemberEnd::Panicked(panic),
    };
    if !conn.is_autocommit() {
        // Only this member's changes go; the group's transaction stays open.
        let _ = conn.execute_batch("ROLLBACK TO member; RELEASE member");
    }
    end
}

fn finish<T>(end: MemberEnd<T>) -> StoreResult<T> {
    match end {
        MemberEnd::Done(out) => Ok(out),
        MemberEnd::Failed(e) => Err(e),
        MemberEnd::Panicked(panic) => resume_unwind(panic),
    }
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
