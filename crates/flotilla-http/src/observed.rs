//! A response body with something riding along: an observer that sees each
//! piece of data as it is sent and is dropped with the body (after the last
//! byte is written, or when the client goes away). Unlike `map_frame`, it
//! keeps the body's size hint, so hyper still sends `Content-Length`
//! instead of chunking every answer.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, SizeHint};

/// What rides along with a body.
pub(crate) trait Observer: Send + Unpin + 'static {
    /// `bytes` of data were handed to the connection.
    fn sent(&mut self, _bytes: usize) {}
}

pub(crate) struct Observed<O> {
    inner: Body,
    observer: O,
}

impl<O: Observer> Observed<O> {
    pub(crate) fn body(inner: Body, observer: O) -> Body {
        Body::new(Self { inner, observer })
    }
}

impl<O: Observer> HttpBody for Observed<O> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let n = data.len();
            self.observer.sent(n);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
