//! The schema, as an ordered list of migrations. Migration `i` (0-based) takes the file from
//! version `i` to version `i + 1`; the version lives in `PRAGMA user_version`, so an empty file is
//! version 0 and every step runs in one transaction with the version bump: a crash mid-migration
//! leaves the old version, never half a schema.
//!
//! Never edit a migration that has shipped; append a new one.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Version 1: the intent (settings, connections, the three pair sets, each entry with its
/// provenance) and the audit trail. Primary keys make every change one B-tree lookup, so the
/// cost of a call does not grow with the number of stored entries (DESIGN §1.1). `STRICT`
/// tables make `SQLite` refuse a value of the wrong type instead of storing it. Times (`created`,
/// `changed`, `time`) are milliseconds since the Unix epoch; provenance columns are those of
/// [`super::Provenance`].
const V1: &str = "
CREATE TABLE settings (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    log_dropped_packets  INTEGER NOT NULL CHECK (log_dropped_packets IN (0, 1)),
    log_connections      INTEGER NOT NULL CHECK (log_connections IN (0, 1)),
    logfile_path         TEXT    NOT NULL,
    logfile_maximum_size INTEGER NOT NULL,
    uid                  INTEGER NOT NULL,
    pid                  INTEGER,
    executable           TEXT,
    sender               TEXT,
    changed              INTEGER NOT NULL
) STRICT;

CREATE TABLE connections (
    name       TEXT    NOT NULL PRIMARY KEY,
    firewalled INTEGER NOT NULL CHECK (firewalled IN (0, 1)),
    uid        INTEGER NOT NULL,
    pid        INTEGER,
    executable TEXT,
    sender     TEXT,
    changed    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE global_open (
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol   INTEGER NOT NULL CHECK (protocol IN (6, 17)),
    name       TEXT    NOT NULL,
    uid        INTEGER NOT NULL,
    pid        INTEGER,
    executable TEXT,
    sender     TEXT,
    created    INTEGER NOT NULL,
    PRIMARY KEY (port, protocol)
) STRICT, WITHOUT ROWID;

CREATE TABLE open_ports (
    connection TEXT    NOT NULL REFERENCES connections (name),
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol   INTEGER NOT NULL CHECK (protocol IN (6, 17)),
    name       TEXT    NOT NULL,
    uid        INTEGER NOT NULL,
    pid        INTEGER,
    executable TEXT,
    sender     TEXT,
    created    INTEGER NOT NULL,
    PRIMARY KEY (connection, port, protocol)
) STRICT, WITHOUT ROWID;

CREATE TABLE ignored_ports (
    connection TEXT    NOT NULL REFERENCES connections (name),
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol   INTEGER NOT NULL CHECK (protocol IN (6, 17)),
    name       TEXT    NOT NULL,
    uid        INTEGER NOT NULL,
    pid        INTEGER,
    executable TEXT,
    sender     TEXT,
    created    INTEGER NOT NULL,
    PRIMARY KEY (connection, port, protocol)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    time       INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    pid        INTEGER,
    executable TEXT,
    sender     TEXT,
    member     TEXT    NOT NULL,
    what       TEXT    NOT NULL,
    connection TEXT,
    port       INTEGER,
    protocol   INTEGER,
    old        TEXT,
    new        TEXT
) STRICT;
";

/// Every migration, in order.
const MIGRATIONS: &[&str] = &[V1];

/// The schema version this build writes.
#[expect(
    clippy::cast_possible_wrap,
    reason = "a handful of migrations, far below i64::MAX"
)]
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the file to [`SCHEMA_VERSION`]. A file from a newer fw6d is refused rather than
/// guessed at, so the caller can move it aside intact.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = user_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::FutureVersion {
            found,
            known: SCHEMA_VERSION,
        });
    }
    // A negative version cannot come from us: treat the file as damaged.
    let start = usize::try_from(found).map_err(|_| StoreError::InvalidRow {
        table: "user_version",
        reason: format!("schema version {found} is negative"),
    })?;
    for (to, sql) in (1_i64..).zip(MIGRATIONS).skip(start) {
        let step = format!("migrate schema to version {to}");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(step.clone(), e))?;
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", to))
            .and_then(|()| tx.commit())
            .map_err(|e| StoreError::sqlite(step, e))?;
        tracing::info!(version = to, "store schema migrated");
    }
    Ok(())
}

/// `PRAGMA user_version`: the first read of the file, so a file that is not a database fails here
/// with `SQLite`'s "file is not a database".
pub(crate) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| StoreError::sqlite("read schema version", e))
}
