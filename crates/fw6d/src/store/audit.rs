//! The audit trail: one row per effective change, naming who asked, through which member, what
//! changed from what to what, and when. Rows are appended, and the oldest pruned once there are
//! more than `audit_max_rows` (fw6d.toml), in the transaction that went over.
//!
//! `what` uses the store's own nouns: the pair table (`global_open`, `open_ports`,
//! `ignored_ports`), `firewalled`, or a settings column (`log_dropped_packets`,
//! `log_connections`, `logfile_path`, `logfile_maximum_size`). `old`/`new` are text: a pair's name
//! (absent = `NULL`, so an empty name stays distinguishable), `true`/`false` for switches, the
//! path, or the size in KiB.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fw6_model::{IfName, LogSettings, PortKey};
use rusqlite::{Connection, Row};

use super::{Provenance, StoreError, rows};

/// One audit row, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing with every row; newest is largest.
    pub id: i64,
    /// When the change was recorded.
    pub time: SystemTime,
    /// Who asked.
    pub who: Provenance,
    /// The ICF member called, e.g. `OpenPort`.
    pub member: String,
    /// What changed: a pair table, `firewalled`, or a settings column.
    pub what: String,
    /// The connection concerned, if any.
    pub connection: Option<String>,
    /// The pair concerned, if any.
    pub key: Option<PortKey>,
    /// The value before (`None`: the pair was absent).
    pub old: Option<String>,
    /// The value after (`None`: the pair is gone).
    pub new: Option<String>,
}

/// A row to append.
pub(crate) struct AuditRow<'a> {
    pub call: i64,
    pub member: &'a str,
    pub what: &'a str,
    pub connection: Option<&'a IfName>,
    pub key: Option<PortKey>,
    pub old: Option<&'a str>,
    pub new: Option<&'a str>,
}

