//! A deadline for request bodies. actix-web cuts off a request whose head is slow
//! (`client_request_timeout`, 5 s) but waits for a body as long as the client keeps the
//! connection: a client promising 100 bytes and sending 12 held a socket and a file descriptor
//! for ever, and enough of them starve the process. Every body here is small (64 KiB at most),
//! so it must arrive whole within [`BODY_DEADLINE`] of the request's start; after that the
//! handler's extractor sees an I/O error (a 400) and the connection closes, chunked or not.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage as _;
use futures_core::Stream;

/// How long a whole body may take to arrive: 64 KiB over a poor mobile link takes a second or
/// two.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Middleware: requests that announce a body read it against [`BODY_DEADLINE`] (requests
/// without one, most of them, get no timer). A body left unfinished (the deadline passed, or
/// the handler did not read it) is kept alive by the answer's body until that is sent: actix-http
/// then closes the connection, where for a body it sees dropped it would read the rest of a
/// chunked body to discard it, which a client trickling chunks could make last for ever.
pub async fn limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, Held>>, actix_web::Error> {
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if !has_body {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let left = Rc::new(RefCell::new(None));
    let timed = Deadline {
        inner: req.take_payload(),
        timer: Box::pin(actix_web::rt::time::sleep(BODY_DEADLINE)),
        finished: false,
        left: Rc::clone(&left),
    };
    req.set_payload(Payload::from(
        Box::pin(timed) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    let res = next.call(req).await?;
    let unfinished = left.borrow_mut().take();
    Ok(match unfinished {
        None => res.map_into_left_body(),
        Some(payload) => res.map_into_boxed_body().map_body(|_, body| {
            EitherBody::right(Held {
                body,
                _payload: payload,
            })
        }),
    })
}

/// An answer's body holding the request body that was not read to its end (see [`limit`]).
pub struct Held {
    body: BoxBody,
    _payload: Payload,
}

impl MessageBody for Held {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// A payload that fails once its timer has run out.
struct Deadline {
    inner: Payload,
    timer: Pin<Box<actix_web::rt::time::Sleep>>,
    finished: bool,
    /// Where the inner payload goes when this is dropped before its end.
    left: Rc<RefCell<Option<Payload>>>,
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if !self.finished {
            *self.left.borrow_mut() = Some(std::mem::replace(&mut self.inner, Payload::None));
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if let Poll::Ready(chunk) = Pin::new(&mut self.inner).poll_next(cx) {
            if chunk.is_none() {
                self.finished = true;
            }
            return Poll::Ready(chunk);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}
