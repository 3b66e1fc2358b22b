//! Background WAL checkpoints: a thread with its own connection copies
//! committed WAL frames into the database file, so that no request pays for
//! a checkpoint (with SQLite's automatic checkpoints, the write that crosses
//! 1,000 WAL pages copies them all before it returns: seconds after a bulk
//! promotion, milliseconds of p99 for small writes).
//!
//! Checkpoints are PASSIVE: they never block readers or the writer, and copy
//! what no reader still needs; SQLite restarts the WAL from its beginning
//! once everything is copied. Durability is unchanged (the WAL is the
//! durable copy; `synchronous = NORMAL` as before). When the last
//! connection closes, SQLite checkpoints whatever is left.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreResult;

/// How often the thread looks for new commits.
const INTERVAL: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Shared {
    commits: AtomicU64,
}

pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    /// Dropping the sender stops the thread.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn start(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = mpsc::channel::<()>();
        let seen = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("flotilla-checkpoint".into()).spawn(move || {
            let mut done = 0;
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                let commits = seen.commits.load(Ordering::Acquire);
                if commits == done {
                    continue;
                }
                match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    Ok(()) => done = commits,
                    Err(error) => tracing::warn!(%error, "background checkpoint failed"),
                }
            }
        });
        let thread = thread.map_err(|e| crate::StoreError::from(flotilla_core::Error::internal(e.to_string())))?;
        Ok(Self { shared, stop: Some(stop), thread: Some(thread) })
    }

    /// A write transaction committed.
    pub fn wrote(&self) {
        self.shared.commits.fetch_add(1, Ordering::Release);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
