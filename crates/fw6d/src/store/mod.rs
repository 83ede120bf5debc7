//! The durable store: the configured intent (settings, connections, the three pair sets, each
//! entry with who created it) and an audit trail, in `SQLite` (docs/design.md §5 "Store").
//!
//! It holds intent, never the generated ruleset: the ruleset is derived from the loaded [`State`]
//! on every start. Each API call or batch is one transaction, and a transaction dropped without
//! [`StoreTx::commit`] leaves nothing behind, so what was not acknowledged leaves no trace after a
//! restart (docs/design.md §1.2). A file that cannot be used is moved aside, never deleted, and the
//! daemon starts from an empty state and says so (docs/design.md §1.3).

mod audit;
mod error;
mod load;
mod migrations;
mod pending;
mod provenance;
mod record;
mod recover;
mod rows;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fw6_model::{Change, IfName, State};
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use audit::{AuditRecord, DEFAULT_AUDIT_MAX_ROWS};
pub use error::StoreError;
pub use migrations::SCHEMA_VERSION;
pub use pending::PendingRecord;
pub use provenance::Provenance;

/// How long a statement waits for a lock held by another connection (an administrator's
/// `sqlite3` shell, a backup) before failing the call with `SQLite`'s "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements cached per connection: every statement the store runs fits, so no call re-parses
/// SQL.
const STATEMENT_CACHE: usize = 32;
/// `SQLite`'s page cache per connection, in KiB (`SQLite`'s own default is about 2 MiB). The store
/// is read whole at start-up and a commit writes a few pages, so a small cache costs little; and
/// it bounds what the store keeps in fw6d's memory, which otherwise grows with every commit
/// until the default cache is full, long after start-up.
const PAGE_CACHE_KIB: i64 = 256;

/// The open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The file could not be reopened: `conn` is a placeholder that refuses every write.
    detached: bool,
    /// Audit rows kept (0: all).
    audit_max_rows: u64,
}

/// How [`Store::open`] found the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The file existed and was loaded.
    Existing,
    /// There was no file; an empty one was created. The caller seeds first-start defaults.
    Fresh,
    /// The file was unusable; it now lives at `moved_to` and an empty store replaced it.
    Recovered {
        /// Where the old file (and its `-wal`/`-shm`) now is.
        moved_to: PathBuf,
        /// Why it was unusable, in `SQLite`'s or the model's words.
        reason: String,
    },
}

impl Store {
    /// Opens or creates the database: WAL, `synchronous=FULL`, foreign keys, busy timeout; applies
    /// migrations; loads the intent.
    ///
    /// A file that is not a database, is corrupt, comes from a newer fw6d or holds rows the model
    /// rejects is moved to `<path>.corrupt-<unix time>` (with its `-wal`/`-shm`) and a fresh store
    /// is created: [`Opened::Recovered`]. Environmental failures (permissions, I/O errors, a lock
    /// held elsewhere) are returned as errors and the file is left alone.
    pub fn open(path: &Path) -> Result<(Self, State, Opened), StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                operation: "create the store directory",
                path: dir.to_owned(),
                source,
            })?;
        }
        let existed = fs::symlink_metadata(path).is_ok();
        match Self::open_file(path) {
            Ok((store, state)) => {
                let opened = if existed {
                    Opened::Existing
                } else {
                    Opened::Fresh
                };
                Ok((store, state, opened))
            }
            Err(damage) if existed && damage.is_damage() => {
                let reason = damage.to_string();
                let moved_to = recover::move_aside(path)?;
                tracing::error!(
                    path = %path.display(),
                    moved_to = %moved_to.display(),
                    %reason,
                    "the store was unusable: moved it aside and started from an empty state"
                );
                let (store, state) = Self::open_file(path)?;
                Ok((store, state, Opened::Recovered { moved_to, reason }))
            }
            Err(e) => Err(e),
        }
    }

    fn open_file(path: &Path) -> Result<(Self, State), StoreError> {
        recover::check_header(path)?;
        let mut conn = Self::connect(path)?;
        migrations::migrate(&mut conn)?;
        let state = load::load(&conn)?;
        Ok((
            Self {
                conn,
                path: path.to_owned(),
                detached: false,
                audit_max_rows: DEFAULT_AUDIT_MAX_ROWS,
            },
            state,
        ))
    }

    /// A configured connection to `path`.
    fn connect(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::sqlite("open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StoreError::sqlite("set busy timeout", e))?;
        // The first statement reads the header, so a file that is not a database fails here.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(|e| StoreError::sqlite("enable WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), %mode, "store could not switch to WAL");
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .and_then(|()| conn.pragma_update(None, "foreign_keys", true))
            .and_then(|()| conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB))
            .map_err(|e| StoreError::sqlite("configure connection", e))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// `SQLite` opens a file it cannot write (an immutable file, a read-only mount) read-only,
    /// and that connection, and any other on the same file while it is open (they share the
    /// `-shm` index), stays read-only after the file becomes writable again. So before a write,
    /// once the files can be written again, the read-only connection is closed and a fresh one
    /// opened. Otherwise nothing changes and the write fails with `SQLite`'s "attempt to write a
    /// readonly database", as it should.
    fn reopen_if_read_only(&mut self) {
        if !self.detached {
            let read_only = self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false);
            if !read_only || !recover::writable(&self.path) {
                return;
            }
        }
        // The old connection must be closed first, or the new one shares its read-only index.
        drop(std::mem::replace(&mut self.conn, detached()));
        match Self::connect(&self.path) {
            Ok(conn) => {
                tracing::info!(path = %self.path.display(), "reopened the store: it is writable again");
                self.conn = conn;
                self.detached = false;
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), %e, "cannot reopen the store");
                self.detached = true;
            }
        }
    }

    /// Starts the transaction of one API call or batch. It takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a conflict shows up here, not at commit; dropping it without
    /// [`StoreTx::commit`] rolls everything back.
    pub fn transaction(&mut self) -> Result<StoreTx<'_>, StoreError> {
        self.reopen_if_read_only();
        Transaction::new(&mut self.conn, TransactionBehavior::Immediate)
            .map(|tx| StoreTx {
                tx,
                now: audit::now_millis(),
                call: None,
                connections: Vec::new(),
                audit_max_rows: self.audit_max_rows,
            })
            .map_err(|e| StoreError::sqlite("begin transaction", e))
    }

    /// Audit rows, newest first, at most `limit`.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        audit::newest(&self.conn, limit)
    }

    /// Audit rows recorded at or after `since` (ms since the Unix epoch), newest first, at most
    /// `limit`.
    pub fn audit_since(&self, since: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        audit::since(&self.conn, since, limit)
    }

    /// Keeps at most `rows` audit rows (0: all); see [`StoreTx::commit`]. Default
    /// [`DEFAULT_AUDIT_MAX_ROWS`].
    pub fn set_audit_max_rows(&mut self, rows: u64) {
        self.audit_max_rows = rows;
    }

    /// The pending confirmable change, if one was stored and not yet confirmed or reverted.
    pub fn pending(&self) -> Result<Option<PendingRecord>, StoreError> {
        pending::get(&self.conn)
    }

    /// `PRAGMA integrity_check`: succeeds only if `SQLite` answers exactly "ok".
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| StoreError::sqlite("integrity check", e))?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(|e| StoreError::sqlite("integrity check", e))?;
        if lines == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Integrity(lines.join("; ")))
        }
    }
}

