//! Instruction budgets: the hot paths as the server runs them, counted by valgrind's callgrind.
//!
//! The whole application (`idp_server::web::app`, every middleware included) runs in-process on
//! SQLite; each path is driven through `actix_web::test::call_service` as a browser or an app
//! would call it: warmed up first (first-call costs, caches, prepared statements), then counted
//! over a fixed number of iterations. Between [`budget_start`] and [`budget_stop`] callgrind
//! counts every thread of the process (the request's async worker, the blocking pool that runs
//! the domain and SQLite, the hashing thread); `bench/budgets.sh` zeroes the counters when
//! `budget_start` is entered, dumps them when `budget_stop` is, and leaves the argon2 call
//! (`idp_core::password::hash::hash_into`) and the token signatures
//! (`idp_server::keys::SigningKey::signature`) out with `--toggle-collect`. After each path this
//! prints `budget <path> <iterations>`, in the order of the dumps.
//!
//! Run it through `bench/budgets.sh measure` (or `check`). Natively (`cargo run --release -p
//! idp-budgets`) it only walks the paths, which checks that every step still answers as
//! expected. Its one argument is an empty directory for the database, the keys and the mail
//! (the script gives one whose name is always as long, so no path length moves a count).
// A benchmark that cannot set itself up has nothing to measure: it stops there.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::cookie::Cookie;
use actix_web::http::{header, Method};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use idp_core::{Actor, Clock, ManualClock, MfaPolicy};

/// Iterations counted per path.
const ITERATIONS: usize = 20;
/// Iterations run first, uncounted.
const WARM_UP: usize = 3;

const PASSWORD: &str = "correct horse battery staple";
const DEMO_SECRET: &str = "demo-client-secret-change-me-0123456789";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ISSUER: &str = "http://127.0.0.1:8080";
const REDIRECT_URI: &str = "http://127.0.0.1:8081/callback";
const IDLE_SECS: i64 = 30 * 60;

/// Callgrind zeroes its counters when this is entered (`--zero-before`).
#[inline(never)]
fn budget_start(path: &str) {
    std::hint::black_box(path);
}

/// Callgrind dumps its counters when this is entered (`--dump-before`); then the line that
/// names the dump.
#[inline(never)]
fn budget_stop(path: &str, iterations: usize) {
    std::hint::black_box((path, iterations, 0x5709_u32));
    println!("budget {path} {iterations}");
}

fn config_text(dir: &std::path::Path, db_url: &str) -> String {
    let secret_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        DEMO_SECRET.as_bytes(),
    ));
    // argon2 at its smallest: its call is not counted, and setting up the users stays cheap.
    format!(
        r#"issuer = "{ISSUER}"
listen = "127.0.0.1:8080"
database_url = "{db_url}"
product_name = "Petrosoft Cloud"
key_dir = "{dir}/keys"

[session]
idle_timeout = "30m"
max_lifetime = "12h"

[passwords]
argon2_memory_kib = 8
argon2_iterations = 1

[mfa]
issuer = "Petrosoft Cloud"

[mail]
from = "Petrosoft Cloud <no-reply@example.com>"
transport = "file"
outbox_dir = "{dir}/outbox"

[[clients]]
client_id = "demo"
name = "Demo App"
redirect_uris = ["{REDIRECT_URI}"]
post_logout_redirect_uris = ["http://127.0.0.1:8081/"]
secret_sha256 = "{secret_hash}"
backchannel_logout_uri = "http://127.0.0.1:8081/backchannel"
"#,
        dir = dir.display(),
    )
}

/// What a request answered.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
    /// Cookies set (with their value) or removed (`None`).
    cookies: Vec<(String, Option<String>)>,
}

impl Answer {
    /// The value of the hidden input `name` of a form.
    fn input(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&needle).unwrap_or_else(|| {
            panic!("no input {name} in the page: {}", self.body);
        }) + needle.len();
        let end = self.body[at..].find('"').expect("attribute ends") + at;
        self.body[at..end].replace("&#x2f;", "/")
    }

    fn location_param(&self, key: &str) -> String {
        let location = self.location.as_deref().expect("a redirect");
        let url = url::Url::parse(location).expect("absolute redirect");
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {key} in {location}"))
    }

    fn json(&self) -> serde_json::Value {
        assert_eq!(self.status, 200, "{}", self.body);
        serde_json::from_str(&self.body).expect("JSON")
    }
}

