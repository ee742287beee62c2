//! The real binary under signals: SIGTERM lets in-flight requests finish; `kill -9` in the middle
//! of a load of code redemptions and refreshes leaves every code unused or fully redeemed and no
//! refresh chain with two live heads.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use idp_core::oauth::NewCode;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::http;

pub struct Running {
    pub child: Child,
    pub base: String,
    db: TestDatabase,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Running {
    /// What the server has written to stderr so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// Starts `idp-server serve` as a separate process and waits for /healthz. The port is found
/// free, released and then bound by the server, so another test may take it in between: then
/// the server exits saying so, and it is started again on another port.
fn spawn(db: Db, argon2_memory_kib: u32) -> Running {
    spawn_with(db, argon2_memory_kib, "")
}

/// [`spawn`] with `extra` TOML appended to the configuration.
pub fn spawn_with(db: Db, argon2_memory_kib: u32, extra: &str) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(db, dir.path());
    for _attempt in 0..5 {
        let addr = free_listener().local_addr().unwrap();
        let base = format!("http://{addr}");
        let config = write_config(dir.path(), &base, &database.url, argon2_memory_kib, extra);
        let log = dir.path().join("server.log");
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdout(Stdio::null())
            // Kept for the failure messages (see `Running::log`).
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(
                    text.contains("in use"),
                    "server exited ({status}) at start:\n{text}"
                );
                break; // the port was taken: next attempt
            }
            let healthy = http()
                .get(format!("{base}/healthz"))
                .send()
                .is_ok_and(|r| r.status() == 200);
            if healthy {
                return Running {
                    child,
                    base,
                    db: database,
                    dir,
                    config,
                };
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("no free port after 5 attempts");
}

fn write_config(
    dir: &std::path::Path,
    base: &str,
    database_url: &str,
    argon2_memory_kib: u32,
    extra: &str,
) -> std::path::PathBuf {
    let addr = base.trim_start_matches("http://");
    let options = Options {
        extra_toml: extra.to_string(),
        ..Options::default()
    };
    let text = config_text(base, addr, database_url, dir, &options)
        .replace(
            "argon2_memory_kib = 1024",
            &format!("argon2_memory_kib = {argon2_memory_kib}"),
        )
        .replace(
            "argon2_iterations = 1",
            if argon2_memory_kib > 1024 {
                "argon2_iterations = 4"
            } else {
                "argon2_iterations = 1"
            },
        );
    let config = dir.join("idp.toml");
    std::fs::write(&config, text).unwrap();
    config
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn sigterm_lets_in_flight_requests_finish(db: Db) {
    // A costly argon2 setting makes each sign-in take a good fraction of a second.
    let mut run = spawn(db, 262_144);
    let rt = idp_server::Runtime::open(
        idp_server::config::Config::load(run.config.to_str().unwrap()).unwrap(),
        false,
    )
    .unwrap();
    rt.idp
        .create_account("acme", "Acme", &crate::rp::op())
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..3 {
        let base = run.base.clone();
        handles.push(std::thread::spawn(move || {
            let browser = Browser::new();
            let page = browser.follow(&base, browser.get(&format!("{base}/login")));
            let started = Instant::now();
            let res = browser.post(
                &format!("{base}/login/password"),
                &[
                    ("csrf", &page.csrf()),
                    ("email", "nobody@example.com"),
                    ("password", PASSWORD),
                ],
            );
            (res.status, started.elapsed())
        }));
    }
    std::thread::sleep(Duration::from_millis(400));
    signal(&run.child, "-TERM");
    let mut longest = Duration::ZERO;
    for h in handles {
        let (status, took) = h.join().unwrap();
        if status != 401 {
            run.child.wait().ok();
        }
        assert_eq!(
            status,
            401,
            "the in-flight sign-in finished with its real answer (took {took:?}); server log:\n{}",
            run.log()
        );
        longest = longest.max(took);
    }
    assert!(
        longest > Duration::from_millis(400),
        "a request was still in flight at SIGTERM ({longest:?})"
    );
    let start = Instant::now();
    loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit after SIGTERM: {status:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = run.log();
    assert!(!log.contains("panicked"), "nothing panicked:\n{log}");
    drop(run.dir);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

macro_rules! count {
    ($conn:expr, $sql:expr) => {
        diesel::sql_query($sql)
            .get_result::<Count>($conn)
            .unwrap()
            .n
    };
}

fn kill_9_under_load_leaves_consistent_state(db: Db) {
    let mut run = spawn(db, 1024);
    let rt = idp_server::Runtime::open(
        idp_server::config::Config::load(run.config.to_str().unwrap()).unwrap(),
        false,
    )
    .unwrap();
    let idp = &rt.idp;
    idp.create_account("acme", "Acme", &crate::rp::op())
        .unwrap();
    let user = idp
        .create_user(
            "acme",
            idp_core::users::NewUser {
                email: "ann@example.com",
                password: Some(PASSWORD),
                ..Default::default()
            },
            &crate::rp::op(),
        )
        .unwrap();
    let (session, _) = idp
        .start_session(&user, idp_core::AuthMethod::Password, None, None)
        .unwrap();
    let new = |_: usize| NewCode {
        client_id: "demo",
        redirect_uri: "http://127.0.0.1:8081/callback",
        session_id: &session.id,
        user_id: &user.id,
        scope: "openid",
        nonce: None,
        code_challenge: None,
    };
    let codes: Vec<String> = (0..300).map(|i| idp.issue_code(&new(i)).unwrap()).collect();
    let refresh: Vec<String> = (0..20)
        .map(|i| {
            idp.redeem_code(
                &idp.issue_code(&new(i)).unwrap(),
                "demo",
                "http://127.0.0.1:8081/callback",
                None,
            )
            .unwrap()
            .refresh_token
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    // What the clients were told succeeded: every one of those must be in the database.
    let redeemed_ok = Arc::new(AtomicI64::new(0));
    let rotated_ok = Arc::new(AtomicI64::new(0));
    let mut workers = Vec::new();
    for (w, chunk) in codes.chunks(75).enumerate() {
        let (chunk, base, stop) = (chunk.to_vec(), run.base.clone(), stop.clone());
        let (redeemed_ok, rotated_ok) = (redeemed_ok.clone(), rotated_ok.clone());
        let mut token = refresh[w].clone();
        workers.push(std::thread::spawn(move || {
            let client = http();
            for code in chunk {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                // A request the kill cut off has no answer; that is expected here.
                let redeemed = client
                    .post(format!("{base}/token"))
                    .basic_auth("demo", Some(DEMO_SECRET))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", "http://127.0.0.1:8081/callback"),
                    ])
                    .send()
                    .is_ok_and(|r| r.status() == 200);
                if redeemed {
                    redeemed_ok.fetch_add(1, Ordering::SeqCst);
                }
                let rotated = client
                    .post(format!("{base}/token"))
                    .basic_auth("demo", Some(DEMO_SECRET))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                    .send()
                    .ok()
                    .filter(|r| r.status() == 200)
                    .and_then(|r| r.json::<serde_json::Value>().ok())
                    .and_then(|v| v["refresh_token"].as_str().map(str::to_string));
                if let Some(t) = rotated {
                    token = t;
                    rotated_ok.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // Kill once the load is well under way (both kinds of call have succeeded a few times).
    let start = Instant::now();
    while redeemed_ok.load(Ordering::SeqCst) < 20 || rotated_ok.load(Ordering::SeqCst) < 20 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the load made no progress:\n{}",
            run.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&run.child, "-9");
    let killed = run.child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed),
        Some(9),
        "killed mid-load"
    );
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let log = run.log();
    assert!(
        !log.contains("panicked"),
        "nothing panicked before the kill:\n{log}"
    );
    let (redeemed_ok, rotated_ok) = (
        redeemed_ok.load(Ordering::SeqCst),
        rotated_ok.load(Ordering::SeqCst),
    );
    assert!(
        redeemed_ok < 300,
        "the kill came before the load ended ({redeemed_ok} of 300 codes)"
    );

    // Invariants, read straight from the database.
    let check = |half_done: i64, two_heads: i64, redeemed: i64, rotated: i64| {
        assert_eq!(
            half_done, 0,
            "a code marked used without its grant and token"
        );
        assert_eq!(two_heads, 0, "a refresh chain with two live heads");
        // The 20 seed redemptions plus every one a client was told about (a cut-off request
        // may have committed without its answer arriving, so these are lower bounds).
        assert!(
            redeemed >= 20 + redeemed_ok,
            "{redeemed} codes redeemed in the database, {redeemed_ok} answered"
        );
        assert!(
            rotated >= rotated_ok,
            "{rotated} refresh tokens rotated in the database, {rotated_ok} answered"
        );
    };
    let q_half = "SELECT COUNT(*) AS n FROM authorization_codes c WHERE c.redeemed_at IS NOT NULL AND (c.grant_id IS NULL OR NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = c.grant_id))";
    let q_heads = "SELECT COUNT(*) AS n FROM (SELECT grant_id FROM refresh_tokens WHERE used_at IS NULL GROUP BY grant_id HAVING COUNT(*) > 1) t";
    let q_redeemed = "SELECT COUNT(*) AS n FROM authorization_codes WHERE redeemed_at IS NOT NULL";
    let q_rotated = "SELECT COUNT(*) AS n FROM refresh_tokens WHERE used_at IS NOT NULL";
    match db {
        Db::Sqlite => {
            let mut c =
                diesel::SqliteConnection::establish(run.db.url.trim_start_matches("sqlite://"))
                    .unwrap();
            check(
                count!(&mut c, q_half),
                count!(&mut c, q_heads),
                count!(&mut c, q_redeemed),
                count!(&mut c, q_rotated),
            );
        }
        Db::Postgres => {
            let mut c = diesel::PgConnection::establish(&run.db.url).unwrap();
            check(
                count!(&mut c, q_half),
                count!(&mut c, q_heads),
                count!(&mut c, q_redeemed),
                count!(&mut c, q_rotated),
            );
        }
    }
}

/// The value of a counter on /metrics (0 when it has not been counted yet).
fn metric(base: &str, line_start: &str) -> u64 {
    let text = http()
        .get(format!("{base}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .map(|v| v.trim().parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

fn wait_for_metric(run: &Running, line_start: &str, value: u64) {
    let start = Instant::now();
    while metric(&run.base, line_start) < value {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{line_start} did not reach {value}:\n{}",
            run.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A code issued by the domain for `client_id` in the session, redeemed at the running server's
/// token endpoint (as the app would): the token response.
fn tokens_for(
    run: &Running,
    idp: &idp_core::Idp,
    client_id: &str,
    user_id: &str,
    session_id: &str,
) -> serde_json::Value {
    let code = idp
        .issue_code(&NewCode {
            client_id,
            redirect_uri: "http://127.0.0.1:8081/callback",
            session_id,
            user_id,
            scope: "openid",
            nonce: None,
            code_challenge: None,
        })
        .unwrap();
    http()
        .post(format!("{}/token", run.base))
        .basic_auth(client_id, Some(DEMO_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// SIGHUP re-reads the file: the new clients replace the old at once (a removed client's refresh
/// token and access token stop working, a new client can start a sign-in), sessions and the
/// database are untouched; an invalid file is refused with check-config's message and the
/// running clients stay. Counted in `idp_config_reloads_total`.
fn sighup_reloads_the_clients(db: Db) {
    let mut run = spawn(db, 1024);
    let rt = idp_server::Runtime::open(
        idp_server::config::Config::load(run.config.to_str().unwrap()).unwrap(),
        false,
    )
    .unwrap();
    let idp = &rt.idp;
    idp.create_account("acme", "Acme", &crate::rp::op())
        .unwrap();
    let user = idp
        .create_user(
            "acme",
            idp_core::users::NewUser {
                email: "ann@example.com",
                password: Some(PASSWORD),
                ..Default::default()
            },
            &crate::rp::op(),
        )
        .unwrap();
    let (session, _) = idp
        .start_session(&user, idp_core::AuthMethod::Password, None, None)
        .unwrap();
    let tokens = tokens_for(&run, idp, "demo", &user.id, &session.id);
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let userinfo = |token: &str| {
        http()
            .get(format!("{}/userinfo", run.base))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(userinfo(&access), 200);
    let authorize = |client: &str| {
        http()
            .get(format!(
                "{}/authorize?client_id={client}&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
                run.base
            ))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!((authorize("demo"), authorize("renamed")), (303, 400));
    const OK: &str = "idp_config_reloads_total{result=\"ok\"} ";
    const ERROR: &str = "idp_config_reloads_total{result=\"error\"} ";

    // The app "demo" becomes "renamed".
    let text = std::fs::read_to_string(&run.config).unwrap();
    std::fs::write(
        &run.config,
        text.replace("client_id = \"demo\"", "client_id = \"renamed\""),
    )
    .unwrap();
    signal(&run.child, "-HUP");
    wait_for_metric(&run, OK, 1);
    assert_eq!((authorize("demo"), authorize("renamed")), (400, 303));
    let refreshed = http()
        .post(format!("{}/token", run.base))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .unwrap();
    assert_eq!(refreshed.status(), 401, "a removed client cannot refresh");
    assert_eq!(userinfo(&access), 401, "nor use its access tokens");
    assert!(
        idp.session_by_id(&session.id)
            .unwrap()
            .unwrap()
            .ended_at
            .is_none(),
        "sessions survive"
    );

    // An invalid file changes nothing and says why, as check-config would.
    let good = std::fs::read_to_string(&run.config).unwrap();
    std::fs::write(&run.config, format!("{good}\nno_such_key = true\n")).unwrap();
    let check = run_cli(&run.config, &["check-config"], None);
    assert_ne!(check.code, 0);
    signal(&run.child, "-HUP");
    wait_for_metric(&run, ERROR, 1);
    assert_eq!(authorize("renamed"), 303, "the running clients stay");
    let log = run.log();
    let reason = check.stderr.trim().trim_start_matches("error: ");
    assert!(
        log.contains("configuration reload refused") && log.contains("no_such_key"),
        "logged with check-config's reason ({reason}):\n{log}"
    );
    assert_eq!(metric(&run.base, OK), 1);

    // A reload that gives "renamed" a back-channel endpoint: sessions that end from then on
    // tell it (the server queues logouts only for apps that listen, as its configuration says).
    let app = crate::recorder::Recorder::start();
    std::fs::write(
        &run.config,
        good.replace(
            "client_id = \"renamed\"",
            &format!(
                "client_id = \"renamed\"\nbackchannel_logout_uri = \"{}\"",
                app.url
            ),
        ),
    )
    .unwrap();
    signal(&run.child, "-HUP");
    wait_for_metric(&run, OK, 2);
    let tokens = tokens_for(&run, idp, "renamed", &user.id, &session.id);
    let hint = tokens["id_token"]
        .as_str()
        .expect("an ID token")
        .to_string();
    let out = http()
        .get(format!("{}/end_session", run.base))
        .query(&[("id_token_hint", hint.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status(), 200);
    let told = app.logout_tokens(Duration::from_secs(10), Duration::from_millis(500));
    assert_eq!(
        told.len(),
        1,
        "the app that gained an endpoint by the reload is told"
    );
    assert_eq!(
        crate::rp::jwt_claims(&told[0])["sid"],
        serde_json::Value::String(session.id.clone())
    );
    signal(&run.child, "-TERM");
    let status = run.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

on_both_backends!(
    sigterm_lets_in_flight_requests_finish,
    kill_9_under_load_leaves_consistent_state,
    sighup_reloads_the_clients,
);
