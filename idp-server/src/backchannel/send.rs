//! One logout token POSTed to an app, with a deadline on each step and on the whole: the name
//! lookup and the connect within [`CONNECT_WITHIN`], the request within ureq's own time-out,
//! and the delivery as a whole within [`DELIVERY_DEADLINE`], enforced from outside ureq.
//!
//! Why each: ureq 2 resolves names with the system's blocking `getaddrinfo`, which its
//! time-outs cannot interrupt (resolv.conf's tries over each name server: 30 s and more); its
//! connect time-out defaults to 30 s and, set or not, replaces the overall time-out for the
//! connect (a host that drops packets held one delivery 30 s, a round of 20 about 150 s, past
//! the claim's 60 s lease); and during a TLS handshake each read may take the whole time left,
//! so an endpoint trickling its handshake a byte at a time keeps ureq reading for hours.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The name lookup and the connect, together: ureq counts the lookup against the connect's
/// time-out, and a lookup still running then fails the delivery.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(2);
/// ureq's own time-out for the whole request: what normally ends a delivery that gets no
/// answer, before the outside deadline has to.
const REQUEST_WITHIN: Duration = Duration::from_secs(4);
/// The whole delivery (making the token included): past it the delivery has failed, whatever
/// ureq is still doing.
pub const DELIVERY_DEADLINE: Duration = Duration::from_secs(5);
const _: () = assert!(
    CONNECT_WITHIN.as_millis() < REQUEST_WITHIN.as_millis()
        && REQUEST_WITHIN.as_millis() < DELIVERY_DEADLINE.as_millis()
);

/// Why one logout token did not reach its app (stored as the outbox row's last error).
#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    #[error("the logout token could not be made: {0}")]
    Token(crate::tokens::TokenError),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(ureq::ErrorKind),
    #[error("no answer within {} s", DELIVERY_DEADLINE.as_secs())]
    NoAnswer,
    #[error("{0} earlier deliveries to this app are still waiting for it")]
    StillWaiting(usize),
    #[error("could not start a delivery: {0}")]
    Thread(io::Error),
    #[error("not sent: another logout of this round found the app unreachable ({0})")]
    AppUnreachable(String),
}

impl SendFailure {
    /// The app could not be reached at all (no address, no connection, no answer): its other
    /// logouts of the round would only wait the same way, so they are not tried.
    pub fn unreachable(&self) -> bool {
        matches!(
            self,
            Self::Transport(_) | Self::NoAnswer | Self::StillWaiting(_)
        )
    }
}

/// A name lookup (`host:port` to addresses): the system's, or in tests one that never ends.
type Lookup = fn(&str) -> io::Result<Vec<SocketAddr>>;

fn system_lookup(netloc: &str) -> io::Result<Vec<SocketAddr>> {
    netloc.to_socket_addrs().map(Iterator::collect)
}

/// A lookup with a deadline: it runs on a helper thread, and when the helper has not answered
/// within [`CONNECT_WITHIN`] the delivery fails as a DNS error and the helper is left to finish
/// alone (bounded by the system resolver's own tries).
struct BoundedLookup(Lookup);

impl ureq::Resolver for BoundedLookup {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        // An address needs no lookup (nor a thread).
        if let Ok(addr) = netloc.parse::<SocketAddr>() {
            return Ok(vec![addr]);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let (lookup, name) = (self.0, netloc.to_string());
        std::thread::Builder::new()
            .name("idp-backchannel-dns".into())
            .spawn(move || {
                tx.send(lookup(&name)).ok();
            })?;
        rx.recv_timeout(CONNECT_WITHIN).unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no address for {netloc} within {} s",
                    CONNECT_WITHIN.as_secs()
                ),
            ))
        })
    }
}

/// The HTTP client of back-channel logout: no redirects (Back-Channel Logout 1.0 section 2.8:
/// a redirect is not a logout), and the deadlines above.
pub fn agent() -> ureq::Agent {
    agent_with(system_lookup)
}

fn agent_with(lookup: Lookup) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .resolver(BoundedLookup(lookup))
        .timeout_connect(CONNECT_WITHIN)
        .timeout(REQUEST_WITHIN)
        .redirects(0)
        .build()
}

