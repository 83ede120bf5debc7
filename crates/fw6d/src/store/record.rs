//! Writing effective changes: one intent write and one audit row per change. Every statement
//! addresses a row by its primary key, so a call costs the same with 10 or 100,000 stored
//! entries. Statements are cached per connection, so nothing is parsed per call.

use fw6_model::{Change, IfName, LogSettings, PortEntry};
use rusqlite::{Connection, params};

use super::audit::{self, AuditRow};
use super::{Provenance, StoreError};

/// The three pair tables.
#[derive(Clone, Copy)]
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

    /// The insert (constant text: the statement cache hashes it on every call).
    const fn insert_sql(self) -> &'static str {
        match self {
            Self::GlobalOpen => {
                "INSERT INTO global_open (port, protocol, name, uid, pid, executable, sender, \
                 created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            }
            Self::OpenPorts => {
                "INSERT INTO open_ports (connection, port, protocol, name, uid, pid, \
                 executable, sender, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            }
            Self::IgnoredPorts => {
                "INSERT INTO ignored_ports (connection, port, protocol, name, uid, pid, \
                 executable, sender, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            }
        }
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

/// Where and when a change is written: the open transaction, the caller, the clock reading
/// shared by every row of one call, and the connections whose row already exists.
pub(crate) struct Writer<'a> {
    pub conn: &'a Connection,
    pub member: &'a str,
    pub who: &'a Provenance,
    pub now: i64,
    pub connections: &'a mut Vec<IfName>,
}

impl Writer<'_> {
    /// Persists one change and its audit rows.
    pub fn change(&mut self, change: &Change) -> Result<(), StoreError> {
        match change {
            Change::GlobalOpened { entry } => self.insert(PairSet::GlobalOpen, None, entry),
            Change::GlobalClosed { entry } => self.delete(PairSet::GlobalOpen, None, entry),
            Change::PortOpened { connection, entry } => {
                self.insert(PairSet::OpenPorts, Some(connection), entry)
            }
            Change::PortClosed { connection, entry } => {
                self.delete(PairSet::OpenPorts, Some(connection), entry)
            }
            Change::GlobalIgnored { connection, entry } => {
                self.insert(PairSet::IgnoredPorts, Some(connection), entry)
            }
            Change::GlobalObserved { connection, entry } => {
                self.delete(PairSet::IgnoredPorts, Some(connection), entry)
            }
            Change::FirewallEnabled { connection } => self.firewalled(connection, true),
            Change::FirewallDisabled { connection } => self.firewalled(connection, false),
            Change::Logging { from, to } => self.logging(from, to),
        }
    }

    /// Adds a pair. A plain `INSERT`: the model only reports a pair as opened when it was not
    /// there, so a primary-key conflict means store and memory disagree and must fail the call.
    fn insert(
        &mut self,
        set: PairSet,
        connection: Option<&IfName>,
        entry: &PortEntry,
    ) -> Result<(), StoreError> {
        let table = set.table();
        let member = self.member;
        let op = || format!("record {member} (add to {table})");
        let who = self.who;
        let (port, protocol, name) = (
            entry.port.get(),
            entry.protocol.number(),
            entry.name.as_str(),
        );
        if let Some(connection) = connection {
            self.ensure_connection(connection)?;
            self.conn
                .prepare_cached(set.insert_sql())
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        connection.as_str(),
                        port,
                        protocol,
                        name,
                        who.uid,
                        who.pid,
                        who.executable,
                        who.sender,
                        self.now
                    ])
                })
                .map_err(|e| StoreError::sqlite(op(), e))?;
        } else {
            self.conn
                .prepare_cached(set.insert_sql())
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        port,
                        protocol,
                        name,
                        who.uid,
                        who.pid,
                        who.executable,
                        who.sender,
                        self.now
                    ])
                })
                .map_err(|e| StoreError::sqlite(op(), e))?;
        }
        self.audit(table, connection, Some(entry), None, Some(name.to_owned()))
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
        if removed != 1 {
            let on = connection.map_or_else(String::new, |c| format!(" on {c}"));
            return Err(StoreError::OutOfStep(format!(
                "{} removes {} from {table}{on}, but the store does not hold it",
                self.member,
                entry.key()
            )));
        }
        let old = Some(entry.name.as_str().to_owned());
        self.audit(table, connection, Some(entry), old, None)
    }

    /// Sets a connection's flag, creating its row if needed.
    fn firewalled(&self, connection: &IfName, on: bool) -> Result<(), StoreError> {
        let who = self.who;
        self.conn
            .prepare_cached(
                "INSERT INTO connections (name, firewalled, uid, pid, executable, sender, changed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO UPDATE SET \
                 firewalled = excluded.firewalled, uid = excluded.uid, pid = excluded.pid, \
                 executable = excluded.executable, sender = excluded.sender, \
                 changed = excluded.changed",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    connection.as_str(),
                    on,
                    who.uid,
                    who.pid,
                    who.executable,
                    who.sender,
                    self.now
                ])
            })
            .map_err(|e| StoreError::sqlite(format!("record {} (firewalled)", self.member), e))?;
        self.audit(
            "firewalled",
            Some(connection),
            None,
            Some((!on).to_string()),
            Some(on.to_string()),
        )
    }

    /// Gives a connection its row when a pair is first stored for it. The model creates a
    /// firewalled configuration in that case and keeps it after the last pair goes, so the row
    /// stays too, and loading yields the same set of connections.
    fn ensure_connection(&mut self, connection: &IfName) -> Result<(), StoreError> {
        if self.connections.contains(connection) {
            return Ok(());
        }
        self.connections.push(connection.clone());
        let who = self.who;
        self.conn
            .prepare_cached(
                "INSERT INTO connections (name, firewalled, uid, pid, executable, sender, changed) \
                 VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    connection.as_str(),
                    who.uid,
                    who.pid,
                    who.executable,
                    who.sender,
                    self.now
                ])
            })
            .map(drop)
            .map_err(|e| StoreError::sqlite(format!("record {} (connection)", self.member), e))
    }

    /// Stores the new settings and audits each setting that differs, by its column name.
    fn logging(&self, from: &LogSettings, to: &LogSettings) -> Result<(), StoreError> {
        let who = self.who;
        self.conn
            .prepare_cached(
                "INSERT INTO settings (id, log_dropped_packets, log_connections, logfile_path, \
                 logfile_maximum_size, uid, pid, executable, sender, changed) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO UPDATE SET \
                 log_dropped_packets = excluded.log_dropped_packets, \
                 log_connections = excluded.log_connections, \
                 logfile_path = excluded.logfile_path, \
                 logfile_maximum_size = excluded.logfile_maximum_size, uid = excluded.uid, \
                 pid = excluded.pid, executable = excluded.executable, sender = excluded.sender, \
                 changed = excluded.changed",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    to.log_dropped_packets,
                    to.log_connections,
                    to.logfile_path,
                    to.logfile_maximum_size.kib(),
                    who.uid,
                    who.pid,
                    who.executable,
                    who.sender,
                    self.now
                ])
            })
            .map_err(|e| StoreError::sqlite(format!("record {} (settings)", self.member), e))?;
        for (what, old, new) in audit::setting_diffs(from, to) {
            self.audit(what, None, None, Some(old), Some(new))?;
        }
        Ok(())
    }

    fn audit(
        &self,
        what: &str,
        connection: Option<&IfName>,
        entry: Option<&PortEntry>,
        old: Option<String>,
        new: Option<String>,
    ) -> Result<(), StoreError> {
        audit::insert(
            self.conn,
            &AuditRow {
                time: self.now,
                who: self.who,
                member: self.member,
                what,
                connection,
                key: entry.map(PortEntry::key),
                old,
                new,
            },
        )
    }
}