/// A browser's cookies (or none, for an app's server).
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn request(&self, method: Method, uri: &str) -> TestRequest {
        let mut req = TestRequest::default()
            .method(method)
            .uri(uri)
            .peer_addr("127.0.0.1:40000".parse().expect("address"))
            .insert_header((header::USER_AGENT, "budget-browser/1.0"));
        for (name, value) in &self.0 {
            req = req.cookie(Cookie::new(name.clone(), value.clone()));
        }
        req
    }

    fn keep(&mut self, answer: &Answer) {
        for (name, value) in &answer.cookies {
            match value {
                Some(v) => self.0.insert(name.clone(), v.clone()),
                None => self.0.remove(name),
            };
        }
    }

    fn form(&self, uri: &str, fields: &[(&str, &str)]) -> TestRequest {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.request(Method::POST, uri)
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body)
    }
}

/// Sends `$req` to the application and returns the [`Answer`].
macro_rules! send {
    ($app:expr, $req:expr) => {{
        let res = test::call_service($app, $req.to_request()).await;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().expect("ASCII location").to_string());
        let cookies = res
            .response()
            .cookies()
            .map(|c| {
                let gone = c.value().is_empty() || c.max_age().is_some_and(|a| a.is_zero());
                (c.name().to_string(), (!gone).then(|| c.value().to_string()))
            })
            .collect();
        let body = String::from_utf8(test::read_body(res).await.to_vec()).expect("UTF-8 body");
        Answer {
            status,
            location,
            body,
            cookies,
        }
    }};
}

/// [`send!`] from a browser: the cookies the answer sets (or removes) are kept in `$jar`.
macro_rules! browse {
    ($app:expr, $jar:expr, $req:expr) => {{
        let req = $req;
        let answer = send!($app, req);
        $jar.keep(&answer);
        answer
    }};
}

/// Opens the demo app's authorize URL in `$jar` and follows the provider's own redirects to the
/// sign-in page: the authorize page path.
macro_rules! authorize_page {
    ($app:expr, $jar:expr) => {{
        let uri = format!(
            "/authorize?client_id=demo&redirect_uri={}&response_type=code&scope=openid%20email%20profile&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
            url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>()
        );
        let mut page = browse!($app, $jar, $jar.request(Method::GET, &uri));
        while let Some(next) = page.location.clone().filter(|l| l.starts_with('/')) {
            page = browse!($app, $jar, $jar.request(Method::GET, &next));
        }
        assert_eq!(page.status, 200, "sign-in page: {}", page.body);
        page
    }};
}

/// The TOTP code of an activation code (as the enrollment page shows it) at `now`: RFC 6238
/// with SHA1, 6 digits, 30 s steps.
fn totp(activation_code: &str, now: i64) -> String {
    use aws_lc_rs::hmac;
    let secret = idp_core::mfa::base32_decode(activation_code).expect("base32");
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &secret);
    let step = (now / 30) as u64;
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    format!("{:06}", bin % 1_000_000)
}

fn text_between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let at = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {body}"))
        + start.len();
    let stop = body[at..].find(end).expect("end marker") + at;
    &body[at..stop]
}

fn basic_auth() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("demo:{DEMO_SECRET}"))
    )
}

