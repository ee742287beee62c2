//! The database: one store type over SQLite (embedded default) or PostgreSQL (shared by replicas),
//! chosen from the URL scheme, pooled with r2d2, migrated from `migrations/<backend>`; and one
//! module per table (`store::users`, `store::sessions`, ...) with typed rows: nothing outside
//! them writes SQL. The domain modules above use these, never each other's tables.
//!
//! Every multi-step change runs in one transaction that *starts with a write* (a conditional
//! `UPDATE` or an `INSERT`), so SQLite takes its write lock up front (and waits on `busy_timeout`)
//! and two racing requests are serialised by the database on both backends.

pub(crate) mod accounts;
pub(crate) mod attempts;
pub(crate) mod audit;
pub(crate) mod codes;
pub(crate) mod email_tokens;
pub(crate) mod flows;
pub(crate) mod grants;
pub(crate) mod import_marks;
mod live;
pub(crate) mod outbox;
pub(crate) mod refresh_tokens;
pub(crate) mod schema;
pub(crate) mod sealed_secrets;
mod session_row;
pub(crate) mod sessions;
pub(crate) mod signing_keys;
pub(crate) mod totp;
pub(crate) mod users;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// The connection type over both backends (`diesel::MultiConnection`). In a module of its own:
/// the derive generates helper types (the multi-backend, its values) that carry no docs.
mod connection {
    #![allow(missing_docs)]

    /// A connection to whichever backend the store was opened on.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// A PostgreSQL connection.
        Postgres(diesel::PgConnection),
        /// A SQLite connection.
        Sqlite(diesel::SqliteConnection),
    }
}

pub use connection::*;

/// Runs a diesel query on the concrete connection inside a [`DbConnection`]:
/// `on_backend!(conn, |c| users::table.find(id).get_result(c))`. The body is compiled once per
/// backend. Meant for the hot paths (userinfo, token grants): through `MultiConnection` every
/// execution first renders the query to SQL text, even when the prepared statement is cached,
/// which cost more than the query itself on SQLite; the concrete connection looks the cached
/// statement up by the query's type and skips the rendering.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Sqlite($c) => $body,
            $crate::store::DbConnection::Postgres($c) => $body,
        }
    };
}

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH` (or `sqlite::memory:` for a throwaway database).
    Sqlite(String),
    /// `postgres://...` or `postgresql://...`, passed to libpq unchanged.
    Postgres(String),
}