/// A stand-in while the file cannot be reopened: an empty in-memory database that refuses
/// writes, so a call fails with `SQLite`'s "attempt to write a readonly database" until the file
/// is back, and never succeeds without reaching the disk.
fn detached() -> Connection {
    let conn = Connection::open_in_memory().expect("an in-memory SQLite database");
    let _ = conn.pragma_update(None, "query_only", true);
    conn
}

/// One open transaction.
#[derive(Debug)]
pub struct StoreTx<'a> {
    tx: Transaction<'a>,
    /// The time of every row of the transaction: one call, one moment.
    now: i64,
    /// The `calls` row written for this transaction's caller, once its first change is recorded
    /// (a no-op writes none).
    call: Option<(Provenance, i64)>,
    /// Connections whose row this transaction already ensured, so a batch of pairs on one
    /// connection costs one upsert, not one per pair.
    connections: Vec<IfName>,
    /// Audit rows kept (0: all).
    audit_max_rows: u64,
}

impl StoreTx<'_> {
    /// Persists the effective changes of one member call, plus one audit row per change (a
    /// logging change gets one row per setting that differs). Empty `changes` (a no-op call)
    /// write nothing. Who asked and when is written once per transaction (one `calls` row), and
    /// every row names it.
    ///
    /// On error the transaction holds part of the call: drop it, which rolls everything back
    /// (the engine's all-or-nothing contract needs no finer undo, and a savepoint per member
    /// cost a 10,000-item batch 10,000 savepoints).
    pub fn record(
        &mut self,
        member: &str,
        changes: &[Change],
        who: &Provenance,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let call = match &self.call {
            Some((caller, id)) if caller == who => *id,
            _ => {
                let id = record::call(&self.tx, who, self.now)?;
                self.call = Some((who.clone(), id));
                id
            }
        };
        let mut writer = record::Writer {
            conn: &self.tx,
            member,
            call,
            connections: &mut self.connections,
        };
        writer.changes(changes)
    }

    /// Stores `record` as the pending change, in this transaction (with the change it undoes).
    pub fn set_pending(&mut self, record: &PendingRecord) -> Result<(), StoreError> {
        pending::set(&self.tx, record)
    }

    /// Removes the pending change, in this transaction (with its revert, or alone on confirm).
    pub fn clear_pending(&mut self) -> Result<(), StoreError> {
        pending::clear(&self.tx)
    }

    /// Makes the transaction durable (`synchronous=FULL`: on disk when this returns). A
    /// transaction that recorded something first prunes the oldest audit rows if it took the
    /// trail past the limit, so the trail never outgrows it between two commits.
    pub fn commit(self) -> Result<(), StoreError> {
        if self.call.is_some() {
            audit::prune(&self.tx, self.audit_max_rows)?;
        }
        self.tx
            .commit()
            .map_err(|e| StoreError::sqlite("commit", e))
    }
}