/// Appends `rows`, [`rows::ROWS`] per statement.
pub(crate) fn insert(conn: &Connection, audit: &[AuditRow<'_>]) -> Result<(), StoreError> {
    const INTO: &str = "audit (call, member, what, connection, port, protocol, old, new)";
    const WIDTH: usize = 8;
    static SQL: LazyLock<(String, String)> = LazyLock::new(|| {
        (
            rows::insert_sql(INTO, WIDTH, rows::ROWS),
            rows::insert_sql(INTO, WIDTH, 1),
        )
    });
    let member = audit.first().map_or("", |row| row.member);
    rows::insert(conn, (&SQL.0, &SQL.1), WIDTH, audit, |stmt, i, row| {
        stmt.raw_bind_parameter(i, row.call)?;
        stmt.raw_bind_parameter(i + 1, row.member)?;
        stmt.raw_bind_parameter(i + 2, row.what)?;
        stmt.raw_bind_parameter(i + 3, row.connection.map(IfName::as_str))?;
        stmt.raw_bind_parameter(i + 4, row.key.map(|k| k.port.get()))?;
        stmt.raw_bind_parameter(i + 5, row.key.map(|k| k.protocol.number()))?;
        stmt.raw_bind_parameter(i + 6, row.old)?;
        stmt.raw_bind_parameter(i + 7, row.new)
    })
    .map_err(|e| StoreError::sqlite(format!("record {member} (audit)"), e))
}

/// The default of `audit_max_rows`: months of an administrator's changes, a few MiB of store.
pub const DEFAULT_AUDIT_MAX_ROWS: u64 = 100_000;

/// Deletes the oldest audit rows when there are more than `max_rows` (0: no limit), down to
/// nine tenths of it, so the deletion (and the scan for `calls` rows nothing names any more)
/// happens once per tenth of the limit, not on every commit. A `calls` row is deleted only
/// when neither an audit row nor an entry or setting names it (entries keep who made them).
/// Returns the audit rows deleted.
pub(crate) fn prune(conn: &Connection, max_rows: u64) -> Result<u64, StoreError> {
    let fail = |e| StoreError::sqlite("prune the audit trail", e);
    if max_rows == 0 {
        return Ok(0);
    }
    // Rows are only deleted from the oldest end, so ids are contiguous and the span is the
    // count (`count(*)` would scan the table). One aggregate per SELECT: SQLite answers a lone
    // min() or max() from the index, but `SELECT min(id), max(id)` scans.
    let (first, last): (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT (SELECT min(id) FROM audit), (SELECT max(id) FROM audit)")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(fail)?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(0);
    };
    let max = i64::try_from(max_rows).unwrap_or(i64::MAX);
    if last - first < max {
        return Ok(0);
    }
    let keep = (max - max / 10).max(1);
    let deleted = conn
        .prepare_cached("DELETE FROM audit WHERE id <= ?1")
        .and_then(|mut s| s.execute([last - keep]))
        .map_err(fail)?;
    conn.prepare_cached(
        "DELETE FROM calls WHERE id < (SELECT call FROM audit ORDER BY id LIMIT 1) \
         AND id NOT IN (SELECT call FROM settings UNION SELECT call FROM connections \
         UNION SELECT call FROM global_open UNION SELECT call FROM open_ports \
         UNION SELECT call FROM ignored_ports)",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(fail)?;
    Ok(deleted as u64)
}

/// The newest `limit` rows, newest first.
pub(crate) fn newest(conn: &Connection, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
    since(conn, i64::MIN, limit)
}

/// The newest `limit` rows recorded at or after `since_millis` (ms since the Unix epoch),
/// newest first.
pub(crate) fn since(
    conn: &Connection,
    since_millis: i64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, c.time, c.uid, c.pid, c.executable, c.sender, a.member, a.what, \
             a.connection, a.port, a.protocol, a.old, a.new \
             FROM audit a JOIN calls c ON c.id = a.call WHERE c.time >= ?2 \
             ORDER BY a.id DESC LIMIT ?1",
        )
        .map_err(|e| StoreError::sqlite("read audit", e))?;
    let rows = stmt
        .query_map([limit, since_millis], read_row)
        .map_err(|e| StoreError::sqlite("read audit", e))?;
    let mut records = Vec::new();
    for row in rows {
        let (record, raw_key) = row.map_err(|e| StoreError::sqlite("read audit", e))?;
        let key = match raw_key {
            Some((port, protocol)) => {
                Some(
                    PortKey::from_raw(port, protocol).map_err(|e| StoreError::InvalidRow {
                        table: "audit",
                        reason: e.to_string(),
                    })?,
                )
            }
            None => None,
        };
        records.push(AuditRecord { key, ..record });
    }
    Ok(records)
}

/// One row, with the pair still raw so the model can validate it.
fn read_row(row: &Row<'_>) -> rusqlite::Result<(AuditRecord, Option<(u32, u32)>)> {
    let millis: i64 = row.get(1)?;
    let time =
        u64::try_from(millis).map_or(UNIX_EPOCH, |ms| UNIX_EPOCH + Duration::from_millis(ms));
    let port: Option<u32> = row.get(9)?;
    let protocol: Option<u32> = row.get(10)?;
    let record = AuditRecord {
        id: row.get(0)?,
        time,
        who: Provenance {
            uid: row.get(2)?,
            pid: row.get(3)?,
            executable: row.get(4)?,
            sender: row.get(5)?,
        },
        member: row.get(6)?,
        what: row.get(7)?,
        connection: row.get(8)?,
        key: None,
        old: row.get(11)?,
        new: row.get(12)?,
    };
    Ok((record, port.zip(protocol)))
}

/// Each setting that differs between `from` and `to`, as (column, old, new).
pub(crate) fn setting_diffs(
    from: &LogSettings,
    to: &LogSettings,
) -> Vec<(&'static str, String, String)> {
    let mut diffs = Vec::new();
    let mut diff = |what, old: String, new: String| {
        if old != new {
            diffs.push((what, old, new));
        }
    };
    diff(
        "log_dropped_packets",
        from.log_dropped_packets.to_string(),
        to.log_dropped_packets.to_string(),
    );
    diff(
        "log_connections",
        from.log_connections.to_string(),
        to.log_connections.to_string(),
    );
    diff(
        "logfile_path",
        from.logfile_path.clone(),
        to.logfile_path.clone(),
    );
    diff(
        "logfile_maximum_size",
        from.logfile_maximum_size.kib().to_string(),
        to.logfile_maximum_size.kib().to_string(),
    );
    diffs
}

/// Milliseconds since the Unix epoch, the unit of every time column. A clock before 1970 is
/// stored as 0 rather than failing a call.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
