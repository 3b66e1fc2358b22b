//! A request body that must keep arriving: a gap longer than the idle
//! timeout between two pieces ends it with an error, so a client that
//! promises a body and trickles it (or stops) cannot hold a connection, and
//! its slot, forever. The handler sees a failed body read (a 4xx); nothing
//! half-read is stored (artifact uploads are renamed into place only whole).

use std::future::Future;
use std::pin::Pin;
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

pub(crate) struct GapTimed {
    inner: Incoming,
    gap: Duration,
    /// Armed at the first poll: a handler that reads late is not the client's fault.
    timer: Option<Pin<Box<Sleep>>>,
}

impl GapTimed {
    pub(crate) fn new(inner: Incoming, gap: Duration) -> Self {
        Self { inner, gap, timer: None }
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
