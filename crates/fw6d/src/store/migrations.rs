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
/// cost of a call does not grow with the number of stored entries (docs/design.md §1.1). `STRICT`
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

/// Version 2: who asked and when is stored once per call, in `calls`, instead of on every pair
/// and audit row. A 10,000-item `Apply` wrote the caller's uid, pid, executable, bus name and the
/// time 20,000 times; now once, and every row names its call. What that saved in the rows and
/// the commit: BENCHMARKS.md, "Figures behind design choices".
///
/// Every distinct (time, caller) of version 1 becomes one call, so nothing is lost; tables are
/// rebuilt the way SQLite documents (create the new shape, copy, drop, rename), with foreign key
/// enforcement off during the step and [`migrate`] running `foreign_key_check` before the commit.
const V2: &str = "
CREATE TABLE calls (
    id         INTEGER PRIMARY KEY,
    time       INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    pid        INTEGER,
    executable TEXT,
    sender     TEXT
) STRICT;

INSERT INTO calls (time, uid, pid, executable, sender)
SELECT DISTINCT time, uid, pid, executable, sender FROM (
              SELECT changed AS time, uid, pid, executable, sender FROM settings
    UNION ALL SELECT changed, uid, pid, executable, sender FROM connections
    UNION ALL SELECT created, uid, pid, executable, sender FROM global_open
    UNION ALL SELECT created, uid, pid, executable, sender FROM open_ports
    UNION ALL SELECT created, uid, pid, executable, sender FROM ignored_ports
    UNION ALL SELECT time, uid, pid, executable, sender FROM audit
) ORDER BY time;

CREATE INDEX v1_callers ON calls (time, uid, pid, executable, sender);

CREATE TABLE new_settings (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    log_dropped_packets  INTEGER NOT NULL CHECK (log_dropped_packets IN (0, 1)),
    log_connections      INTEGER NOT NULL CHECK (log_connections IN (0, 1)),
    logfile_path         TEXT    NOT NULL,
    logfile_maximum_size INTEGER NOT NULL,
    call                 INTEGER NOT NULL REFERENCES calls (id)
) STRICT;
INSERT INTO new_settings
SELECT id, log_dropped_packets, log_connections, logfile_path, logfile_maximum_size,
       (SELECT c.id FROM calls c WHERE c.time = t.changed AND c.uid = t.uid AND c.pid IS t.pid
            AND c.executable IS t.executable AND c.sender IS t.sender)
FROM settings t;

CREATE TABLE new_connections (
    name       TEXT    NOT NULL PRIMARY KEY,
    firewalled INTEGER NOT NULL CHECK (firewalled IN (0, 1)),
    call       INTEGER NOT NULL REFERENCES calls (id)
) STRICT, WITHOUT ROWID;
INSERT INTO new_connections
SELECT name, firewalled,
       (SELECT c.id FROM calls c WHERE c.time = t.changed AND c.uid = t.uid AND c.pid IS t.pid
            AND c.executable IS t.executable AND c.sender IS t.sender)
FROM connections t;

CREATE TABLE new_global_open (
    port     INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol INTEGER NOT NULL CHECK (protocol IN (6, 17)),
    name     TEXT    NOT NULL,
    call     INTEGER NOT NULL REFERENCES calls (id),
    PRIMARY KEY (port, protocol)
) STRICT, WITHOUT ROWID;
INSERT INTO new_global_open
SELECT port, protocol, name,
       (SELECT c.id FROM calls c WHERE c.time = t.created AND c.uid = t.uid AND c.pid IS t.pid
            AND c.executable IS t.executable AND c.sender IS t.sender)
FROM global_open t;

CREATE TABLE new_open_ports (
    connection TEXT    NOT NULL REFERENCES connections (name),
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol   INTEGER NOT NULL CHECK (protocol IN (6, 17)),
    name       TEXT    NOT NULL,
    call       INTEGER NOT NULL REFERENCES calls (id),
    PRIMARY KEY (connection, port, protocol)
) STRICT, WITHOUT ROWID;
INSERT INTO new_open_ports
SELECT connection, port, protocol, name,
       (SELECT c.id FROM calls c WHERE c.time = t.created AND c.uid = t.uid AND c.pid IS t.pid
            AND c.executable IS t.executable AND c.sender IS t.sender)
