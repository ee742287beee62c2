//! The pool, the backends and the transaction helpers.

use super::*;

#[test]
fn backend_is_chosen_from_the_scheme() {
    assert_eq!(
        Backend::from_url("sqlite://data/x.db").unwrap(),
        Backend::Sqlite("data/x.db".into())
    );
    assert_eq!(
        Backend::from_url("postgres://u@h/db").unwrap(),
        Backend::Postgres("postgres://u@h/db".into())
    );
    assert!(Backend::from_url("mysql://h/db").is_err());
    assert!(Backend::from_url("sqlite://").is_err());
    assert!(Backend::from_url("data/x.db").is_err());
}

/// The SQLite write gate: concurrent writing transactions all commit (none fails on a
/// locked database), and a transaction opened inside another on the same thread does not
/// wait for the gate its own thread holds.
#[test]
fn sqlite_writers_take_turns_and_nesting_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gate.db").display());
    let store = Store::open(&url, PoolOptions::default()).unwrap();
    store
        .conn()
        .unwrap()
        .batch_execute("CREATE TABLE n (v INTEGER NOT NULL)")
        .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..25 {
                    store
                        .tx(|c| -> Result<(), StoreError> {
                            c.batch_execute("INSERT INTO n (v) VALUES (1)")?;
                            Ok(())
                        })
                        .unwrap();
                }
            });
        }
    });
    let nested = store.tx(|c| -> Result<i64, StoreError> {
        c.batch_execute("INSERT INTO n (v) VALUES (2)")?;
        // A read in a second transaction on another connection, from the same thread.
        store.tx(|inner| -> Result<i64, StoreError> {
            let count = diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT COUNT(*) FROM n)");
            Ok(crate::on_backend!(inner, |c| diesel::select(count).get_result::<i64>(c))?)
        })
    });
    assert_eq!(
        nested.unwrap(),
        200,
        "the inner read sees the committed rows"
    );
}

/// A PostgreSQL connection killed by the server (as by a restart) is replaced: if it was in
/// use a moment ago, the next request fails once and the one after succeeds on a new
/// connection; if it sat idle, the checkout probe replaces it before any request fails. An
/// ordinary query error does not cost the connection.
#[test]
fn postgres_pool_replaces_connections_the_server_killed() {
    let Some(db) = crate::testing::TestDb::postgres() else {
        return;
    };
    let one = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let store = Store::open(&db.url, one).unwrap();
    let backend_pid = || -> Result<i32, StoreError> {
        let pid = diesel::dsl::sql::<diesel::sql_types::Integer>("pg_backend_pid()");
        Ok(on_backend!(&mut *store.conn()?, |c| diesel::select(pid)
            .get_result::<i32>(c))?)
    };
    let kill = |pid: i32| {
        let mut admin = diesel::PgConnection::establish(&db.url).unwrap();
        let killed =
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("pg_terminate_backend({pid})"));
        assert!(diesel::select(killed)
            .get_result::<bool>(&mut admin)
            .unwrap());
    };

    let first = backend_pid().unwrap();
    assert!(store
        .conn()
        .unwrap()
        .batch_execute("SELECT * FROM no_such_table")
        .is_err());
    assert_eq!(
        backend_pid().unwrap(),
        first,
        "a query error keeps the connection"
    );

    kill(first);
    let second = backend_pid().or_else(|_| backend_pid()).unwrap();
    assert_ne!(second, first);

    kill(second);
    std::thread::sleep(PROBE_AFTER_IDLE + Duration::from_millis(100));
    let third = backend_pid().expect("an idle connection is probed and replaced");
    assert_ne!(third, second);
}

#[test]
fn unreachable_postgres_reports_the_real_error() {
    let err = Store::open(
        "postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
        PoolOptions::default(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cannot connect"), "{msg}");
    assert!(!msg.contains("multiconnection"), "{msg}");
}

/// Diesel orders migrations by the version before the first `_`, and two folders with one
/// version run only once: every version is unique, and both backends have the same list (two
/// branches each adding `2026-12-06-000001_...` once left a table missing).
#[test]
fn migration_versions_are_unique_and_the_same_on_both_backends() {
    let names = |backend: &str| -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert_eq!(sqlite, names("postgres"));
    let mut versions: Vec<&str> = sqlite
        .iter()
        .map(|n| n.split_once('_').map_or(n.as_str(), |(v, _)| v))
        .collect();
    let all = versions.len();
    versions.dedup();
    assert_eq!(versions.len(), all, "a version used twice: {sqlite:?}");
}