/// The working directory, removed when the run ends (or fails).
struct WorkDir(std::path::PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn main() {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("idp-budgets-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).expect("working directory");
    let dir = WorkDir(dir.join("run"));
    std::fs::create_dir(&dir.0).expect("a new run directory");
    actix_web::rt::System::new().block_on(run(&dir.0));
}

async fn run(dir: &std::path::Path) {
    let db_url = format!("sqlite://{}/idp.db", dir.display());
    let text = config_text(dir, &db_url);
    let path = dir.join("idp.toml");
    std::fs::write(&path, &text).expect("config written");
    let config = idp_server::config::Config::parse(path.to_str().expect("UTF-8 path"), &text)
        .expect("valid config");

    // A clock that moves only when told: TOTP steps, idle expiry and every timestamp are the
    // same from one run to the next (near the real time, which access tokens are checked by).
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let t0 = start - start % 30 + 30;
    let clock = Arc::new(ManualClock::new(t0));
    let store = idp_core::Store::open(
        &config.database_url,
        idp_core::PoolOptions {
            max_size: config.pool_size,
            connection_timeout: config.db_connect_timeout,
            min_idle: 1,
        },
    )
    .expect("database");
    store.migrate().expect("migrations");
    let secrets = idp_server::keys::load_master_key(&config.key_dir).expect("master key");
    let idp =
        idp_core::Idp::new(store, secrets, config.core_settings(), clock.clone()).expect("domain");
    idp.set_logout_listeners(config.clients.logout_listeners());
    let rt = idp_server::Runtime {
        config: Arc::new(config),
        idp,
    };
    let state = idp_server::app_state(&rt).expect("state");
    let outbox = rt.config.mail.outbox_dir.clone();
    let app = test::init_service(idp_server::web::app(web::Data::new(state))).await;

    let n = WARM_UP + ITERATIONS;
    let op = Actor::Operator("budgets".into());
    let idp = &rt.idp;
    idp.create_account("acme", "Acme Fuel", &op)
        .expect("account");
    idp.create_account("secure", "Secure Fuel", &op)
        .expect("account");
    idp.set_mfa_policy("secure", MfaPolicy::Required, &op)
        .expect("MFA policy");
    let user = |slug: &str, email: &str| {
        idp.create_user(
            slug,
            idp_core::users::NewUser {
                email,
                display_name: "Ann Example",
                work_email: None,
                password: Some(PASSWORD),
            },
            &op,
        )
        .expect("user");
    };
    let plain: Vec<String> = (0..n).map(|i| format!("p{i:03}@example.com")).collect();
    let second: Vec<String> = (0..n).map(|i| format!("t{i:03}@example.com")).collect();
    for email in &plain {
        user("acme", email);
    }
    for email in &second {
        user("secure", email);
    }

    // The documents.
    for (name, uri) in [
        ("discovery", "/.well-known/openid-configuration"),
        ("jwks", "/jwks"),
    ] {
        let jar = Jar::default();
        for i in 0..n {
            if i == WARM_UP {
                budget_start(name);
            }
            let a = send!(&app, jar.request(Method::GET, uri));
            assert_eq!(a.status, 200, "{name}: {}", a.body);
        }
        budget_stop(name, ITERATIONS);
    }

    // The code step: each user links an app (setup), then signs in again on a new browser and
    // sends a code from it at the next step (the enrollment's code is spent).
    let mut activation = Vec::new();
    for email in &second {
        let mut jar = Jar::default();
        let page = authorize_page!(&app, jar);
        let csrf = page.input("csrf");
        let a = browse!(
            &app,
            jar,
            jar.form(
                "/login/password",
                &[("csrf", &csrf), ("email", email), ("password", PASSWORD)]
            )
        );
        assert_eq!(a.location.as_deref(), Some("/login"), "{}", a.body);
        let enroll = browse!(&app, jar, jar.request(Method::GET, "/login"));
        let code = text_between(&enroll.body, "id=\"activation-code\">", "<").to_string();
        let a = browse!(
            &app,
            jar,
            jar.form(
                "/login/totp",
                &[
                    ("csrf", &enroll.input("csrf")),
                    ("code", &totp(&code, clock.now())),
                ]
            )
        );
        assert_eq!(a.status, 303, "enrollment: {}", a.body);
        activation.push(code);
    }
    // Each enrollment mailed its user (on the blocking pool): wait until all are written, so
    // none of that runs while the code step is counted.
    for _ in 0..600 {
        let sent = std::fs::read_dir(&outbox).map_or(0, |d| d.count());
        if sent >= n {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    clock.advance(30);
    let mut verify = Vec::new();
    for email in &second {
        let mut jar = Jar::default();
        let page = authorize_page!(&app, jar);
        let a = browse!(
            &app,
            jar,
            jar.form(
                "/login/password",
                &[
                    ("csrf", &page.input("csrf")),
                    ("email", email),
                    ("password", PASSWORD)
                ]
            )
        );
        assert_eq!(a.location.as_deref(), Some("/login"), "{}", a.body);
        let page = browse!(&app, jar, jar.request(Method::GET, "/login"));
        verify.push((jar, page.input("csrf")));
    }
    for (i, ((mut jar, csrf), code)) in verify.into_iter().zip(&activation).enumerate() {
        if i == WARM_UP {
            budget_start("totp_step");
        }
        let code = totp(code, clock.now());
        let a = browse!(
            &app,
            jar,
            jar.form("/login/totp", &[("csrf", &csrf), ("code", &code)])
        );
        assert_eq!(a.status, 303, "code step: {}", a.body);
        assert!(a.location_param("code").len() > 10);
    }
    budget_stop("totp_step", ITERATIONS);
    clock.advance(30);

    // The authorize page: a new browser opens the app's authorize URL and gets the sign-in page.
    let mut browsers = Vec::new();
    for i in 0..n {
        if i == WARM_UP {
            budget_start("authorize_page");
        }
        let mut jar = Jar::default();
        let page = authorize_page!(&app, jar);
        browsers.push((jar, page.input("csrf")));
    }
    budget_stop("authorize_page", ITERATIONS);

    // The password step (no second factor): the app's redirect with its code.
    let mut codes = Vec::new();
    for (i, ((mut jar, csrf), email)) in browsers.into_iter().zip(&plain).enumerate() {
        if i == WARM_UP {
            budget_start("password_step");
        }
        let a = browse!(
            &app,
            jar,
            jar.form(
                "/login/password",
                &[("csrf", &csrf), ("email", email), ("password", PASSWORD)]
            )
        );
        assert_eq!(a.status, 303, "password step: {}", a.body);
        codes.push(a.location_param("code"));
    }
    budget_stop("password_step", ITERATIONS);

    // The code grant, then one refresh of each grant, then /userinfo with each new access token
    // (its first use: the signature is verified, not remembered).
    let app_server = Jar::default();
    let token = |fields: &[(&str, &str)]| {
        app_server
            .form("/token", fields)
            .insert_header((header::AUTHORIZATION, basic_auth()))
    };
    let mut refresh = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        if i == WARM_UP {
            budget_start("code_grant");
        }
        let a = send!(
            &app,
            token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ])
        );
        let json = a.json();
        refresh.push(
            json["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_string(),
        );
    }
    budget_stop("code_grant", ITERATIONS);
    let mut access = Vec::new();
    for (i, rt) in refresh.iter().enumerate() {
        if i == WARM_UP {
            budget_start("refresh");
        }
        let a = send!(
            &app,
            token(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        );
        let json = a.json();
        access.push(
            json["access_token"]
                .as_str()
                .expect("access token")
                .to_string(),
        );
    }
    budget_stop("refresh", ITERATIONS);
    for (i, at) in access.iter().enumerate() {
        if i == WARM_UP {
            budget_start("userinfo");
        }
        let a = send!(
            &app,
            app_server
                .request(Method::GET, "/userinfo")
                .insert_header((header::AUTHORIZATION, format!("Bearer {at}")))
        );
        assert!(a.json()["email"].is_string());
    }
    budget_stop("userinfo", ITERATIONS);

    // The sweeper: a first pass ends the sessions of the code step (warm-up), the counted pass
    // the sessions of the password step, each with its app's grant (a refresh token) and a
    // back-channel logout to queue.
    clock.set(t0 + 30 + IDLE_SECS + 1);
    let warm = idp.sweep_expired_sessions().expect("sweep");
    assert_eq!(warm.ended, 2 * n, "sessions of the code step");
    clock.set(t0 + 60 + IDLE_SECS + 1);
    budget_start("sweep_per_session");
    let report = idp.sweep_expired_sessions().expect("sweep");
    budget_stop("sweep_per_session", report.ended);
    assert_eq!(report.ended, n, "sessions of the password step");
    assert_eq!(report.logouts_queued, n, "one back-channel logout each");
}