/// Gives one back to an app's count of sending threads when a sending thread ends.
struct Leave(Arc<AtomicUsize>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// POSTs `token` to `uri`, giving up at `deadline`: the request runs on its own thread, and a
/// thread still waiting at the deadline is left to end by itself (ureq's time-outs end it in all
/// but the pathological cases). `sending` counts the app's sending threads, those left waiting
/// included; while `limit` of them are still running, nothing more is sent to the app.
pub fn post_within(
    agent: &ureq::Agent,
    uri: &str,
    token: String,
    deadline: Instant,
    sending: &Arc<AtomicUsize>,
    limit: usize,
) -> Result<u16, SendFailure> {
    let running = sending.fetch_add(1, Ordering::SeqCst);
    let leave = Leave(sending.clone());
    if running >= limit {
        return Err(SendFailure::StillWaiting(running));
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let (agent, uri) = (agent.clone(), uri.to_string());
    std::thread::Builder::new()
        .name("idp-backchannel-post".into())
        .spawn(move || {
            let _leave = leave;
            tx.send(post(&agent, &uri, &token)).ok();
        })
        .map_err(SendFailure::Thread)?;
    // A sender that ended without an answer (it panicked) did not deliver either.
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .unwrap_or(Err(SendFailure::NoAnswer))
}

fn post(agent: &ureq::Agent, uri: &str, token: &str) -> Result<u16, SendFailure> {
    agent
        .post(uri)
        .set("Cache-Control", "no-store")
        .send_form(&[("logout_token", token)])
        .map_err(|e| match e {
            ureq::Error::Status(code, _) => SendFailure::Status(code),
            ureq::Error::Transport(t) => SendFailure::Transport(t.kind()),
        })
        // Back-Channel Logout 1.0 section 2.8: 200 (or 204) says the app logged the user out;
        // anything else (a redirect to its sign-in page, say) did not.
        .and_then(|r| match r.status() {
            status @ (200 | 204) => Ok(status),
            other => Err(SendFailure::Status(other)),
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// Far above every deadline here: a test waits this long for an outcome that must come
    /// within seconds, never measures the time it took.
    const SAFETY_NET: Duration = Duration::from_secs(20);

    /// The outcome of `send` on a thread, or None when it has not come within the safety net.
    fn outcome(
        send: impl FnOnce() -> Result<u16, SendFailure> + Send + 'static,
    ) -> Option<Result<u16, SendFailure>> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(send()).ok());
        rx.recv_timeout(SAFETY_NET).ok()
    }

    /// A listener whose accept queue is full: the kernel drops every further SYN, as a host
    /// that drops packets does, so a connect to it waits. (The queued connections are returned
    /// to keep them open.)
    fn unreachable_address() -> (TcpListener, Vec<TcpStream>, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        while let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            queued.push(s);
            assert!(queued.len() < 10_000, "the accept queue never filled");
        }
        (listener, queued, addr)
    }

    #[test]
    fn a_name_lookup_that_never_ends_fails_the_delivery() {
        fn never(_: &str) -> io::Result<Vec<SocketAddr>> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(Vec::new())
        }
        let agent = agent_with(never);
        let got = outcome(move || post(&agent, "http://app.example/backchannel", "t"));
        assert!(
            matches!(got, Some(Err(SendFailure::Transport(ureq::ErrorKind::Dns)))),
            "{got:?}"
        );
    }

    #[test]
    fn a_connect_nobody_takes_fails_the_delivery() {
        let (_listener, _queued, addr) = unreachable_address();
        let agent = agent();
        let uri = format!("http://{addr}/backchannel");
        let got = outcome(move || post(&agent, &uri, "t"));
        assert!(
            matches!(got, Some(Err(SendFailure::Transport(_)))),
            "{got:?}"
        );
    }

    /// An https endpoint that trickles its TLS handshake a byte every half second: each read
    /// returns in time, so ureq's time-outs never fire; the delivery's deadline does.
    #[test]
    fn a_delivery_past_its_deadline_has_failed_whatever_the_app_does() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // A handshake record announcing 16 KiB, sent a byte at a time.
            let mut bytes = vec![0x16u8, 0x03, 0x03, 0x40, 0x00];
            bytes.resize(5 + 0x4000, 0);
            for b in bytes {
                if stream.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        let sending = Arc::new(AtomicUsize::new(0));
        let counted = sending.clone();
        let client = agent();
        let uri = format!("https://{addr}/backchannel");
        let got = outcome(move || {
            post_within(
                &client,
                &uri,
                "t".into(),
                Instant::now() + DELIVERY_DEADLINE,
                &counted,
                4,
            )
        });
        assert!(matches!(got, Some(Err(SendFailure::NoAnswer))), "{got:?}");
        assert_eq!(
            sending.load(Ordering::SeqCst),
            1,
            "the request left behind still counts"
        );
        // The app's limit of sending threads: nothing more is sent while it is reached.
        let full = Arc::new(AtomicUsize::new(4));
        let refused = post_within(
            &agent(),
            "http://127.0.0.1:9/backchannel",
            "t".into(),
            Instant::now() + DELIVERY_DEADLINE,
            &full,
            4,
        );
        assert!(
            matches!(refused, Err(SendFailure::StillWaiting(4))),
            "{refused:?}"
        );
        assert_eq!(
            full.load(Ordering::SeqCst),
            4,
            "the refusal gave its count back"
        );
    }
}
