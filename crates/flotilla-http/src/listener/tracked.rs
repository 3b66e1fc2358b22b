//! What the accept loop knows of each open connection: whether a request is
//! in progress, since when it has been idle, and whether the next request's
//! head has started to arrive; and the registry that lets the loop close the
//! oldest idle connection to make room, and a reaper close the stale ones.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Not yet: the marker for "no head byte since the connection went idle".
const NEVER: u64 = u64::MAX;

/// One connection's state, shared by its task, its socket and the registry.
pub(crate) struct Conn {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` when the last request ended (or the connection opened).
    idle_since: AtomicU64,
    /// Milliseconds since `epoch` of the first byte read while idle, or `NEVER`.
    head_since: AtomicU64,
    /// Asks the connection's task to close it if it is still idle.
    pub(crate) close: Notify,
}

impl Conn {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Marks a request as started; the guard marks it ended when dropped
    /// (after the response body has been written).
    pub(crate) fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NEVER, Ordering::Release);
        InFlight(Arc::clone(self))
    }

    fn saw_bytes(&self) {
        if self.is_idle() && self.head_since.load(Ordering::Acquire) == NEVER {
            self.head_since.store(self.now(), Ordering::Release);
        }
    }

    /// Why an idle connection should be closed now, if it should.
    fn stale(&self, header_timeout: Duration, idle_timeout: Duration) -> Option<&'static str> {
        if !self.is_idle() {
            return None;
        }
        let now = self.now();
        match self.head_since.load(Ordering::Acquire) {
            NEVER if now.saturating_sub(self.idle_since.load(Ordering::Acquire)) >= idle_timeout.as_millis() as u64 => {
                Some("idle timeout")
            }
            NEVER => None,
            since if now.saturating_sub(since) >= header_timeout.as_millis() as u64 => Some("header timeout"),
            _ => None,
        }
    }
}

/// A request in progress on a connection.
pub(crate) struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every open connection, oldest first.
#[derive(Clone)]
pub(crate) struct Registry {
    epoch: Instant,
    next_id: Arc<AtomicU64>,
    conns: Arc<Mutex<BTreeMap<u64, Arc<Conn>>>>,
}

/// Removes its connection from the registry when the connection's task ends.
pub(crate) struct Registered {
    registry: Registry,
    id: u64,
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self { epoch: Instant::now(), next_id: Arc::new(AtomicU64::new(0)), conns: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn register(&self) -> Registered {
        let conn = Arc::new(Conn {
            epoch: self.epoch,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            head_since: AtomicU64::new(NEVER),
            close: Notify::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Arc::clone(&conn));
        Registered { registry: self.clone(), id, conn }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Asks the oldest idle connection to close; false when every connection is busy.
    pub(crate) fn evict_oldest_idle(&self) -> bool {
        let conns = self.lock();
        match conns.values().find(|c| c.is_idle()) {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Asks every idle connection past its header or idle timeout to close.
    pub(crate) fn reap(&self, header_timeout: Duration, idle_timeout: Duration) {
        for conn in self.lock().values() {
            if let Some(reason) = conn.stale(header_timeout, idle_timeout) {
                tracing::debug!(reason, "closing connection");
                conn.close.notify_one();
            }
        }
    }
}

/// A socket that tells its connection when request bytes arrive.
pub(crate) struct Watched<S> {
    inner: S,
    conn: Arc<Conn>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, conn: Arc<Conn>) -> Self {
        Self { inner, conn }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.saw_bytes();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_connections_by_state() {
        let registry = Registry::new();
        let short = Duration::ZERO;
        let long = Duration::from_secs(3600);
        let idle = registry.register();
        let busy = registry.register();
        let _request = busy.conn.begin_request();
        // (header timeout, idle timeout) -> (idle connection, busy connection)
        for (header, idle_limit, expect_idle) in [
            (long, short, Some("idle timeout")),
            (long, long, None),
            (short, long, None), // no head byte yet: the header clock has not started
        ] {
            assert_eq!(idle.conn.stale(header, idle_limit), expect_idle);
            assert_eq!(busy.conn.stale(header, idle_limit), None, "a busy connection is never stale");
        }
        idle.conn.saw_bytes();
        assert_eq!(idle.conn.stale(short, long), Some("header timeout"));
        assert_eq!(idle.conn.stale(long, short), None, "a head in progress is not idle");
        assert_eq!(registry.len(), 2);
        drop(idle);
        assert_eq!(registry.len(), 1);
        assert!(!registry.evict_oldest_idle(), "the only connection left is busy");
    }
}