FROM open_ports t;

CREATE TABLE new_ignored_ports (
    connection TEXT    NOT NULL REFERENCES connections (name),
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol   INTEGER NOT NULL CHECK (protocol IN (6, 17)),
    name       TEXT    NOT NULL,
    call       INTEGER NOT NULL REFERENCES calls (id),
    PRIMARY KEY (connection, port, protocol)
) STRICT, WITHOUT ROWID;
INSERT INTO new_ignored_ports
SELECT connection, port, protocol, name,
       (SELECT c.id FROM calls c WHERE c.time = t.created AND c.uid = t.uid AND c.pid IS t.pid
            AND c.executable IS t.executable AND c.sender IS t.sender)
FROM ignored_ports t;

CREATE TABLE new_audit (
    id         INTEGER PRIMARY KEY,
    call       INTEGER NOT NULL REFERENCES calls (id),
    member     TEXT    NOT NULL,
    what       TEXT    NOT NULL,
    connection TEXT,
    port       INTEGER,
    protocol   INTEGER,
    old        TEXT,
    new        TEXT
) STRICT;
INSERT INTO new_audit
SELECT id,
       (SELECT c.id FROM calls c WHERE c.time = t.time AND c.uid = t.uid AND c.pid IS t.pid
            AND c.executable IS t.executable AND c.sender IS t.sender),
       member, what, connection, port, protocol, old, new
FROM audit t;

DROP TABLE audit;
DROP TABLE ignored_ports;
DROP TABLE open_ports;
DROP TABLE global_open;
DROP TABLE connections;
DROP TABLE settings;
DROP INDEX v1_callers;
ALTER TABLE new_settings RENAME TO settings;
ALTER TABLE new_connections RENAME TO connections;
ALTER TABLE new_global_open RENAME TO global_open;
ALTER TABLE new_open_ports RENAME TO open_ports;
ALTER TABLE new_ignored_ports RENAME TO ignored_ports;
ALTER TABLE new_audit RENAME TO audit;
";

/// Version 3: leases (docs/dbus-api.md, "Leases"). One row per open pair (global: connection
/// '') that ends on its own: its wall-clock expiry (ms since the Unix epoch) and/or the bus
/// connection it is bound to (the bus's id, the unique name, and the pid and program for
/// people). A separate table, so the pair tables and every plain opening stay as they were; a
/// row whose pair is gone is ignored on load.
const V3: &str = "
CREATE TABLE leases (
    connection    TEXT    NOT NULL,
    port          INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol      INTEGER NOT NULL CHECK (protocol IN (6, 17)),
    expires       INTEGER CHECK (expires > 0),
    owner_bus     TEXT,
    owner_name    TEXT,
    owner_pid     INTEGER,
    owner_command TEXT,
    CHECK (expires IS NOT NULL OR owner_name IS NOT NULL),
    PRIMARY KEY (connection, port, protocol)
) STRICT, WITHOUT ROWID;
";

/// Every migration, in order.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

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
    if start >= MIGRATIONS.len() {
        return Ok(());
    }
    // A table rebuild drops tables that others reference; SQLite only lets that happen with
    // enforcement off, which it ignores inside a transaction, so it is switched around the
    // steps and each step checks every reference itself before it commits.
    enforce_foreign_keys(conn, false)?;
    let migrated = (1_i64..)
        .zip(MIGRATIONS)
        .skip(start)
        .try_for_each(|(to, sql)| step(conn, to, sql));
    enforce_foreign_keys(conn, true)?;
    migrated
}

fn enforce_foreign_keys(conn: &Connection, on: bool) -> Result<(), StoreError> {
    conn.pragma_update(None, "foreign_keys", on)
        .map_err(|e| StoreError::sqlite("switch foreign key enforcement", e))
}

