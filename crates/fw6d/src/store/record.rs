//! Writing effective changes: one intent write and one audit row per change, each naming its
//! call (the `calls` row that says who asked and when). Every statement addresses a row by its
//! primary key, so a call costs the same with 10 or 100,000 stored entries. Statements are cached
//! per connection, so nothing is parsed per call.

use std::sync::LazyLock;

use fw6_model::{Change, IfName, LogSettings, PortEntry};
use rusqlite::{Connection, params};

use super::audit::{self, AuditRow};
use super::{Provenance, StoreError, rows};

/// The three pair tables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PairSet {
    GlobalOpen,
    OpenPorts,
    IgnoredPorts,
}

impl PairSet {
    const fn table(self) -> &'static str {
        match self {
            Self::GlobalOpen => "global_open",
            Self::OpenPorts => "open_ports",
            Self::IgnoredPorts => "ignored_ports",
        }
    }

    /// `table (columns)` of an insert.
    const fn into(self) -> &'static str {
        match self {
            Self::GlobalOpen => "global_open (port, protocol, name, call)",
            Self::OpenPorts => "open_ports (connection, port, protocol, name, call)",
            Self::IgnoredPorts => "ignored_ports (connection, port, protocol, name, call)",
        }
    }

    /// Values per row.
    const fn width(self) -> usize {
        match self {
            Self::GlobalOpen => 4,
            Self::OpenPorts | Self::IgnoredPorts => 5,
        }
    }

    /// The inserts of [`rows::ROWS`] rows and of one row, built once (constant text: the
    /// statement cache finds them by it).
    fn insert_sql(self) -> (&'static str, &'static str) {
        static SQL: LazyLock<[(String, String); 3]> = LazyLock::new(|| {
            [
                PairSet::GlobalOpen,
                PairSet::OpenPorts,
                PairSet::IgnoredPorts,
            ]
            .map(|set| {
                (
                    rows::insert_sql(set.into(), set.width(), rows::ROWS),
                    rows::insert_sql(set.into(), set.width(), 1),
                )
            })
        });
        let (many, one) = &SQL[self as usize];
        (many, one)
    }

    /// The delete by primary key.
    const fn delete_sql(self) -> &'static str {
        match self {
            Self::GlobalOpen => "DELETE FROM global_open WHERE port = ?1 AND protocol = ?2",
            Self::OpenPorts => {
                "DELETE FROM open_ports WHERE connection = ?1 AND port = ?2 AND protocol = ?3"
            }
            Self::IgnoredPorts => {
                "DELETE FROM ignored_ports WHERE connection = ?1 AND port = ?2 AND protocol = ?3"
            }
        }
    }
}

/// Where a change is written: the open transaction, the member, the call's row (who and when)
/// and the connections whose row already exists.
pub(crate) struct Writer<'a> {
    pub conn: &'a Connection,
    pub member: &'a str,
    pub call: i64,
    pub connections: &'a mut Vec<IfName>,
}

/// Inserts the `calls` row of one call and returns its id.
pub(crate) fn call(conn: &Connection, who: &Provenance, now: i64) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO calls (time, uid, pid, executable, sender) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| stmt.insert(params![now, who.uid, who.pid, who.executable, who.sender]))
    .map_err(|e| StoreError::sqlite("record the caller", e))
}

