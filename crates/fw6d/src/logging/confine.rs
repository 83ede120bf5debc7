//! Where the firewall log may be written (issue 14 item 2, docs/logging.md "Where the log may
//! live"). `LogfilePath` is settable over D-Bus by whoever polkit lets change logging, and the
//! daemon runs as root: without these rules the setting would let a caller make root create,
//! append to and rename any file (the store, a file in /etc, a symlink's target).
//!
//! The rules, in the order they are checked:
//! - *lexical* (no file system access, so they run before authorization): absolute, no control
//!   characters, no `.`/`..`/`//`/trailing `/`, strictly inside a directory of
//!   `log_directories`, not inside the state directory (the store and its WAL/SHM/journal);
//! - *on disk* (after authorization, and again at every open): no symlink anywhere on the
//!   path; every directory from the allowed one down is owned by root (or by the daemon's own
//!   user) and not writable by group or others, so nobody else can swap a component between
//!   the check and the open; an existing file is a regular file with one link, not the store;
//! - *at open*: `O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK` (a FIFO planted after the check cannot
//!   block the writer), checked again with `fstat`, created 0640.
//!
//! The rules are fixed for the life of the process (the configuration is read once), so they are
//! installed once at start-up and read by both the engine (when a path is set) and the log
//! writer thread (when the file is opened), which have no other configuration in common.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt,
};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use fw6_model::Error;

/// The longest path accepted (`PATH_MAX` − 1).
const MAX_PATH_BYTES: usize = 4095;
/// Mode of a log file fw6d creates: root and the file's group (adm-style log readers).
pub const FILE_MODE: u32 = 0o640;
/// Mode of an allowed directory fw6d creates because it was missing (as the unit's
/// `LogsDirectoryMode`).
const DIR_MODE: u32 = 0o750;
/// Files of the store besides the database itself (SQLite's WAL, shared memory, journal).
const STORE_SUFFIXES: [&str; 4] = ["", "-wal", "-shm", "-journal"];

static INSTALLED: OnceLock<Arc<Confinement>> = OnceLock::new();

/// The directories the log may live in, and the store it must never touch.
#[derive(Debug, Clone)]
pub struct Confinement {
    dirs: Vec<PathBuf>,
    state_dir: PathBuf,
    store: PathBuf,
}

/// What an open produced: the file and its identity (rotation renames only this file).
#[derive(Debug)]
pub struct Opened {
    /// The file, opened for appending.
    pub file: File,
    /// `(st_dev, st_ino)` of the file.
    pub id: (u64, u64),
}

impl Confinement {
    /// The rules for `dirs`, each checked as the daemon starts: absolute and normalised, no
    /// symlink on it, owned by root and not writable by group or others (its parents too,
    /// unless sticky like /tmp). A directory that does not exist yet is created at the first
    /// open (mode 0750). The error names the directory and the rule it broke.
    pub fn new(dirs: &[PathBuf], store: &Path) -> Result<Self, String> {
        if dirs.is_empty() {
            return Err("log_directories is empty: name at least one directory, \
                 e.g. log_directories = [\"/var/log/fw6\"]"
                .into());
        }
        for dir in dirs {
            let bad = |why: String| {
                Err(format!(
                    "log_directories: {} is not usable: {why}",
                    dir.display()
                ))
            };
            let Some(text) = dir.to_str() else {
                return bad("the name is not UTF-8".into());
            };
            if let Err(why) = lexical(text) {
                return bad(why.into());
            }
            if dir == Path::new("/") {
                return bad("the root directory cannot hold the log".into());
            }
            if let Err(why) = secure_dir(dir) {
                return bad(why);
            }
        }
        Ok(Self::unchecked(dirs.to_vec(), store))
    }

    fn unchecked(dirs: Vec<PathBuf>, store: &Path) -> Self {
        Self {
            dirs,
            state_dir: store.parent().unwrap_or(Path::new("/")).to_owned(),
            store: store.to_owned(),
        }
    }

    /// Makes these the rules of the process (the daemon does this once, at start-up, before
    /// anything could read the defaults).
    pub fn install(self) -> Result<Arc<Self>, String> {
        let rules = Arc::new(self);
        INSTALLED
            .set(Arc::clone(&rules))
            .map(|()| rules)
            .map_err(|_| "the log file rules were fixed before fw6d.toml was applied".into())
    }