impl Backend {
    /// Reads the backend from the URL scheme; anything else is refused with the reason.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::BadUrl(
                    "sqlite:// needs a file path, e.g. sqlite://data/idp.db".into(),
                ));
            }
            Ok(Backend::Sqlite(path.to_string()))
        } else if url == "sqlite::memory:" {
            Ok(Backend::Sqlite(":memory:".to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres(url.to_string()))
        } else {
            Err(StoreError::BadUrl(
                "database_url must start with sqlite:// or postgres:// (postgresql://)".into(),
            ))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// Why the database could not be used.
pub enum StoreError {
    /// The database URL is not `sqlite://PATH` or `postgres://...`.
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    /// The database could not be opened or connected to.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// No connection became free in time, or the server stopped answering.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    /// A query failed.
    Query(#[from] diesel::result::Error),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored row breaks an invariant (a user without an account, an unknown status).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A unique-constraint violation (e.g. a second account with the same slug).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// r2d2 manager that opens the backend chosen from the URL and surfaces its real error
/// (diesel's `MultiConnection::establish` would try every backend and keep none of their errors).
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConnection, StoreError> {
        match &self.backend {
            Backend::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path)
                    .map_err(|e| StoreError::Connect(e.to_string()))?;
                // WAL lets readers run beside the writer; busy_timeout makes a second writer wait
                // instead of failing; NORMAL is durable in WAL mode except for the last commit on
                // power loss, which is the usual trade for a server. The commit that takes the
                // WAL past 10,000 pages (~40 MB) copies it into the database (SQLite's default,
                // 1,000, made the sweeper's first pass over 10,000 idle sessions checkpoint after
                // nearly every batch of 500: 16 checkpoints with their fsyncs, 1.1 s instead of
                // 0.8 s; a checkpoint writes each page once however often the WAL holds it).
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA wal_autocheckpoint = 10000;",
                )
                .map_err(|e| StoreError::Connect(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
            Backend::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(|e| StoreError::Connect(e.to_string())),
        }
    }

    /// Not used by the pool (`test_on_check_out` is off): [`Store::conn`] decides when a
    /// connection needs probing. Kept correct for any caller that asks.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        match conn {
            DbConnection::Sqlite(_) => Ok(()),
            DbConnection::Postgres(c) => c.batch_execute("SELECT 1").map_err(StoreError::Query),
        }
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// A PostgreSQL connection unused for this long is probed with `SELECT 1` at its next checkout.
/// Under load every connection is checked out many times a second and is never probed; a
/// connection that sat idle across a database restart or a cut network is found dead by the
/// probe and replaced before a request uses it.
const PROBE_AFTER_IDLE: Duration = Duration::from_secs(1);

/// What the pool knows of one PostgreSQL connection, kept in r2d2's per-connection extensions.
struct PgHealth {
    /// Set by the connection's [`LossWatch`] when one of its queries found it gone.
    lost: Arc<AtomicBool>,
    last_checkout: Instant,
    /// The store's loss count when this connection was last known good.
    losses_seen: u64,
}

/// Installed as a PostgreSQL connection's diesel instrumentation: a query that fails because the
/// connection is gone (closed by the server, or the command could not be sent) marks the
/// connection lost, so its next checkout reconnects, and counts a loss for the whole store, so
/// every other connection is probed at its next checkout (one restart kills them all).
struct LossWatch {
    lost: Arc<AtomicBool>,
    losses: Arc<AtomicU64>,
}

impl Instrumentation for LossWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        use diesel::result::{DatabaseErrorKind, Error};
        if let InstrumentationEvent::FinishQuery {
            error:
                Some(Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                )),
            ..
        } = event
        {
            if !self.lost.swap(true, Ordering::Relaxed) {
                self.losses.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A connection checked out of the pool.
pub type Conn = PooledConnection<Manager>;

/// The pool of connections to one database.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    backend_name: &'static str,
    /// SQLite only: one writing transaction at a time in this process. SQLite allows one writer
    /// anyway; without the gate the others find the database locked and SQLite's busy handler
    /// puts them to sleep for 1, 2, 5, 10... ms before trying again, which capped concurrent
    /// refresh grants and gave them a p99 of 170 ms. Waiting here, they are woken as soon as the
    /// writer commits. (Other processes, such as the CLI, still meet `busy_timeout`.)
    write_gate: Option<std::sync::Arc<std::sync::Mutex<()>>>,
    /// Opens replacements for lost PostgreSQL connections.
    manager: Manager,
    /// PostgreSQL: connections found lost so far (see [`LossWatch`]).
    losses: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name)
            .finish()
    }
}

/// How the pool is sized and how long a request waits for a connection.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Connections at most.
    pub max_size: u32,
    /// How long a request waits for one.
    pub connection_timeout: Duration,
    /// Idle connections kept open in the background (a server wants 1; a one-shot command 0, so
    /// no background thread is opening a connection while the process exits).
    pub min_idle: u32,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 8,
            connection_timeout: Duration::from_secs(5),
            min_idle: 1,
        }
    }
}

