//! A request body that must keep arriving: a gap longer than the idle
//! timeout between two pieces ends it with an error, so a client that
//! promises a body and trickles it (or stops) cannot hold a connection, and
//! its slot, forever. The handler sees a failed body read (a 4xx); nothing
//! half-read is stored (artifact uploads are renamed into place only whole).
//!
//! It also tells the connection whether it was read to its end ([`ReadToEnd`]):
//! a response sent while the body is still on the wire (a refusal that never
//! needed it) must say `Connection: close`, because hyper then closes the
//! connection rather than wait for the rest, and a client that pooled the
//! connection would send its next request into a closed socket.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// Why a body read failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body stalled for {0:?} (--idle-timeout)")]
    Stalled(Duration),
    #[error(transparent)]
    Read(#[from] hyper::Error),
}

/// Whether a request's body has been read to its end (an empty body has).
#[derive(Clone)]
pub(crate) struct ReadToEnd(Arc<AtomicBool>);

impl ReadToEnd {
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

pub(crate) struct GapTimed {
    inner: Incoming,
    gap: Duration,
    /// Armed at the first poll: a handler that reads late is not the client's fault.
    timer: Option<Pin<Box<Sleep>>>,
    read_to_end: ReadToEnd,
}

impl GapTimed {
    /// The body, and the flag that tells when it has been read to its end.
    pub(crate) fn new(inner: Incoming, gap: Duration) -> (Self, ReadToEnd) {
        let read_to_end = ReadToEnd(Arc::new(AtomicBool::new(inner.is_end_stream())));
        (Self { inner, gap, timer: None, read_to_end: read_to_end.clone() }, read_to_end)
    }
}

impl Body for GapTimed {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let gap = self.gap;
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(timer) = self.timer.as_mut() {
                    timer.as_mut().reset(Instant::now() + gap);
                }
                if frame.is_none() || self.inner.is_end_stream() {
                    self.read_to_end.set();
                }
                Poll::Ready(frame.map(|f| f.map_err(BodyError::from)))
            }
            Poll::Pending => {
                let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Stalled(gap)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