    /// The installed rules; before [`Confinement::install`], the defaults of an empty
    /// configuration (only `/var/log/fw6`), so nothing is ever unconfined.
    pub fn current() -> Arc<Self> {
        Arc::clone(INSTALLED.get_or_init(|| {
            let config = crate::config::Config::default();
            Arc::new(Self::unchecked(
                config.log_directories.clone(),
                &config.store_path(),
            ))
        }))
    }

    /// The rules that need no file system: what can be told from the text alone.
    pub fn check_syntax(&self, path: &str) -> Result<(), Error> {
        lexical(path).map_err(|why| self.refuse(path, why))?;
        let p = Path::new(path);
        if !self.dirs.iter().any(|dir| p.starts_with(dir) && p != dir) {
            return Err(self.refuse(path, "it is not inside an allowed directory"));
        }
        if p.starts_with(&self.state_dir) {
            return Err(self.refuse(
                path,
                "it is inside the state directory, which holds the store",
            ));
        }
        Ok(())
    }

    /// Every rule, the file system included. Nothing is created.
    pub fn check(&self, path: &str) -> Result<(), Error> {
        self.check_syntax(path)?;
        self.check_disk(Path::new(path))
            .map_err(|why| self.refuse(path, &why))
    }

    /// Opens `path` for appending after [`Confinement::check`], creating it (0640) and, if it
    /// is missing, the allowed directory that holds it (0750).
    pub fn open_append(&self, path: &Path) -> io::Result<Opened> {
        let text = path.to_str().unwrap_or("");
        self.check(text).map_err(|e| refused(&e))?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        if self.dirs.iter().any(|d| d == parent) && !exists(parent)? {
            fs::DirBuilder::new().mode(DIR_MODE).create(parent)?;
        }
        let open = |create: bool| {
            OpenOptions::new()
                .append(true)
                .create_new(create)
                .mode(FILE_MODE)
                .custom_flags(open_flags())
                .open(path)
        };
        let (file, created) = match open(true) {
            Ok(file) => (file, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (open(false)?, false),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if let Err(why) = self.usable_file(&meta) {
            return Err(refused(&self.refuse(text, &why)));
        }
        if created {
            // The umask (the unit's is 0077) must not decide who may read the log.
            file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        }
        Ok(Opened {
            file,
            id: (meta.dev(), meta.ino()),
        })
    }

    /// Whether `old` (a `<path>.old`) may be replaced by a rotation: missing, or a regular file
    /// fw6d wrote (one link, owned by us, starting with the log header). Anything else —
    /// a symlink, someone's file that happens to have the name — is left alone.
    pub fn replaceable_old(&self, old: &Path, header: &str) -> io::Result<()> {
        let meta = match fs::symlink_metadata(old) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let refuse = |why: &str| {
            Err(io::Error::other(format!(
                "will not rotate onto {}: {why}; move it away and the log resumes",
                old.display()
            )))
        };
        if let Err(why) = self.usable_file(&meta) {
            return refuse(&why);
        }
        let mut start = vec![0; header.len()];
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(open_flags())
            .open(old)?;
        let n = file.read(&mut start)?;
        if &start[..n] != header.as_bytes() || n == 0 {
            return refuse(
                "it is not a log file fw6d rotated (it does not start with fw6's header)",
            );
        }
        Ok(())
    }

    /// An existing log file (or `.old`): a regular file, one link, ours, not the store.
    fn usable_file(&self, meta: &fs::Metadata) -> Result<(), String> {
        let kind = kind(meta);
        if kind != "regular file" {
            return Err(format!("it is a {kind}, not a regular file"));
        }
        if meta.nlink() != 1 {
            return Err("the file has other hard links".into());
        }
        if !ours(meta.uid()) {
            return Err(format!("the file is owned by uid {}, not root", meta.uid()));
        }
        for suffix in STORE_SUFFIXES {
            let mut store = self.store.clone().into_os_string();
            store.push(suffix);
            if let Ok(s) = fs::metadata(&store)
                && (s.dev(), s.ino()) == (meta.dev(), meta.ino())
            {
                return Err("it is the store".into());
            }
        }
        Ok(())
    }

    fn check_disk(&self, path: &Path) -> Result<(), String> {
        let dir = self
            .dirs
            .iter()
            .filter(|d| path.starts_with(d))
            .max_by_key(|d| d.as_os_str().len())
            .expect("check_syntax found the directory");
        secure_dir(dir)?;
        // Below the allowed directory: existing directories only (the allowed one may be
        // missing; fw6d creates it), each as safe as the allowed one.
        let mut at = dir.clone();
        let below: Vec<_> = path
            .strip_prefix(dir)
            .expect("inside")
            .components()
            .collect();
        let Some((file, subdirs)) = below.split_last() else {
            return Err("it names the allowed directory itself".into());
        };
        if !subdirs.is_empty() && !exists(&at).map_err(|e| e.to_string())? {
            return Err(format!("{} does not exist", at.join(subdirs[0]).display()));
        }
        for part in subdirs {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(meta) => safe_dir(&at, &meta, false)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(format!(
                        "{} does not exist: create it first (root-owned, mode 0750)",
                        at.display()
                    ));
                }
                Err(e) => return Err(format!("cannot inspect {}: {e}", at.display())),
            }
        }
        at.push(file);
        match fs::symlink_metadata(&at) {
            Ok(meta) => self.usable_file(&meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot inspect {}: {e}", at.display())),
        }
    }

    fn refuse(&self, path: &str, why: &str) -> Error {
        let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        Error::invalid_arg(format!(
            "log file path {path:?} is refused: {why}; the log may only be written inside {} \
             (log_directories in fw6d.toml), e.g. {}/firewall.log",
            dirs.join(", "),
            dirs[0]
        ))
    }
}

/// [`Confinement::check`] with the rules `config` describes, for callers that hold a
/// configuration rather than the installed rules.
pub fn check_logfile_path(config: &crate::config::Config, path: &str) -> Result<(), Error> {
    Confinement::unchecked(config.log_directories.clone(), &config.store_path()).check(path)
}

/// The text rules shared by paths and allowed directories.
fn lexical(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("it is not an absolute path");
    }
    if path.len() > MAX_PATH_BYTES {
        return Err("it is longer than 4095 bytes");
    }
    if path.chars().any(char::is_control) {
        return Err("it contains control characters (NUL, newline, ...)");
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err("it ends with '/', naming a directory");
    }
    if path.contains("//") {
        return Err("it contains '//'");
    }
    if Path::new(path)
        .components()
        .any(|c| !matches!(c, Component::RootDir | Component::Normal(_)))
        || path.split('/').any(|part| part == "." || part == "..")
    {
        return Err("it contains '.' or '..' components");
    }
    Ok(())
}

