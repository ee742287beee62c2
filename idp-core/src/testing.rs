//! Test support: a fresh database per test on SQLite (a temp file) or PostgreSQL (a new database
//! on the server named by `IDP_TEST_POSTGRES_URL`), and a clock the test can move.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use diesel::connection::SimpleConnection;
use diesel::Connection;

use crate::{Argon2Params, Idp, ManualClock, PoolOptions, SecretBox, Settings, Store};

pub const T0: i64 = 1_800_000_000;

/// Every test database holds this shared; a test that measures time takes it exclusively
/// (`run_alone`), so no other test of this binary runs while it measures.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

/// Waits until no other test of this binary runs and keeps them out until dropped.
pub fn run_alone() -> RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner())
}

pub struct TestDb {
    pub idp: Idp,
    pub clock: Arc<ManualClock>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
    _shared: Option<RwLockReadGuard<'static, ()>>,
}

pub fn cheap_settings() -> Settings {
    Settings {
        argon2: Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..Settings::default()
    }
}

impl TestDb {
    pub fn sqlite() -> Self {
        let shared = EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner());
        let mut db = Self::sqlite_alone();
        db._shared = Some(shared);
        db
    }

    /// A SQLite test database for a test that holds `run_alone()`.
    pub fn sqlite_alone() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/idp.db", dir.path().display());
        Self::open(url, Some(dir), None)
    }

    /// `None` (test skipped) only outside CI when no PostgreSQL URL is given.
    pub fn postgres() -> Option<Self> {
        let base = match std::env::var("IDP_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert!(
                    std::env::var("CI").is_err(),
                    "IDP_TEST_POSTGRES_URL must be set in CI so the PostgreSQL variant runs"
                );
                eprintln!("IDP_TEST_POSTGRES_URL not set: PostgreSQL variant skipped");
                return None;
            }
        };
        let name = format!("idp_t_{}", crate::crypto::random_id().unwrap());
        let mut admin = diesel::PgConnection::establish(&base).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = replace_db(&base, &name);
        let shared = EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner());
        let mut db = Self::open(url, None, Some((base, name)));
        db._shared = Some(shared);
        Some(db)
    }

    fn open(
        url: String,
        dir: Option<tempfile::TempDir>,
        pg_drop: Option<(String, String)>,
    ) -> Self {
        Self::open_with(url, dir, pg_drop, cheap_settings())
    }

    fn open_with(
        url: String,
        dir: Option<tempfile::TempDir>,
        pg_drop: Option<(String, String)>,
        settings: Settings,
    ) -> Self {
        let store = Store::open(&url, PoolOptions::default()).unwrap();
        store.migrate().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let idp = Idp::new(
            store,
            SecretBox::new(&[5u8; 32], &[]),
            settings,
            clock.clone(),
        )
        .unwrap();
        TestDb {
            idp,
            clock,
            url,
            _dir: dir,
            pg_drop,
            _shared: None,
        }
    }

    /// A second `Idp` on the same database with other settings (e.g. new argon2 parameters).
    pub fn reopen(&self, settings: Settings) -> Idp {
        let store = Store::open(&self.url, PoolOptions::default()).unwrap();
        Idp::new(
            store,
            SecretBox::new(&[5u8; 32], &[]),
            settings,
            self.clock.clone(),
        )
        .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg_drop.take() {
            if let Ok(mut admin) = diesel::PgConnection::establish(&base) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// `postgres://u@h:p/db?x` with the database name replaced.
pub fn replace_db(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs each named test function (taking `&TestDb`) on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&$crate::testing::TestDb::sqlite());
                }
                #[test]
                fn postgres() {
                    if let Some(db) = $crate::testing::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            }
        )*
    };
}
