//! Store errors. Each says which operation failed and keeps `SQLite`'s own words, because the API
//! reports a store failure as `Fail` with this text (docs/design.md §4) and an administrator must
//! be able to act on it ("database or disk is full", "attempt to write a readonly database").

use std::io;
use std::path::PathBuf;

use rusqlite::ErrorCode;

/// A failure of the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `SQLite` refused an operation. The message repeats `SQLite`'s text so that callers who only
    /// print `Display` (the D-Bus `Fail` reply) still carry it.
    #[error("store: {operation} failed: {source}")]
    Sqlite {
        /// What the store was doing, e.g. "commit" or "record `OpenPort` (`PortOpened`)".
        operation: String,
        /// `SQLite`'s error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer fw6d whose schema this build does not know.
    #[error("store: schema version {found} is newer than the newest this fw6d knows ({known})")]
    FutureVersion {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build migrates to.
        known: i64,
    },
    /// The file does not start with the `SQLite` header.
    #[error("store: {} is not a database: it lacks the SQLite header", .0.display())]
    NotADatabase(PathBuf),
    /// A stored row holds a value the model rejects, or a table does not have the expected shape.
    #[error("store: invalid row in {table}: {reason}")]
    InvalidRow {
        /// The table the row came from.
        table: &'static str,
        /// Why it was rejected, in the model's or `SQLite`'s words.
        reason: String,
    },
    /// A recorded change does not match what is stored (a removal found nothing to remove), so
    /// the in-memory state and the store disagree. The transaction must be rolled back.
    #[error("store: out of step with the in-memory state: {0}")]
    OutOfStep(String),
    /// `PRAGMA integrity_check` reported problems.
    #[error("store: integrity check failed: {0}")]
    Integrity(String),
    /// A file-system operation around the database failed (creating its directory, moving a
    /// damaged file aside).
    #[error("store: {operation} {path}: {source}")]
    Io {
        /// What the store was doing.
        operation: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    /// Wraps a `SQLite` error with the operation that failed.
    pub(crate) fn sqlite(operation: impl Into<String>, source: rusqlite::Error) -> Self {
        Self::Sqlite {
            operation: operation.into(),
            source,
        }
    }

    /// True when the file itself is unusable (not a database, corrupt, from the future, holding
    /// rows the model rejects), so moving it aside and starting fresh is the right response.
    /// Environmental failures (permissions, I/O, a full disk, a lock held elsewhere) are not
    /// damage: moving the file would lose good data for a problem that a retry or an
    /// administrator can fix.
    pub(crate) fn is_damage(&self) -> bool {
        match self {
            Self::NotADatabase(_)
            | Self::FutureVersion { .. }
            | Self::InvalidRow { .. }
            | Self::Integrity(_) => true,
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
            ),
            Self::OutOfStep(_) | Self::Io { .. } => false,
        }
    }
}

/// Classifies an error met while reading the stored intent. Environmental failures stay
/// `Sqlite`; anything else (a missing table or column, a value of the wrong type) means the file
/// does not hold what its schema version promises, which is damage.
pub(crate) fn load_error(table: &'static str, source: rusqlite::Error) -> StoreError {
    let environmental = matches!(
        source.sqlite_error_code(),
        Some(
            ErrorCode::PermissionDenied
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::OutOfMemory
                | ErrorCode::OperationInterrupted
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
                | ErrorCode::FileLockingProtocolFailed
                | ErrorCode::NoLargeFileSupport
        )
    );
    let damage = matches!(
        source.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    );
    if environmental || damage {
        StoreError::sqlite(format!("load {table}"), source)
    } else {
        StoreError::InvalidRow {
            table,
            reason: source.to_string(),
        }
    }
}