/// `dir` and all its parents: no symlink; owned by root; `dir` not writable by group or
/// others, its parents likewise unless sticky. A missing `dir` (or missing parents) passes if
/// what exists of its parents does.
fn secure_dir(dir: &Path) -> Result<(), String> {
    let mut at = PathBuf::from("/");
    let parts: Vec<_> = dir.components().skip(1).collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) => safe_dir(&at, &meta, i + 1 < parts.len())?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot inspect {}: {e}", at.display())),
        }
    }
    Ok(())
}

fn safe_dir(at: &Path, meta: &fs::Metadata, sticky_ok: bool) -> Result<(), String> {
    let kind = kind(meta);
    if kind != "directory" {
        return Err(format!("{} is a {kind}, not a directory", at.display()));
    }
    if !ours(meta.uid()) {
        return Err(format!(
            "{} is owned by uid {}, not root",
            at.display(),
            meta.uid()
        ));
    }
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !(sticky_ok && sticky) {
        return Err(format!(
            "{} is writable by group or others (mode {:o}): make it 0755 or 0750",
            at.display(),
            mode & 0o7777
        ));
    }
    Ok(())
}

/// Root, or the daemon's own user (a daemon run unprivileged for development).
fn ours(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

fn kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device"
    } else if t.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

fn exists(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// `O_NOFOLLOW | O_NONBLOCK` for `OpenOptions` (which adds `O_CLOEXEC` itself).
fn open_flags() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK)
        .bits()
        .cast_signed()
}

