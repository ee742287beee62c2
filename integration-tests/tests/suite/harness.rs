//! Test harness: real servers on free ports (in-process actix servers, each with its own
//! database), a cookie-keeping browser that follows nothing by itself, and the real CLI binary.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use idp_server::Runtime;
use openidconnect::reqwest;

pub const PASSWORD: &str = "correct horse battery staple";
pub const DEMO_SECRET: &str = "demo-client-secret-change-me-0123456789";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs a test body on SQLite and on PostgreSQL (the latter needs IDP_TEST_POSTGRES_URL; in CI
/// its absence is an error, not a skip).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::harness::Db::Sqlite);
            }
            #[test]
            fn postgres() {
                if $crate::harness::postgres_available() {
                    super::$name($crate::harness::Db::Postgres);
                }
            }
        }
    )*};
}

/// Whether the PostgreSQL variants run (see `idp_core::testing::postgres_base_url`).
pub fn postgres_available() -> bool {
    idp_core::testing::postgres_base_url().is_some()
}

/// Options for a test server.
#[derive(Debug, Clone)]
pub struct Options {
    pub idle_timeout: &'static str,
    /// `[session] sweep_interval` (the product's default, 15 s, unless a test needs it sooner).
    pub sweep_interval: &'static str,
    pub backchannel_logout_uri: Option<String>,
    pub mail_smtp_port: Option<u16>,
    /// Extra TOML appended to the config (e.g. more `[[clients]]` with their own ports).
    pub extra_toml: String,
    /// Where the master key lives (replicas of one database must share it).
    pub key_dir: Option<PathBuf>,
    /// The issuer, when it is not this server's own URL (replicas behind one name share it).
    pub issuer: Option<String>,
    /// Files written beside the configuration before it is read (a logo, say): relative path
    /// and contents.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// Extra keys of the `[mfa]` section (e.g. `relink_requires_email = true`).
    pub mfa_toml: &'static str,
    /// `[passwords] argon2_memory_kib` (1 MiB, one pass: cheap; an import of legacy hashes
    /// needs more, since it refuses those costlier to check than a sign-in).
    pub argon2_memory_kib: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            idle_timeout: "30m",
            sweep_interval: "15s",
            backchannel_logout_uri: None,
            mail_smtp_port: None,
            extra_toml: String::new(),
            key_dir: None,
            issuer: None,
            files: Vec::new(),
            mfa_toml: "",
            argon2_memory_kib: 1024,
        }
    }
}

pub use idp_core::testing::TestDatabase;

/// A database made for one test on `db` (a SQLite file in `dir`, or a new PostgreSQL database),
/// removed when dropped. Callers check [`postgres_available`] before asking for PostgreSQL.
pub fn test_database(db: Db, dir: &Path) -> TestDatabase {
    match db {
        Db::Sqlite => TestDatabase::sqlite_in(dir),
        Db::Postgres => TestDatabase::postgres().expect("PostgreSQL configured"),
    }
}

pub fn free_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// Panics on a server's threads (its HTTP workers, their blocking pools, the hashing threads and
/// the thread that runs it), whichever test's server they belong to: actix and tokio survive them
/// (a 500, a restarted worker), so only this record shows them. Test threads are not watched.
static SERVER_PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
/// Thread names: actix's runtimes and acceptor, tokio's blocking pool (`web::block`; named
/// "tokio-rt-worker" since tokio 1.4x, "tokio-runtime-worker" before), the argon2 pool, ours.
const SERVER_THREADS: [&str; 5] = ["actix", "tokio-rt", "tokio-runtime", "argon2-", "idp-"];

fn watch_server_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if SERVER_THREADS.iter().any(|p| name.starts_with(p)) {
                SERVER_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {info}"));
            }
            default(info);
        }));
    });
}

/// Fails if any server thread of this test binary has panicked so far.
pub fn assert_no_server_panics() {
    let panics = SERVER_PANICS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(panics.is_empty(), "a server thread panicked: {panics:#?}");
}

pub struct TestServer {
    pub base: String,
    pub db_url: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub rt: Runtime,
    handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
    _db: Option<TestDatabase>,
}

