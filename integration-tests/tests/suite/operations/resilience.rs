//! Failure behaviour and readiness: when the database becomes unreachable the provider answers
//! 503 (a friendly page, or JSON on API endpoints), /readyz says not ready, nothing panics, and it
//! recovers by itself when the database is back (the outage is made with a TCP proxy the test
//! controls, so the shared PostgreSQL server itself is never stopped); a request body that never
//! arrives is cut off; /readyz warns of a file outbox outside development.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::rp::{http, seed};

/// A TCP proxy to PostgreSQL that can be cut and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            up: Arc::new(AtomicBool::new(true)),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.serve(listener, upstream);
        proxy
    }

    fn serve(&self, listener: TcpListener, upstream: String) {
        let (up, conns) = (self.up.clone(), self.conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up.load(Ordering::SeqCst) {
                    client.shutdown(Shutdown::Both).ok();
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                conns.lock().unwrap().push(client.try_clone().unwrap());
                conns.lock().unwrap().push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        to.shutdown(Shutdown::Both).ok();
                    });
                }
            }
        });
    }

    /// Cuts every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.shutdown(Shutdown::Both).ok();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn database_outage_gives_503_and_the_server_recovers_by_itself() {
    if !postgres_available() {
        return;
    }
    let db = test_database(Db::Postgres, std::path::Path::new("/tmp"));
    let mut via_proxy = url::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        via_proxy.host_str().unwrap(),
        via_proxy.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(upstream);
    via_proxy.set_port(Some(proxy.port)).unwrap();
    let server = TestServer::start_on(
        tempfile::tempdir().unwrap(),
        via_proxy.as_str(),
        Options {
            extra_toml: "\n[database]\nconnect_timeout = \"1s\"\npool_size = 4\n".into(),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    assert_eq!(
        http().get(server.url("/readyz")).send().unwrap().status(),
        200
    );

    proxy.cut();
    wait_until(
        "/readyz to report the outage",
        Duration::from_secs(20),
        || http().get(server.url("/readyz")).send().unwrap().status() == 503,
    );
    // Pages: a friendly 503 page.
    let page = Browser::new().get(&format!(
        "{}?client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
        server.url("/authorize")
    ));
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("Temporarily unavailable"));
    assert!(page.headers.get("retry-after").is_some());
    // API: JSON.
    let res = http()
        .post(server.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<serde_json::Value>().unwrap()["error"],
        "temporarily_unavailable"
    );
    // Endpoints that need no database keep working.
    assert_eq!(
        http()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http().get(server.url("/jwks")).send().unwrap().status(),
        200
    );
    assert_eq!(
        http().get(server.url("/healthz")).send().unwrap().status(),
        200
    );

    proxy.restore();
    wait_until("recovery", Duration::from_secs(30), || {
        http().get(server.url("/readyz")).send().unwrap().status() == 200
    });
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&format!(
        "{}?client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
        server.url("/authorize")
    )));
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(res.status, 303, "signing in works again: {}", res.body);
    assert_no_server_panics();
    drop(server);
    drop(db);
}

/// A body that never arrives in full (a slow-body attack: the headers promise 100 bytes, 12 come)
/// does not hold the connection for ever: the request is answered with an error and the connection
/// closed once the body deadline passes, as incomplete headers are. Each such connection would hold
/// a socket and a file descriptor; enough of them starve the process.
#[test]
fn a_body_that_never_arrives_is_cut_off() {
    let server = TestServer::start(Db::Sqlite);
    let addr = server.base.trim_start_matches("http://").to_string();
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    // Also chunked (actix-http reads the rest of a chunked body its handler did not take, to
    // discard it, so a client sending a chunk now and then held the connection), and to a
    // route that reads no body at all.
    // What each gets before the close: a refusal of the unfinished body, or (a route that reads
    // none) its answer.
    for (what, answers, request) in [
        (
            "a short Content-Length body",
            "HTTP/1.1 4",
            format!("POST /token HTTP/1.1\r\nHost: x\r\n{form}Content-Length: 100\r\n\r\ngrant_type=a"),
        ),
        (
            "a chunked body that stops",
            "HTTP/1.1 4",
            format!("POST /token HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\n5\r\ngrant\r\n"),
        ),
        (
            "a chunked body to a route that reads none",
            "HTTP/1.1 200",
            "GET /jwks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nstate\r\n"
                .to_string(),
        ),
    ] {
        cut_off(&addr, what, answers, request.as_bytes());
    }
    // The server itself is fine.
    assert_eq!(
        http().get(server.url("/healthz")).send().unwrap().status(),
        200
    );
}

/// Sends `request` and reads until the server closes; a read that times out is a failure.
fn cut_off(addr: &str, what: &str, answers: &str, request: &[u8]) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.write_all(request).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "{what}: no answer and no close after {:?}: {e}",
                started.elapsed()
            ),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with(answers), "{what}: {answer}");
    assert!(started.elapsed() < Duration::from_secs(30), "{what}");
}

/// With a public issuer, a file outbox is reported by /readyz (the service is ready, but its
/// invitations and reset links reach nobody); on a development machine it is not.
#[test]
fn readyz_reports_a_file_outbox_outside_development() {
    let public = TestServer::start_with(
        Db::Sqlite,
        Options {
            issuer: Some("https://id.example.com".into()),
            ..Options::default()
        },
    );
    let res = crate::rp::http().get(public.url("/readyz")).send().unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().unwrap();
    assert!(
        body.starts_with("ready\n") && body.contains("warning: mail goes to the file outbox"),
        "{body}"
    );
    let dev = TestServer::start(Db::Sqlite);
    let body = crate::rp::http()
        .get(dev.url("/readyz"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(body, "ready\n");
}