fn refused(e: &Error) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, e.message().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(dirs: &[&str], store: &str) -> Confinement {
        Confinement::unchecked(dirs.iter().map(PathBuf::from).collect(), Path::new(store))
    }

    #[test]
    fn lexical_rules() {
        let c = rules(&["/var/log/fw6"], "/var/lib/fw6/fw6.sqlite");
        assert!(c.check_syntax("/var/log/fw6/firewall.log").is_ok());
        assert!(c.check_syntax("/var/log/fw6/sub/x.log").is_ok());
        for (bad, rule) in [
            ("/etc/fw6-x.log", "not inside an allowed directory"),
            ("/var/log/fw6/../../etc/x", "'..'"),
            ("/var/log/fw6/./x", "'.'"),
            ("/var/log/fw6//x", "'//'"),
            ("/var/log/fw6", "not inside"),
            ("/var/log/fw6/", "ends with '/'"),
            ("/var/log/fw66/x", "not inside"),
            ("firewall.log", "absolute"),
            ("", "absolute"),
            ("/var/log/fw6/a\0b", "control"),
            ("/var/log/fw6/a\nb", "control"),
        ] {
            let err = c.check_syntax(bad).unwrap_err();
            assert_eq!(err.kind(), fw6_model::ErrorKind::InvalidArg);
            assert!(err.message().contains(rule), "{bad:?}: {err}");
            assert!(
                err.message().contains("/var/log/fw6 (log_directories"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_state_directory_is_refused_even_inside_an_allowed_one() {
        let c = rules(&["/srv"], "/srv/state/fw6.sqlite");
        assert!(c.check_syntax("/srv/x.log").is_ok());
        for bad in [
            "/srv/state/fw6.sqlite",
            "/srv/state/fw6.sqlite-wal",
            "/srv/state/x",
        ] {
            let err = c.check_syntax(bad).unwrap_err();
            assert!(err.message().contains("state directory"), "{err}");
        }
    }

    #[test]
    fn allowed_directories_are_checked_at_start_up() {
        let store = Path::new("/var/lib/fw6/fw6.sqlite");
        for (dirs, rule) in [
            (vec![], "empty"),
            (vec!["relative/dir"], "absolute"),
            (vec!["/var/log/../etc"], "'..'"),
            (vec!["/"], "root directory"),
            (vec!["/tmp"], "writable by group or others"),
        ] {
            let dirs: Vec<PathBuf> = dirs.into_iter().map(PathBuf::from).collect();
            let err = Confinement::new(&dirs, store).unwrap_err();
            assert!(err.contains(rule), "{dirs:?}: {err}");
        }
    }

    #[test]
    fn disk_rules() {
        let root = std::env::temp_dir().join(format!("fw6d-confine-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::DirBuilder::new().mode(0o755).create(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let logs = root.join("logs");
        fs::DirBuilder::new().mode(0o755).create(&logs).unwrap();
        let c =
            Confinement::new(std::slice::from_ref(&logs), &root.join("state/fw6.sqlite")).unwrap();
        // A missing directory under safe parents is fine (created at first open).
        Confinement::new(&[root.join("not-yet")], &root.join("state/fw6.sqlite")).unwrap();
        let p = |name: &str| logs.join(name).to_str().unwrap().to_owned();
        std::os::unix::fs::symlink("/etc/passwd", logs.join("link")).unwrap();
        std::os::unix::fs::symlink(&logs, logs.join("dirlink")).unwrap();
        fs::create_dir(logs.join("dir")).unwrap();
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            logs.join("fifo"),
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        fs::write(logs.join("a"), "x").unwrap();
        fs::hard_link(logs.join("a"), logs.join("b")).unwrap();
        for (bad, rule) in [
            ("link", "symlink"),
            ("dirlink/x.log", "symlink"),
            ("dir", "directory"),
            ("fifo", "FIFO"),
            ("b", "hard links"),
            ("missing/x.log", "does not exist"),
        ] {
            let err = c.check(&p(bad)).unwrap_err();
            assert!(err.message().contains(rule), "{bad}: {err}");
            assert!(c.open_append(Path::new(&p(bad))).is_err(), "{bad}");
        }
        let opened = c.open_append(Path::new(&p("dir/ok.log"))).unwrap();
        let meta = opened.file.metadata().unwrap();
        assert_eq!(meta.mode() & 0o777, FILE_MODE);
        fs::remove_dir_all(&root).unwrap();
    }
}