/// Runs one migration and the version bump in one transaction, committed only if every
/// foreign key still points at a row.
fn step(conn: &mut Connection, to: i64, sql: &str) -> Result<(), StoreError> {
    let step = format!("migrate schema to version {to}");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::sqlite(step.clone(), e))?;
    tx.execute_batch(sql)
        .map_err(|e| StoreError::sqlite(step.clone(), e))?;
    let dangling: Vec<String> = tx
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok(format!(
                    "{} row {}",
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1).unwrap_or(-1)
                ))
            })?
            .collect()
        })
        .map_err(|e| StoreError::sqlite(step.clone(), e))?;
    if !dangling.is_empty() {
        return Err(StoreError::InvalidRow {
            table: "foreign keys",
            reason: format!("{step}: rows point at nothing: {}", dangling.join(", ")),
        });
    }
    tx.pragma_update(None, "user_version", to)
        .and_then(|()| tx.commit())
        .map_err(|e| StoreError::sqlite(step, e))?;
    tracing::info!(version = to, "store schema migrated");
    Ok(())
}

/// `PRAGMA user_version`: the first read of the file, so a file that is not a database fails here
/// with `SQLite`'s "file is not a database".
pub(crate) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| StoreError::sqlite("read schema version", e))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use rusqlite::Connection;

    use super::{SCHEMA_VERSION, V1, migrate, user_version};
    use crate::store::{Provenance, audit, load};

    /// A version 1 file holding a row in every table, from three callers (one with no pid,
    /// executable or bus name, as the daemon's own defaults were recorded).
    fn version_1() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO settings VALUES (1, 1, 0, '/var/log/fw6/x.log', 100, 1000, 4000,
                 '/usr/bin/fw6', ':1.7', 1000);
             INSERT INTO connections VALUES ('eth0', 0, 1000, 4000, '/usr/bin/fw6', ':1.7', 1000);
             INSERT INTO connections VALUES ('wlan0', 1, 0, NULL, NULL, NULL, 2000);
             INSERT INTO global_open VALUES (22, 6, 'ssh', 0, NULL, NULL, NULL, 2000);
             INSERT INTO open_ports VALUES ('eth0', 80, 6, 'web', 1000, 4000, '/usr/bin/fw6',
                 ':1.7', 1000);
             INSERT INTO open_ports VALUES ('wlan0', 53, 17, '', 7, 9, '/opt/game', ':1.9', 3000);
             INSERT INTO ignored_ports VALUES ('eth0', 22, 6, 'ssh', 7, 9, '/opt/game', ':1.9',
                 3000);
             INSERT INTO audit (time, uid, pid, executable, sender, member, what, connection,
                 port, protocol, old, new)
                 VALUES (2000, 0, NULL, NULL, NULL, 'OpenGlobalPort', 'global_open', NULL, 22,
                     6, NULL, 'ssh'),
                        (3000, 7, 9, '/opt/game', ':1.9', 'OpenPort', 'open_ports', 'wlan0', 53,
                     17, NULL, '');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn version_1_migrates_with_every_row_and_its_caller() {
        let mut conn = version_1();
        let before = load::load(&conn).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(
            load::load(&conn).unwrap(),
            before,
            "the intent is unchanged"
        );
        let calls: i64 = conn
            .query_row("SELECT count(*) FROM calls", [], |row| row.get(0))
            .unwrap();
        assert_eq!(calls, 3, "one call per distinct (time, caller)");
        let game = Provenance {
            uid: 7,
            pid: Some(9),
            executable: Some("/opt/game".into()),
            sender: Some(":1.9".into()),
        };
        let audit = audit::newest(&conn, 10).unwrap();
        assert_eq!(audit.len(), 2);
        assert_eq!(audit[0].who, game);
        assert_eq!(audit[0].time, UNIX_EPOCH + Duration::from_secs(3));
        assert_eq!(audit[1].who, Provenance::default(), "NULLs stay NULL");
        assert_eq!(audit[1].member, "OpenGlobalPort");
        // Each pair names the call of its own caller.
        let exe: String = conn
            .query_row(
                "SELECT c.executable FROM ignored_ports p JOIN calls c ON c.id = p.call",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(exe, "/opt/game");
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
            .unwrap();
        assert!(fk, "enforcement is back on");
    }

    #[test]
    fn a_dangling_reference_fails_the_step_and_keeps_version_1() {
        let mut conn = version_1();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO open_ports VALUES ('gone0', 1, 6, '', 0, NULL, NULL, NULL, 1);",
        )
        .unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("open_ports"), "{err}");
        assert_eq!(user_version(&conn).unwrap(), 1);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'calls'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the step was rolled back whole");
    }
}