pub fn config_text(base: &str, listen: &str, db_url: &str, dir: &Path, o: &Options) -> String {
    let backchannel = o
        .backchannel_logout_uri
        .as_ref()
        .map(|u| format!("backchannel_logout_uri = \"{u}\"\n"))
        .unwrap_or_default();
    let mail = match o.mail_smtp_port {
        Some(port) => format!("transport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_tls = \"none\"\n"),
        None => format!("transport = \"file\"\noutbox_dir = \"{}/outbox\"\n", dir.display()),
    };
    let secret_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        DEMO_SECRET.as_bytes(),
    ));
    format!(
        r#"issuer = "{issuer}"
listen = "{listen}"
database_url = "{db_url}"
product_name = "Petrosoft Cloud"
key_dir = "{key_dir}"

[session]
idle_timeout = "{idle}"
max_lifetime = "12h"
sweep_interval = "{sweep}"

[passwords]
argon2_memory_kib = {argon2_memory_kib}
argon2_iterations = 1

[mfa]
issuer = "Petrosoft Cloud"
{mfa_extra}

[mail]
from = "Petrosoft Cloud <no-reply@example.com>"
{mail}
[[clients]]
client_id = "demo"
name = "Demo App"
redirect_uris = ["http://127.0.0.1:8081/callback"]
post_logout_redirect_uris = ["http://127.0.0.1:8081/"]
secret_sha256 = "{secret_hash}"
{backchannel}
[[clients]]
client_id = "spa"
name = "Single-Page App"
redirect_uris = ["http://127.0.0.1:8082/callback"]
post_logout_redirect_uris = ["http://127.0.0.1:8082/"]
public = true
"#,
        idle = o.idle_timeout,
        mfa_extra = o.mfa_toml,
        argon2_memory_kib = o.argon2_memory_kib,
        sweep = o.sweep_interval,
        issuer = o.issuer.as_deref().unwrap_or(base),
        key_dir = o
            .key_dir
            .clone()
            .unwrap_or_else(|| dir.join("keys"))
            .display(),
    ) + &o.extra_toml
}

impl TestServer {
    /// The demo app's authorize URL (code flow, PKCE with `CHALLENGE`, state "s").
    pub fn demo_authorize_url(&self) -> String {
        format!(
            "{}?client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&response_type=code&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
            self.url("/authorize")
        )
    }

    pub fn start(db: Db) -> Self {
        Self::start_with(db, Options::default())
    }

    pub fn start_with(db: Db, options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = test_database(db, dir.path());
        let url = database.url.clone();
        let mut s = Self::start_on(dir, &url, options);
        s._db = Some(database);
        s
    }

    /// A server on an existing database (a second replica shares the first one's database and
    /// master key through `IDP_MASTER_KEY`-equivalent key files).
    pub fn start_on(dir: tempfile::TempDir, db_url: &str, options: Options) -> Self {
        watch_server_panics();
        let listener = free_listener();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let text = config_text(&base, &addr.to_string(), db_url, dir.path(), &options);
        let config_path = dir.path().join("idp.toml");
        for (name, bytes) in &options.files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        std::fs::write(&config_path, &text).unwrap();
        let config =
            idp_server::config::Config::parse(config_path.to_str().unwrap(), &text).unwrap();
        let rt = Runtime::open(config.clone(), true).unwrap();
        let state = idp_server::app_state(&rt).unwrap();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("idp-test-server".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server =
                        idp_server::web::build_server(state.clone(), listener, Some(2)).unwrap();
                    // The sweeper, the back-channel deliverer and housekeeping, as `serve` runs them.
                    let background = actix_web::rt::spawn(idp_server::background::run(state));
                    tx.send(server.handle()).unwrap();
                    server.await.ok();
                    background.abort();
                });
            })
            .unwrap();
        let handle = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let rt = Runtime::open(config, false).unwrap();
        TestServer {
            base,
            db_url: db_url.to_string(),
            dir,
            config_path,
            rt,
            handle: Some(handle),
            thread: Some(thread),
            _db: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// Runs the real `idp-server` binary with this server's config.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        run_cli(&self.config_path, args, stdin)
    }

    pub fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            actix_web::rt::System::new().block_on(h.stop(true));
        }
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

impl Drop for TestServer {
    /// Stops the server; and, unless the test already failed, checks that no server thread
    /// panicked while it ran.
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            assert_no_server_panics();
        }
    }
}

#[derive(Debug)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `idp-server` binary of this checkout: built (by the cargo running this test, with the same
/// profile) the first time a test asks, so a test never runs a binary left from older sources.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            // target/<profile>/deps/suite-<hash> -> target/<profile>
            let profile_dir = exe.parent().unwrap().parent().unwrap();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build.args([
                "build",
                "--quiet",
                "-p",
                "idp-server",
                "--bin",
                "idp-server",
            ]);
            if profile_dir.file_name().is_some_and(|p| p == "release") {
                build.arg("--release");
            }
            let status = build
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building idp-server failed");
            let bin = profile_dir.join("idp-server");
            assert!(bin.exists(), "{} is missing after the build", bin.display());
            bin
        })
        .clone()
}

