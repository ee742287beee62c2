//! A deadline for request bodies. actix-web cuts off a request whose head is slow
//! (`client_request_timeout`, 5 s) but waits for a body as long as the client keeps the
//! connection: a client promising 100 bytes and sending 12 held a socket and a file descriptor
//! for ever, and enough of them starve the process. Every body here is small (64 KiB at most),
//! so it must arrive whole within [`BODY_DEADLINE`] of the request's start; after that the
//! handler's extractor sees an I/O error (a 400) and the connection closes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
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
/// without one, most of them, get no timer).
pub async fn limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        let inner = req.take_payload();
        let timed = Deadline {
            inner,
            timer: Box::pin(actix_web::rt::time::sleep(BODY_DEADLINE)),
        };
        req.set_payload(Payload::from(
            Box::pin(timed) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
        ));
    }
    next.call(req).await
}

/// A payload that fails once its timer has run out.
struct Deadline {
    inner: Payload,
    timer: Pin<Box<actix_web::rt::time::Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(chunk) = Pin::new(&mut self.inner).poll_next(cx) {
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
