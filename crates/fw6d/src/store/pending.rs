//! The pending confirmable change (docs/design.md §5 "Confirm-or-revert"): at most one row,
//! written in the transaction that applies the change and deleted in the one that reverts it (or
//! on its own when it is confirmed), so a crash can never leave a change without its way back or
//! a way back without its change. It holds the change's effective changes as JSON: the inverse
//! batch is derived from them (`fw6_model::pending::undo`) when the deadline comes, and the
//! forward mutations (what `Confirm` is authorized against) likewise.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fw6_model::Change;
use fw6_model::pending::Token;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::StoreError;

/// A pending change as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    /// Its token.
    pub token: Token,
    /// When it is reverted unless confirmed (wall clock: it must survive a restart).
    pub deadline: SystemTime,
    /// The uid of the caller who made it.
    pub uid: u32,
    /// Its effective changes, in order.
    pub changes: Vec<Change>,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes `record`, replacing any row.
pub(crate) fn set(conn: &Connection, record: &PendingRecord) -> Result<(), StoreError> {
    let changes = serde_json::to_string(&record.changes).map_err(|e| StoreError::InvalidRow {
        table: "pending",
        reason: e.to_string(),
    })?;
    conn.prepare_cached(
        "INSERT INTO pending (id, token, deadline, uid, changes) VALUES (1, ?1, ?2, ?3, ?4) \
         ON CONFLICT (id) DO UPDATE SET token = excluded.token, deadline = excluded.deadline, \
         uid = excluded.uid, changes = excluded.changes",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            record.token.as_str(),
            millis(record.deadline),
            record.uid,
            changes
        ])
    })
    .map(drop)
    .map_err(|e| StoreError::sqlite("record the pending change", e))
}

/// Deletes the row, if any.
pub(crate) fn clear(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM pending")
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(|e| StoreError::sqlite("clear the pending change", e))
}

/// The row, if any.
pub(crate) fn get(conn: &Connection) -> Result<Option<PendingRecord>, StoreError> {
    let row: Option<(String, i64, u32, String)> = conn
        .prepare_cached("SELECT token, deadline, uid, changes FROM pending WHERE id = 1")
        .and_then(|mut stmt| {
            stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()
        })
        .map_err(|e| StoreError::sqlite("read the pending change", e))?;
    let Some((token, deadline, uid, changes)) = row else {
        return Ok(None);
    };
    let invalid = |reason: String| StoreError::InvalidRow {
        table: "pending",
        reason,
    };
    let token = Token::try_from(token.as_str()).map_err(|e| invalid(e.to_string()))?;
    let changes: Vec<Change> =
        serde_json::from_str(&changes).map_err(|e| invalid(e.to_string()))?;
    let deadline = UNIX_EPOCH + Duration::from_millis(u64::try_from(deadline).unwrap_or(0));
    Ok(Some(PendingRecord {
        token,
        deadline,
        uid,
        changes,
    }))
}
