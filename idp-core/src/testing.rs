//! The test kit, shared by idp-core's tests and the integration suite (feature `testing`): a
//! fresh database per test on SQLite (a temp file) or PostgreSQL (a new database on the server
//! named by `IDP_TEST_POSTGRES_URL`), and a domain on it with a clock the test moves.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
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

/// The PostgreSQL server tests create their databases on, if one is configured. Without one a
/// PostgreSQL variant is skipped (and says so), except in CI (`CI` set), where that is a failure.
pub fn postgres_base_url() -> Option<String> {
    match std::env::var("IDP_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "IDP_TEST_POSTGRES_URL must be set in CI so the PostgreSQL variants run"
            );
            eprintln!("IDP_TEST_POSTGRES_URL not set: PostgreSQL variant skipped");
            None
        }
    }
}

/// A database made for one test, removed afterwards.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDatabase {
    /// A SQLite file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Self::sqlite_in(dir.path());
        db._dir = Some(dir);
        db
    }

    /// A SQLite file `idp.db` in `dir` (which the caller keeps).
    pub fn sqlite_in(dir: &Path) -> Self {
        TestDatabase {
            url: format!("sqlite://{}/idp.db", dir.display()),
            _dir: None,
            pg_drop: None,
        }
    }

    /// A new PostgreSQL database (see [`postgres_base_url`] for when there is none).
    pub fn postgres() -> Option<Self> {
        let base = postgres_base_url()?;
        let name = format!("idp_t_{}", crate::crypto::random_id().unwrap());
        let mut admin = diesel::PgConnection::establish(&base).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Some(TestDatabase {
            url: replace_db(&base, &name),
            _dir: None,
            pg_drop: Some((base, name)),
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg_drop.take() {
            if let Ok(mut admin) = diesel::PgConnection::establish(&base) {
                if let Err(e) =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                {
                    eprintln!("test database {name} not dropped: {e}");
                }
            }
        }
    }
}

/// A domain on a test database, with a manual clock (starting at [`T0`]) and cheap hashing.
pub struct TestDb {
    pub idp: Idp,
    pub clock: Arc<ManualClock>,
    pub url: String,
    _db: TestDatabase,
    _shared: Option<RwLockReadGuard<'static, ()>>,
}

/// argon2 at its cheapest: tests hash a lot.
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
        Self::open(TestDatabase::sqlite())
    }

    /// `None` (test skipped) only outside CI when no PostgreSQL URL is given.
    pub fn postgres() -> Option<Self> {
        let database = TestDatabase::postgres()?;
        let shared = EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner());
        let mut db = Self::open(database);
        db._shared = Some(shared);
        Some(db)
    }

    fn open(database: TestDatabase) -> Self {
        let store = Store::open(&database.url, PoolOptions::default()).unwrap();
        store.migrate().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let idp = Idp::new(
            store,
            SecretBox::new(&[5u8; 32], &[]),
            cheap_settings(),
            clock.clone(),
        )
        .unwrap();
        TestDb {
            idp,
            clock,
            url: database.url.clone(),
            _db: database,
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
