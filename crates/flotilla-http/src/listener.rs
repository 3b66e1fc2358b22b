//! The HTTP/1.1 accept loop: every limit a connection lives under.
//!
//! A connection gets `header_timeout` to send a request's head once its first
//! byte has arrived, and `idle_timeout` of silence between requests; it serves
//! at most `max_requests` before it is closed. At most `max_connections` are
//! open: over the cap the oldest idle connection is closed to make room, and
//! when every connection is busy the newcomer gets a short `503` with
//! `Retry-After` and is closed, without a task of its own. Each request runs
//! under a time budget (`request_timeout`) that the store sees (see
//! `flotilla_store::budget`), and its body may not pause longer than
//! `idle_timeout` between pieces; when the client goes away hyper drops the
//! request's future and the budget is cancelled, so its query stops too. On
//! shutdown the loop stops accepting, closes idle connections at once, lets
//! requests in progress finish, and after `shutdown_timeout` returns anyway.
//!
//! With TLS (`ListenerConfig::tls`) every limit holds the same way: the
//! handshake must end within `header_timeout` (its bytes start the header
//! clock like a request head's), and the connection is counted, evicted and
//! reaped as any other while it is under way.

mod body;
mod tls;
mod tracked;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use flotilla_store::Budget;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

pub use self::tls::Tls;
use self::tracked::{Registry, Watched};
use crate::observed::{Observed, Observer};
use crate::request_meta::{PeerAddr, TlsConnection};

/// The limits of [`serve`].
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time from a request head's first byte to its end.
    pub header_timeout: Duration,
    /// Silence allowed on a connection with no request in progress.
    pub idle_timeout: Duration,
    /// Requests served on one keep-alive connection before it is closed.
    pub max_requests: usize,
    /// Time budget of one request's store work; `None` for none.
    pub request_timeout: Option<Duration>,
    /// How long shutdown waits for requests in progress.
    pub shutdown_timeout: Duration,
    /// Serve HTTPS with this certificate; `None` for plain HTTP.
    pub tls: Option<Tls>,
}

/// The largest request head (request line and headers) read, in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long an accept waits for an evicted connection to free its slot.
const EVICTION_WAIT: Duration = Duration::from_millis(200);
/// Refused sockets lingering at once, and for how long.
const MAX_LINGERING: usize = 64;
const LINGER: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: ListenerConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    // Shutdown waits for every slot at once, so the cap fits in a u32 too.
    let max_connections = config.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let config = Arc::new(ListenerConfig { max_connections, ..config });
    let slots = Arc::new(Semaphore::new(max_connections));
    let registry = Registry::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let reaper = tokio::spawn(reap(registry.clone(), Arc::clone(&config)));
    let lingering = Arc::new(AtomicUsize::new(0));
    let (mut refusals, mut accept_errors) = (Throttle::default(), Throttle::default());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.as_mut() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer.ip()),
                Err(e) => {
                    accept_failed(&e, &registry, &mut accept_errors).await;
                    continue;
                }
            },
        };
        let Some(permit) = take_slot(&slots, &registry).await else {
            refuse(stream, config.max_connections, config.tls.is_some(), &lingering, &mut refusals);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection { app: app.clone(), config: Arc::clone(&config), stop: stop_rx.clone() };
        let registered = registry.register();
        tokio::spawn(async move {
            conn.run(stream, peer, registered).await;
            drop(permit);
        });
    }
    drop(listener);
    reaper.abort();
    let open = registry.len();
    tracing::info!(open_connections = open, "shutting down: no new connections");
    let _ = stop_tx.send(true);
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(config.shutdown_timeout, slots.acquire_many(all)).await.is_err() {
        tracing::warn!(
            dropped = registry.len(),
            deadline_s = config.shutdown_timeout.as_secs_f64(),
            "shutdown deadline passed; dropping the connections left"
        );
    }
    Ok(())
}

/// A free connection slot, closing the oldest idle connection if none is left.
async fn take_slot(slots: &Arc<Semaphore>, registry: &Registry) -> Option<tokio::sync::OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
        return Some(permit);
    }
    if !registry.evict_oldest_idle() {
        return None;
    }
    tokio::time::timeout(EVICTION_WAIT, Arc::clone(slots).acquire_owned()).await.ok()?.ok()
}