impl Store {
    /// Opens the pool. Fails with the backend's own message when the first connection cannot be made.
    pub fn open(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url)?;
        let backend_name = backend.name();
        if let Backend::Sqlite(path) = &backend {
            if let Some(parent) = std::path::Path::new(path).parent() {
                if !parent.as_os_str().is_empty() && path != ":memory:" {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Connect(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
            }
        }
        let manager = Manager {
            backend: backend.clone(),
        };
        // Connect once by hand so the operator sees the real reason, not a pool time-out.
        manager.connect()?;
        let max_size = match backend {
            // An in-memory SQLite database exists once per connection.
            Backend::Sqlite(ref p) if p == ":memory:" => 1,
            _ => options.max_size.max(1),
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(options.min_idle.min(max_size)))
            .connection_timeout(options.connection_timeout)
            // Probing every checkout cost a round trip per request (a fifth of /userinfo's
            // throughput on PostgreSQL); `conn` probes only where a connection may be dead.
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build(manager.clone())
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let write_gate = matches!(backend, Backend::Sqlite(_)).then(Default::default);
        Ok(Store {
            pool,
            backend_name,
            write_gate,
            manager,
            losses: Arc::default(),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        self.backend_name
    }

    /// A pooled connection, or `Unavailable` when the database cannot be reached in time.
    ///
    /// A PostgreSQL connection is made sure of first: one found lost by its last query is
    /// replaced, and one that has been idle (or was idle when another connection was lost) is
    /// probed and replaced if dead. That is how the pool heals after a database restart or a
    /// network cut without a round trip per request. A connection that dies while in use fails
    /// that one request (as it would with any check) and is replaced at its next checkout.
    pub fn conn(&self) -> Result<Conn, StoreError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        if matches!(*conn, DbConnection::Postgres(_)) {
            self.make_sure(&mut conn)?;
        }
        Ok(conn)
    }

    fn make_sure(&self, conn: &mut Conn) -> Result<(), StoreError> {
        let losses = self.losses.load(Ordering::Relaxed);
        let (watched, lost, probe) = match PooledConnection::extensions(conn).get::<PgHealth>() {
            // First checkout: it may have waited in the pool since it was opened.
            None => (false, false, true),
            Some(h) => (
                true,
                h.lost.load(Ordering::Relaxed),
                h.losses_seen != losses || h.last_checkout.elapsed() >= PROBE_AFTER_IDLE,
            ),
        };
        let alive = !lost && (!probe || conn.batch_execute("SELECT 1").is_ok());
        if !alive {
            let fresh = self
                .manager
                .connect()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            **conn = fresh;
            tracing::info!("replaced a lost database connection");
        }
        if !alive || !watched {
            let lost = Arc::new(AtomicBool::new(false));
            if let DbConnection::Postgres(pg) = &mut **conn {
                pg.set_instrumentation(LossWatch {
                    lost: lost.clone(),
                    losses: self.losses.clone(),
                });
            }
            PooledConnection::extensions_mut(conn).insert(PgHealth {
                lost,
                last_checkout: Instant::now(),
                losses_seen: losses,
            });
        } else if let Some(h) = PooledConnection::extensions_mut(conn).get_mut::<PgHealth>() {
            h.last_checkout = Instant::now();
            h.losses_seen = losses;
        }
        Ok(())
    }

    /// Applies the embedded migrations of this backend; returns the versions applied now.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
            DbConnection::Postgres(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        applied.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Is the database reachable right now?
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1").map_err(StoreError::Query)
    }

    /// Runs `f` in one transaction. A SQLite "database is locked" (possible only when another
    /// process holds the lock longer than busy_timeout) is retried a few times.
    pub fn tx<T, E, F>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut(&mut DbConnection) -> Result<T, E>,
        E: From<StoreError>,
    {
        // The connection first, then the gate: the gate's holder never waits for the pool.
        let mut conn = self.conn().map_err(E::from)?;
        let writing = self.write_gate.as_deref().and_then(WriteTurn::take);
        // A transaction nested in one this thread already writes in (on another connection)
        // stays deferred: taking the write lock up front would wait for itself.
        let immediate = writing.is_some();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = if immediate {
                immediate_transaction(&mut conn, |c| f(c).map_err(TxError::Domain))
            } else {
                conn.transaction::<T, TxError<E>, _>(|c| f(c).map_err(TxError::Domain))
            };
            match result {
                Ok(v) => return Ok(v),
                Err(TxError::Domain(e)) => return Err(e),
                Err(TxError::Diesel(e)) if attempt < 4 && is_busy(&e) => {
                    std::thread::sleep(Duration::from_millis(20 * attempt));
                }
                Err(TxError::Diesel(e)) => return Err(E::from(StoreError::Query(e))),
            }
        }
    }
}

/// `Connection::transaction` with `BEGIN IMMEDIATE` on SQLite: the write lock is taken when the
/// transaction begins (waiting on `busy_timeout` for another process's writer), not at its first
/// write. A deferred transaction that reads first and writes later fails at once with "database
/// is locked" when another connection committed in between (it cannot upgrade a stale
/// snapshot), which a sweep or a claim (a read, then a conditional update) would meet whenever
/// two processes share the file.
fn immediate_transaction<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    if let DbConnection::Sqlite(c) = &mut *conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

thread_local! {
    /// Whether this thread holds the SQLite write gate (see `Store::write_gate`).
    static HOLDS_WRITE_GATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// This thread's turn to write. A transaction opened while this thread already writes (none
/// does today) does not wait for the gate it holds itself: it meets SQLite's own lock and
/// `busy_timeout`, as it would without the gate, instead of waiting forever.
struct WriteTurn<'a> {
    _guard: std::sync::MutexGuard<'a, ()>,
}

impl<'a> WriteTurn<'a> {
    fn take(gate: &'a std::sync::Mutex<()>) -> Option<Self> {
        if HOLDS_WRITE_GATE.with(|h| h.get()) {
            return None;
        }
        let guard = gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        HOLDS_WRITE_GATE.with(|h| h.set(true));
        Some(WriteTurn { _guard: guard })
    }
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        HOLDS_WRITE_GATE.with(|h| h.set(false));
    }
}

enum TxError<E> {
    Domain(E),
    Diesel(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Diesel(e)
    }
}

fn is_busy(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked") || m.contains("database is busy")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
