//! A test app's back-channel logout endpoint: a plain HTTP listener that records every body
//! POSTed to it (and can play an app that is down).

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::free_listener;

/// An HTTP listener recording the bodies POSTed to it (the back-channel logout endpoint of a test
/// app).
pub struct Recorder {
    pub url: String,
    pub rx: mpsc::Receiver<String>,
}

impl Recorder {
    pub fn start() -> Self {
        Self::start_failing(0)
    }

    /// A recorder that answers the first `failures` requests with 503 (an app that is down);
    /// every request's body is recorded, failed or not.
    pub fn start_failing(failures: usize) -> Self {
        Self::start_answering(
            failures,
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
    }

    /// A recorder that answers the first `failures` requests with `refusal` (a whole HTTP
    /// response), the others with 200.
    pub fn start_answering(failures: usize, refusal: &'static [u8]) -> Self {
        let listener = free_listener();
        let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut served = 0usize;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                loop {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(idx) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= idx + 4 + len {
                            let body =
                                String::from_utf8_lossy(&buf[idx + 4..idx + 4 + len]).to_string();
                            served += 1;
                            let answer: &[u8] = if served <= failures {
                                refusal
                            } else {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            };
                            stream.write_all(answer).ok();
                            tx.send(body).ok();
                            break;
                        }
                    }
                }
            }
        });
        Recorder { url, rx }
    }

    /// The next `n` logout tokens, however far apart they come; panics if they have not all come
    /// `within`.
    pub fn next_logout_tokens(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        (0..n)
            .map(|i| {
                let body = self
                    .rx
                    .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
                    .unwrap_or_else(|_| panic!("{i} of {n} logout tokens within {within:?}"));
                logout_token(&body)
            })
            .collect()
    }

    /// The logout tokens received: waits up to `first_within` for the first, then keeps
    /// collecting until `then` passes without another.
    pub fn logout_tokens(&self, first_within: Duration, then: Duration) -> Vec<String> {
        let mut out = Vec::new();
        let mut deadline = std::time::Instant::now() + first_within;
        while let Ok(body) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            out.push(logout_token(&body));
            deadline = std::time::Instant::now() + then;
        }
        out
    }
}

/// The `logout_token` of a back-channel logout request's body.
fn logout_token(body: &str) -> String {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("a logout_token in {body:?}"))
}

/// An app whose back-channel endpoint accepts the connection, reads the request and never
/// answers. It tells when the provider connects (`connected`) and when the provider gives up and
/// closes the connection (`dropped`).
pub struct SilentApp {
    pub url: String,
    pub connected: mpsc::Receiver<()>,
    pub dropped: mpsc::Receiver<()>,
}

impl SilentApp {
    pub fn start() -> Self {
        let listener = free_listener();
        let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        let (connected_tx, connected) = mpsc::channel();
        let (dropped_tx, dropped) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                connected_tx.send(()).ok();
                let dropped_tx = dropped_tx.clone();
                std::thread::spawn(move || {
                    // Read everything the provider sends; the read returns 0 (or fails) only
                    // when the provider closes its end.
                    let mut chunk = [0u8; 4096];
                    while matches!(stream.read(&mut chunk), Ok(n) if n > 0) {}
                    dropped_tx.send(()).ok();
                });
            }
        });
        SilentApp {
            url,
            connected,
            dropped,
        }
    }
}

/// An app whose address takes no connection: a listener whose accept queue is full (it never
/// accepts), so the kernel drops the provider's SYNs and its connect waits, as it does for a
/// host that drops packets.
pub struct UnreachableApp {
    pub url: String,
    _listener: std::net::TcpListener,
    _queued: Vec<std::net::TcpStream>,
}

impl UnreachableApp {
    pub fn start() -> Self {
        let listener = free_listener();
        let addr = listener.local_addr().unwrap();
        // Fill the queue until a connection is no longer taken.
        let mut queued = Vec::new();
        while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            queued.push(s);
            assert!(queued.len() < 10_000, "the accept queue never filled");
        }
        UnreachableApp {
            url: format!("http://{addr}/backchannel"),
            _listener: listener,
            _queued: queued,
        }
    }
}