/// Over the cap with every connection busy: a short answer in MLflow's error
/// shape, written without waiting (a fresh socket's buffer takes it whole).
/// The socket then lingers a moment, read and discarded, so that closing it
/// over an unread request does not reset the answer away; only a few linger
/// at once, the rest are closed at once. Under TLS the socket is only closed.
fn refuse(stream: TcpStream, cap: usize, tls: bool, lingering: &Arc<AtomicUsize>, log: &mut Throttle) {
    if let Some(also) = log.ready() {
        tracing::warn!(
            max_connections = cap,
            refused_since_last = also,
            "connection refused: every connection is busy"
        );
    }
    if tls {
        // A TLS client could not read a plain answer: it sees the close.
        return;
    }
    let body = format!(
        r#"{{"error_code":"TEMPORARILY_UNAVAILABLE","message":"too many open connections (--max-connections {cap}); retry shortly"}}"#
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    if lingering.fetch_add(1, Ordering::AcqRel) >= MAX_LINGERING.min(cap.div_ceil(4)) {
        lingering.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let lingering = Arc::clone(lingering);
    tokio::spawn(async move {
        let mut stream = stream;
        let _ = tokio::time::timeout(LINGER, async {
            let _ = stream.shutdown().await;
            let mut sink = [0u8; 512];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        lingering.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Out of file descriptors (or another accept error): free an idle
/// connection if there is one, and pause so the loop does not spin.
async fn accept_failed(e: &io::Error, registry: &Registry, log: &mut Throttle) {
    if let Some(also) = log.ready() {
        tracing::warn!(error = %e, open_connections = registry.len(), failed_since_last = also, "accept failed");
    }
    registry.evict_oldest_idle();
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// A warning repeated under attack is logged at most once a second, with
/// the number of repeats it stands for.
#[derive(Default)]
struct Throttle {
    last: Option<std::time::Instant>,
    folded: u64,
}

impl Throttle {
    /// `Some(repeats folded since the last line)` when a line may be logged now.
    fn ready(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < Duration::from_secs(1) => {
                self.folded += 1;
                None
            }
            Some(_) | None => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.folded))
            }
        }
    }
}

/// Closes idle connections past their header or idle timeout.
async fn reap(registry: Registry, config: Arc<ListenerConfig>) {
    let tick =
        (config.header_timeout.min(config.idle_timeout) / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        registry.reap(config.header_timeout, config.idle_timeout);
    }
}

/// What one connection's task needs.
struct Connection {
    app: Router,
    config: Arc<ListenerConfig>,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, peer: IpAddr, registered: tracked::Registered) {
        let conn = Arc::clone(&registered.conn);
        let io = Watched::new(stream, Arc::clone(&conn));
        let Some(tls) = self.config.tls.clone() else {
            return self.serve_http(io, peer, conn, false).await;
        };
        let handshake = tokio::time::timeout(self.config.header_timeout, tls.0.accept(io));
        let io = tokio::select! {
            done = handshake => match done {
                Ok(Ok(io)) => io,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("tls handshake timed out");
                    return;
                }
            },
            () = conn.close.notified() => return,
            _ = self.stop.wait_for(|stop| *stop) => return,
        };
        self.serve_http(io, peer, conn, true).await;
        drop(registered);
    }

    async fn serve_http<I>(mut self, io: I, peer: IpAddr, conn: Arc<tracked::Conn>, tls: bool)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let served = Arc::new(AtomicUsize::new(0));
        let (app, config) = (self.app.clone(), Arc::clone(&self.config));
        let tracker = Arc::clone(&conn);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = tracker.begin_request();
            let last = served.fetch_add(1, Ordering::Relaxed) + 1 >= config.max_requests;
            let budget = config.request_timeout.map(Budget::new);
            let (parts, incoming) = request.into_parts();
            let (body, read_to_end) = body::GapTimed::new(incoming, config.idle_timeout);
            let mut request = Request::from_parts(parts, Body::new(body));
            request.extensions_mut().insert(PeerAddr(peer));
            if tls {
                request.extensions_mut().insert(TlsConnection);
            }
            let app = app.clone();
            async move {
                let mut response = match budget {
                    Some(budget) => {
                        let _cancel_when_dropped = CancelOnDrop(budget.clone());
                        flotilla_app::budget::scope(budget, app.oneshot(request)).await
                    }
                    None => app.oneshot(request).await,
                }?;
                // A body left on the wire (a refusal that never read it) makes hyper
                // close the connection: say so, or a pooling client reuses a dead socket.
                if last || !read_to_end.get() {
                    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                // The request ends when its body has been written, not before.
                Ok::<_, Infallible>(response.map(|body| Observed::body(body, in_flight)))
            }
        });
        let io = TokioIo::new(io);
        let http =
            hyper::server::conn::http1::Builder::new().max_buf_size(MAX_HEAD_BYTES).serve_connection(io, service);
        let mut http = std::pin::pin!(http);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = http.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    return;
                }
                () = conn.close.notified() => {
                    if conn.is_idle() {
                        return;
                    }
                }
                _ = self.stop.wait_for(|stop| *stop), if !stopping => {
                    if conn.is_idle() {
                        return;
                    }
                    stopping = true;
                    http.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Cancels a request's budget when its future is dropped: finished, or
/// abandoned because the client went away.
struct CancelOnDrop(Budget);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A request stays in flight until its answer's body is dropped.
impl Observer for tracked::InFlight {}