pub fn run_cli(config: &Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    run_cli_env(config, args, stdin, &[])
}

/// The CLI with extra environment variables (e.g. `IDP_MASTER_KEY`).
pub fn run_cli_env(
    config: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> CliOutput {
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("IDP_CONFIG")
        .env_remove("IDP_MASTER_KEY")
        .env_remove("IDP_MASTER_KEY_PREVIOUS")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The User-Agent the test browser sends.
pub const BROWSER_UA: &str = "idp-test-browser/1.0";

/// A browser: keeps cookies, never follows redirects (each step is asserted).
pub struct Browser {
    pub client: reqwest::blocking::Client,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The value of an input by name, whatever the order of its attributes.
    pub fn input(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\"");
        let at = self.body.find(&needle)?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = self.body[at..].find('>')? + at;
        let tag = &self.body[tag_start..tag_end];
        let v = tag.find("value=\"")? + "value=\"".len();
        let end = tag[v..].find('"')? + v;
        Some(html_unescape(&tag[v..end]))
    }

    pub fn csrf(&self) -> String {
        self.input("csrf")
            .unwrap_or_else(|| panic!("no csrf field in page: {}", self.body))
    }

    /// Text of the element with this id.
    pub fn by_id(&self, id: &str) -> Option<String> {
        let needle = format!(" id=\"{id}\"");
        let at = self.body.find(&needle)? + needle.len();
        let start = self.body[at..].find('>')? + at + 1;
        let end = self.body[start..].find('<')? + start;
        Some(html_unescape(self.body[start..end].trim()))
    }

    pub fn location_param(&self, key: &str) -> Option<String> {
        let loc = self.location.as_ref()?;
        let url = url::Url::parse(loc).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

pub fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let client = reqwest::blocking::Client::builder()
            .cookie_store(true)
            .user_agent(BROWSER_UA)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { client }
    }

    fn page(res: reqwest::blocking::Response) -> Page {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let body = res.text().unwrap_or_default();
        Page {
            status,
            location,
            body,
            headers,
        }
    }

    pub fn get(&self, url: &str) -> Page {
        self.get_with(url, &[])
    }

    /// `GET url` with extra request headers (`Accept-Language`, say).
    pub fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.client.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::page(req.send().unwrap())
    }

    pub fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        Self::page(self.client.post(url).form(form).send().unwrap())
    }

    /// Follows redirects that stay on `base` (relative or absolute); stops at the first page or
    /// at a redirect elsewhere (the app's callback).
    pub fn follow(&self, base: &str, page: Page) -> Page {
        self.follow_with(base, page, &[])
    }

    /// [`Browser::follow`], sending `headers` with every request it makes.
    pub fn follow_with(&self, base: &str, mut page: Page, headers: &[(&str, &str)]) -> Page {
        for _ in 0..10 {
            let Some(loc) = page.location.clone() else {
                return page;
            };
            let next = if loc.starts_with('/') {
                format!("{base}{loc}")
            } else if loc.starts_with(base) {
                loc
            } else {
                return page;
            };
            page = self.get_with(&next, headers);
        }
        page
    }
}

/// Opens an app's authorize URL, expects the sign-in page and submits email + password; returns
/// the answer (not followed).
pub fn submit_password(
    server: &TestServer,
    browser: &Browser,
    authorize_url: &str,
    email: &str,
    password: &str,
) -> Page {
    let page = browser.follow(&server.base, browser.get(authorize_url));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("autocomplete=\"current-password\""),
        "sign-in page expected: {}",
        page.body
    );
    post_password(server, browser, &page, email, password)
}

/// Sends the email + password form of a sign-in page already shown; returns the answer (not
/// followed).
pub fn post_password(
    server: &TestServer,
    browser: &Browser,
    page: &Page,
    email: &str,
    password: &str,
) -> Page {
    browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", email),
            ("password", password),
        ],
    )
}

/// A TOTP code from Debian's oathtool (independent of our implementation), for a time offset.
pub fn oathtool(activation_code: &str, offset_secs: i64) -> String {
    let secret: String = activation_code.split_whitespace().collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset_secs;
    let out = Command::new("oathtool")
        .args(["--totp", "-b", &secret, "-N", &format!("@{now}")])
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Waits until the current 30 s TOTP step has at least `margin` seconds left, so a code and its
/// check fall in the same step.
pub fn wait_for_fresh_step(margin: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = 30 - now % 30;
    if left < margin {
        std::thread::sleep(Duration::from_secs(left + 1));
    }
}

pub use crate::recorder::{Recorder, SilentApp, UnreachableApp};
