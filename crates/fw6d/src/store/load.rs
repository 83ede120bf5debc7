//! Reading the stored intent back into a [`State`]. The state is rebuilt through the model's own
//! operations (`State::replay`, and `State::apply` for settings so the log path is validated), so
//! what comes out is exactly what the model would hold, and every stored value passes the same
//! validation as an API argument: a row the model rejects marks the file as damaged.

use fw6_model::{
    Change, EntryName, IfName, Lease, LogfileMaximumSize, Mutation, Owner, PortEntry, PortKey,
    State,
};
use rusqlite::{Connection, Row};

use super::StoreError;
use super::error::load_error;

/// Builds the state the store holds.
pub(crate) fn load(conn: &Connection) -> Result<State, StoreError> {
    let mut state = State::default();
    load_settings(conn, &mut state)?;
    // Connections first: a connection row exists for every configured connection, including
    // those with no flag change and no pairs left, so the loaded map has the same keys.
    for_each(
        conn,
        "connections",
        "SELECT name, firewalled FROM connections",
        |row| {
            let connection = ifname("connections", row.get(0)?)?;
            Ok(if row.get::<_, bool>(1)? {
                Change::FirewallEnabled { connection }
            } else {
                Change::FirewallDisabled { connection }
            })
        },
        &mut state,
    )?;
    for_each(
        conn,
        "global_open",
        "SELECT g.port, g.protocol, g.name, l.expires, l.owner_bus, l.owner_name, l.owner_pid, \
         l.owner_command FROM global_open g LEFT JOIN leases l \
         ON l.connection = '' AND l.port = g.port AND l.protocol = g.protocol",
        |row| {
            Ok(Change::GlobalOpened {
                entry: leased(entry("global_open", row, 0)?, row, 3)?,
            })
        },
        &mut state,
    )?;
    for_each(
        conn,
        "open_ports",
        "SELECT o.connection, o.port, o.protocol, o.name, l.expires, l.owner_bus, l.owner_name, \
         l.owner_pid, l.owner_command FROM open_ports o LEFT JOIN leases l \
         ON l.connection = o.connection AND l.port = o.port AND l.protocol = o.protocol",
        |row| {
            Ok(Change::PortOpened {
                connection: ifname("open_ports", row.get(0)?)?,
                entry: leased(entry("open_ports", row, 1)?, row, 4)?,
            })
        },
        &mut state,
    )?;
    for_each(
        conn,
        "ignored_ports",
        "SELECT connection, port, protocol, name FROM ignored_ports",
        |row| {
            Ok(Change::GlobalIgnored {
                connection: ifname("ignored_ports", row.get(0)?)?,
                entry: entry("ignored_ports", row, 1)?,
            })
        },
        &mut state,
    )?;
    Ok(state)
}

/// The settings row, if any, applied as the four property writes an administrator would make.
fn load_settings(conn: &Connection, state: &mut State) -> Result<(), StoreError> {
    const TABLE: &str = "settings";
    let mut stmt = conn
        .prepare(
            "SELECT log_dropped_packets, log_connections, logfile_path, logfile_maximum_size \
             FROM settings WHERE id = 1",
        )
        .map_err(|e| load_error(TABLE, e))?;
    let mut rows = stmt.query([]).map_err(|e| load_error(TABLE, e))?;
    let Some(row) = rows.next().map_err(|e| load_error(TABLE, e))? else {
        return Ok(());
    };
    let read = |row: &Row<'_>| -> rusqlite::Result<(bool, bool, String, u32)> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    };
    let (dropped, connections, path, kib) = read(row).map_err(|e| load_error(TABLE, e))?;
    let kib = LogfileMaximumSize::try_from(kib).map_err(|e| invalid(TABLE, &e))?;
    for mutation in [
        Mutation::SetLogDroppedPackets { enabled: dropped },
        Mutation::SetLogConnections {
            enabled: connections,
        },
        Mutation::SetLogfilePath { path },
        Mutation::SetLogfileMaximumSize { kib },
    ] {
        state.apply(&mutation).map_err(|e| invalid(TABLE, &e))?;
    }
    Ok(())
}

/// Runs `sql` and replays the change each row describes.
fn for_each(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    change: impl Fn(&Row<'_>) -> Result<Change, RowError>,
    state: &mut State,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(sql).map_err(|e| load_error(table, e))?;
    let mut rows = stmt.query([]).map_err(|e| load_error(table, e))?;
    while let Some(row) = rows.next().map_err(|e| load_error(table, e))? {
        match change(row) {
            Ok(change) => state.replay(&change),
            Err(RowError::Sql(e)) => return Err(load_error(table, e)),
            Err(RowError::Invalid(e)) => return Err(e),
        }
    }
    Ok(())
}

/// Why one row could not become a change: `SQLite` could not read it, or the model rejects it.
enum RowError {
    Sql(rusqlite::Error),
    Invalid(StoreError),
}

impl From<rusqlite::Error> for RowError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

/// A pair entry stored as `port, protocol, name` starting at column `first`.
fn entry(table: &'static str, row: &Row<'_>, first: usize) -> Result<PortEntry, RowError> {
    let key = PortKey::from_raw(row.get(first)?, row.get(first + 1)?)
        .map_err(|e| RowError::Invalid(invalid(table, &e)))?;
    let name = EntryName::try_from(row.get::<_, String>(first + 2)?)
        .map_err(|e| RowError::Invalid(invalid(table, &e)))?;
    Ok(PortEntry::new(key, name))
}

/// `entry` with the lease stored as `expires, owner_bus, owner_name, owner_pid, owner_command`
/// from column `first` on (all NULL: no lease).
fn leased(mut entry: PortEntry, row: &Row<'_>, first: usize) -> Result<PortEntry, RowError> {
    let expires: Option<i64> = row.get(first)?;
    let name: Option<String> = row.get(first + 2)?;
    let owner = match name {
        Some(name) => Some(Owner {
            bus: row.get::<_, Option<String>>(first + 1)?.unwrap_or_default(),
            name,
            pid: row.get::<_, Option<u32>>(first + 3)?.unwrap_or(0),
            command: row.get::<_, Option<String>>(first + 4)?.unwrap_or_default(),
        }),
        None => None,
    };
    let expires = expires.and_then(|at| u64::try_from(at).ok());
    if expires.is_some() || owner.is_some() {
        entry.lease = Some(Lease { expires, owner });
    }
    Ok(entry)
}

fn ifname(table: &'static str, name: String) -> Result<IfName, RowError> {
    IfName::try_from(name).map_err(|e| RowError::Invalid(invalid(table, &e)))
}

fn invalid(table: &'static str, error: &fw6_model::Error) -> StoreError {
    StoreError::InvalidRow {
        table,
        reason: error.to_string(),
    }
}
