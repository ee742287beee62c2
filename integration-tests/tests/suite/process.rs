//! The real binary under signals: SIGTERM lets in-flight requests finish; `kill -9` in the middle
//! of a load of code redemptions and refreshes leaves every code unused or fully redeemed and no
//! refresh chain with two live heads.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use idp_core::oauth::NewCode;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::http;

struct Running {
    child: Child,
    base: String,
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

/// Starts `idp-server serve` as a separate process and waits for /healthz.
fn spawn(db: Db, argon2_memory_kib: u32) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(db, dir.path());
    let listener = free_listener();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = format!("http://{addr}");
    let text = config_text(
        &base,
        &addr.to_string(),
        &database.url,
        dir.path(),
        &Options::default(),
    )
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
    let config = dir.path().join("idp.toml");
    std::fs::write(&config, text).unwrap();
    let child = Command::new(binary())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::null())
        // Kept for the failure messages (see `Running::log`).
        .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while http()
        .get(format!("{base}/healthz"))
        .send()
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Running {
        child,
        base,
        db: database,
        dir,
        config,
    }
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
    let mut workers = Vec::new();
    for (w, chunk) in codes.chunks(75).enumerate() {
        let (chunk, base, stop) = (chunk.to_vec(), run.base.clone(), stop.clone());
        let mut token = refresh[w].clone();
        workers.push(std::thread::spawn(move || {
            let client = http();
            for code in chunk {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                client
                    .post(format!("{base}/token"))
                    .basic_auth("demo", Some(DEMO_SECRET))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", "http://127.0.0.1:8081/callback"),
                    ])
                    .send()
                    .ok();
                if let Ok(res) = client
                    .post(format!("{base}/token"))
                    .basic_auth("demo", Some(DEMO_SECRET))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                    .send()
                {
                    if let Ok(v) = res.json::<serde_json::Value>() {
                        if let Some(t) = v["refresh_token"].as_str() {
                            token = t.to_string();
                        }
                    }
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(700));
    signal(&run.child, "-9");
    run.child.wait().ok();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().ok();
    }

    // Invariants, read straight from the database.
    let check = |n_redeemed_without_grant: i64, two_heads: i64, redeemed: i64| {
        assert_eq!(
            n_redeemed_without_grant, 0,
            "a code marked used without its grant and token"
        );
        assert_eq!(two_heads, 0, "a refresh chain with two live heads");
        assert!(
            redeemed > 20,
            "the load did redeem codes before the kill ({redeemed})"
        );
    };
    let q_half = "SELECT COUNT(*) AS n FROM authorization_codes c WHERE c.redeemed_at IS NOT NULL AND (c.grant_id IS NULL OR NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = c.grant_id))";
    let q_heads = "SELECT COUNT(*) AS n FROM (SELECT grant_id FROM refresh_tokens WHERE used_at IS NULL GROUP BY grant_id HAVING COUNT(*) > 1) t";
    let q_redeemed = "SELECT COUNT(*) AS n FROM authorization_codes WHERE redeemed_at IS NOT NULL";
    match db {
        Db::Sqlite => {
            let mut c =
                diesel::SqliteConnection::establish(run.db.url.trim_start_matches("sqlite://"))
                    .unwrap();
            check(
                count!(&mut c, q_half),
                count!(&mut c, q_heads),
                count!(&mut c, q_redeemed),
            );
        }
        Db::Postgres => {
            let mut c = diesel::PgConnection::establish(&run.db.url).unwrap();
            check(
                count!(&mut c, q_half),
                count!(&mut c, q_heads),
                count!(&mut c, q_redeemed),
            );
        }
    }
}

on_both_backends!(
    sigterm_lets_in_flight_requests_finish,
    kill_9_under_load_leaves_consistent_state
);
