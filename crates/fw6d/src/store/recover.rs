//! Moving a damaged database aside. The file is renamed, never deleted, so an administrator can
//! inspect or restore it; its `-wal` and `-shm` companions move with it, because the WAL may hold
//! committed transactions that belong to the main file.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::StoreError;

/// The first 16 bytes of every `SQLite` 3 database.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Refuses a non-empty file that does not start with the `SQLite` header, before `SQLite` sees it.
/// `SQLite` would report "file is not a database" too, but only after treating a `-wal` beside it
/// as its own and deleting it when the connection closes; checking first keeps that file intact
/// for the move aside. A missing or empty file is a new database.
pub(crate) fn check_header(path: &Path) -> Result<(), StoreError> {
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    let read = File::open(path).and_then(|file| {
        file.take(SQLITE_HEADER.len() as u64)
            .read_to_end(&mut header)
    });
    match read {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            operation: "read the header of",
            path: path.to_owned(),
            source,
        }),
        Ok(0) => Ok(()),
        Ok(_) if header == SQLITE_HEADER => Ok(()),
        Ok(_) => Err(StoreError::NotADatabase(path.to_owned())),
    }
}

/// Renames `path` (and its `-wal`/`-shm`) to `<path>.corrupt-<unix time>`, adding `.1`, `.2`, …
/// if that name is taken, so an earlier moved-aside file is never overwritten. Returns the new
/// path of the main file.
pub(crate) fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = with_suffix(path, &format!(".corrupt-{secs}"));
    let mut target = base.clone();
    let mut n = 0;
    while exists(&target) || exists(&with_suffix(&target, "-wal")) {
        n += 1;
        target = with_suffix(&base, &format!(".{n}"));
    }
    // Companions first: if the main file stayed behind without its WAL, SQLite would open it
    // alone; if a WAL stayed behind beside a fresh empty database, SQLite would delete it.
    for companion in ["-wal", "-shm"] {
        let from = with_suffix(path, companion);
        if exists(&from) {
            rename(&from, &with_suffix(&target, companion))?;
        }
    }
    rename(path, &target)?;
    Ok(target)
}

fn rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    fs::rename(from, to).map_err(|source| StoreError::Io {
        operation: "move damaged database aside",
        path: from.to_owned(),
        source,
    })
}

/// True if the database and its `-wal`/`-shm` (those that exist) can be opened for writing:
/// not immutable, not on a read-only mount, permitted.
pub(crate) fn writable(path: &Path) -> bool {
    ["", "-wal", "-shm"].iter().all(|suffix| {
        let file = with_suffix(path, suffix);
        !exists(&file) || fs::OpenOptions::new().write(true).open(&file).is_ok()
    })
}

/// True if anything (even a dangling symlink) is at `path`.
fn exists(path: &Path) -> bool {
    !matches!(fs::symlink_metadata(path), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// `path` with `suffix` appended to its last component, the way `SQLite` names `-wal` files.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