impl Writer<'_> {
    /// Persists changes and their audit rows, in order. A run of pairs added to one set of one
    /// connection (a batch of opens) is written [`rows::ROWS`] rows per statement.
    pub fn changes(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let mut rest = changes;
        while let Some(first) = rest.first() {
            let Some((set, connection, _)) = addition(first) else {
                self.change(first)?;
                rest = &rest[1..];
                continue;
            };
            let entries: Vec<&PortEntry> = rest
                .iter()
                .map_while(|change| {
                    addition(change)
                        .filter(|(s, c, _)| *s == set && *c == connection)
                        .map(|(_, _, entry)| entry)
                })
                .collect();
            self.insert(set, connection, &entries)?;
            rest = &rest[entries.len()..];
        }
        Ok(())
    }

    /// Persists one change that is not an addition, and its audit rows.
    fn change(&mut self, change: &Change) -> Result<(), StoreError> {
        match change {
            // Additions take the run path, which knows their set and connection.
            Change::GlobalOpened { .. }
            | Change::PortOpened { .. }
            | Change::GlobalIgnored { .. } => self.changes(std::slice::from_ref(change)),
            Change::GlobalClosed { entry } => self.delete(PairSet::GlobalOpen, None, entry),
            Change::PortClosed { connection, entry } => {
                self.delete(PairSet::OpenPorts, Some(connection), entry)
            }
            Change::GlobalObserved { connection, entry } => {
                self.delete(PairSet::IgnoredPorts, Some(connection), entry)
            }
            Change::FirewallEnabled { connection } => self.firewalled(connection, true),
            Change::FirewallDisabled { connection } => self.firewalled(connection, false),
            Change::Logging { from, to } => self.logging(from, to),
        }
    }

    /// Adds pairs to one set of one connection. A plain `INSERT`: the model only reports a pair
    /// as opened when it was not there, so a primary-key conflict means store and memory
    /// disagree and must fail the call.
    fn insert(
        &mut self,
        set: PairSet,
        connection: Option<&IfName>,
        entries: &[&PortEntry],
    ) -> Result<(), StoreError> {
        let table = set.table();
        if let Some(connection) = connection {
            self.ensure_connection(connection)?;
        }
        let member = self.member;
        let op = || format!("record {member} (add to {table})");
        let call = self.call;
        rows::insert(
            self.conn,
            set.insert_sql(),
            set.width(),
            entries,
            |stmt, first, entry| {
                let mut i = first;
                if let Some(connection) = connection {
                    stmt.raw_bind_parameter(i, connection.as_str())?;
                    i += 1;
                }
                stmt.raw_bind_parameter(i, entry.port.get())?;
                stmt.raw_bind_parameter(i + 1, entry.protocol.number())?;
                stmt.raw_bind_parameter(i + 2, entry.name.as_str())?;
                stmt.raw_bind_parameter(i + 3, call)
            },
        )
        .map_err(|e| StoreError::sqlite(op(), e))?;
        for entry in entries.iter().filter(|e| e.lease.is_some()) {
            self.lease(connection, entry, true)?;
        }
        let audit: Vec<AuditRow<'_>> = entries
            .iter()
            .map(|entry| AuditRow {
                call,
                member: self.member,
                what: table,
                connection,
                key: Some(entry.key()),
                old: None,
                new: Some(entry.name.as_str()),
            })
            .collect();
        audit::insert(self.conn, &audit)
    }

    /// Removes a pair; exactly one row must go, or store and memory disagree.
    fn delete(
        &self,
        set: PairSet,
        connection: Option<&IfName>,
        entry: &PortEntry,
    ) -> Result<(), StoreError> {
        let table = set.table();
        let op = || format!("record {} (remove from {table})", self.member);
        let (port, protocol) = (entry.port.get(), entry.protocol.number());
        let removed = if let Some(connection) = connection {
            self.conn
                .prepare_cached(set.delete_sql())
                .and_then(|mut stmt| stmt.execute(params![connection.as_str(), port, protocol]))
        } else {
            self.conn
                .prepare_cached(set.delete_sql())
                .and_then(|mut stmt| stmt.execute(params![port, protocol]))
        }
        .map_err(|e| StoreError::sqlite(op(), e))?;
        if entry.lease.is_some() {
            self.lease(connection, entry, false)?;
        }
        if removed != 1 {
            let on = connection.map_or_else(String::new, |c| format!(" on {c}"));
            return Err(StoreError::OutOfStep(format!(
                "{} removes {} from {table}{on}, but the store does not hold it",
                self.member,
                entry.key()
            )));
        }
        self.audit(
            table,
            connection,
            Some(entry),
            Some(entry.name.as_str()),
            None,
        )
    }

    /// Stores (`add`) or removes the lease of an opened entry; a global pair's connection is ''.
    fn lease(
        &self,
        connection: Option<&IfName>,
        entry: &PortEntry,
        add: bool,
    ) -> Result<(), StoreError> {
        let connection = connection.map_or("", IfName::as_str);
        let (port, protocol) = (entry.port.get(), entry.protocol.number());
        let done = if add {
            let lease = entry.lease.as_ref();
            let owner = lease.and_then(|l| l.owner.as_ref());
            self.conn
                .prepare_cached(
                    "INSERT INTO leases (connection, port, protocol, expires, owner_bus, \
                     owner_name, owner_pid, owner_command) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        connection,
                        port,
                        protocol,
                        lease
                            .and_then(|l| l.expires)
                            .map(|at| i64::try_from(at).unwrap_or(i64::MAX)),
                        owner.map(|o| o.bus.as_str()),
                        owner.map(|o| o.name.as_str()),
                        owner.map(|o| o.pid),
                        owner.map(|o| o.command.as_str()),
                    ])
                })
        } else {
            self.conn
                .prepare_cached(
                    "DELETE FROM leases WHERE connection = ?1 AND port = ?2 AND protocol = ?3",
                )
                .and_then(|mut stmt| stmt.execute(params![connection, port, protocol]))
        };
        done.map(drop)
            .map_err(|e| StoreError::sqlite(format!("record {} (lease)", self.member), e))
    }

    /// Sets a connection's flag, creating its row if needed.
    fn firewalled(&self, connection: &IfName, on: bool) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO connections (name, firewalled, call) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET firewalled = excluded.firewalled, \
                 call = excluded.call",
            )
            .and_then(|mut stmt| stmt.execute(params![connection.as_str(), on, self.call]))
            .map_err(|e| StoreError::sqlite(format!("record {} (firewalled)", self.member), e))?;
        let (old, new) = ((!on).to_string(), on.to_string());
        self.audit("firewalled", Some(connection), None, Some(&old), Some(&new))
    }

    /// Gives a connection its row when a pair is first stored for it. The model creates a
    /// firewalled configuration in that case and keeps it after the last pair goes, so the row
    /// stays too, and loading yields the same set of connections.
    fn ensure_connection(&mut self, connection: &IfName) -> Result<(), StoreError> {
        if self.connections.contains(connection) {
            return Ok(());
        }
        self.connections.push(connection.clone());
        self.conn
            .prepare_cached(
                "INSERT INTO connections (name, firewalled, call) VALUES (?1, 1, ?2) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![connection.as_str(), self.call]))
            .map(drop)
            .map_err(|e| StoreError::sqlite(format!("record {} (connection)", self.member), e))
    }

    /// Stores the new settings and audits each setting that differs, by its column name.
    fn logging(&self, from: &LogSettings, to: &LogSettings) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO settings (id, log_dropped_packets, log_connections, logfile_path, \
                 logfile_maximum_size, call) VALUES (1, ?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET \
                 log_dropped_packets = excluded.log_dropped_packets, \
                 log_connections = excluded.log_connections, \
                 logfile_path = excluded.logfile_path, \
                 logfile_maximum_size = excluded.logfile_maximum_size, call = excluded.call",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    to.log_dropped_packets,
                    to.log_connections,
                    to.logfile_path,
                    to.logfile_maximum_size.kib(),
                    self.call
                ])
            })
            .map_err(|e| StoreError::sqlite(format!("record {} (settings)", self.member), e))?;
        for (what, old, new) in audit::setting_diffs(from, to) {
            self.audit(what, None, None, Some(&old), Some(&new))?;
        }
        Ok(())
    }

    fn audit(
        &self,
        what: &str,
        connection: Option<&IfName>,
        entry: Option<&PortEntry>,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), StoreError> {
        audit::insert(
            self.conn,
            &[AuditRow {
                call: self.call,
                member: self.member,
                what,
                connection,
                key: entry.map(PortEntry::key),
                old,
                new,
            }],
        )
    }
}

/// The set, connection and entry of a change that adds a pair.
fn addition(change: &Change) -> Option<(PairSet, Option<&IfName>, &PortEntry)> {
    match change {
        Change::GlobalOpened { entry } => Some((PairSet::GlobalOpen, None, entry)),
        Change::PortOpened { connection, entry } => {
            Some((PairSet::OpenPorts, Some(connection), entry))
        }
        Change::GlobalIgnored { connection, entry } => {
            Some((PairSet::IgnoredPorts, Some(connection), entry))
        }
        _ => None,
    }
}
