//! The log file: opened on first use, rotated to `<path>.old` before a line would take it past
//! the maximum size, closed when the path changes or on SIGHUP. Every open goes through the
//! [`Confinement`] rules (a stored path that the configuration no longer allows is never
//! opened), and a rotation renames only the file this writer opened.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::confine::Confinement;
use super::line;

/// The start of every log file fw6d writes, whatever its version: how a rotation recognises a
/// `.old` that is its own.
const OWN_PREFIX: &str = "#Version: 1.0\n#Software: fw6 ";

/// The log file at one path.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    max_bytes: u64,
    open: Option<Open>,
    rules: Arc<Confinement>,
}

#[derive(Debug)]
struct Open {
    out: BufWriter<File>,
    size: u64,
    /// `(st_dev, st_ino)` of the file opened.
    id: (u64, u64),
}

impl LogFile {
    /// The file at `path`, rotated at `max_bytes`, under the process's confinement rules;
    /// nothing is opened yet.
    pub fn new(path: PathBuf, max_bytes: u64) -> Self {
        Self::confined(path, max_bytes, Confinement::current())
    }

    /// [`LogFile::new`] under explicit rules.
    pub fn confined(path: PathBuf, max_bytes: u64, rules: Arc<Confinement>) -> Self {
        Self {
            path,
            max_bytes,
            open: None,
            rules,
        }
    }

    /// Follows the settings: a new path closes the current file (the next line opens the new
    /// one); a new size applies from the next line.
    pub fn configure(&mut self, path: &Path, max_bytes: u64) -> io::Result<()> {
        self.max_bytes = max_bytes;
        if path != self.path {
            self.close()?;
            path.clone_into(&mut self.path);
        }
        Ok(())
    }

    /// The current path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and closes; the next line opens the file by path again (after SIGHUP, a file an
    /// outside tool moved away is left to it and a new one started).
    pub fn close(&mut self) -> io::Result<()> {
        match self.open.take() {
            Some(mut open) => open.out.flush(),
            None => Ok(()),
        }
    }

    /// Appends one whole line, rotating first if it would not fit. A line is never split: a
    /// file holds at most `max_bytes` unless a single line with the header is longer.
    pub fn write(&mut self, text: &str) -> io::Result<()> {
        let header = line::header().len() as u64;
        let len = text.len() as u64;
        let open = match &mut self.open {
            Some(open) => open,
            None => self.open.insert(Self::open(&self.rules, &self.path)?),
        };
        if open.size + len > self.max_bytes && open.size > header {
            self.rotate()?;
        }
        let open = self.open.as_mut().expect("opened above");
        open.out.write_all(text.as_bytes())?;
        open.size += len;
        Ok(())
    }

    /// Writes buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.open {
            Some(open) => open.out.flush(),
            None => Ok(()),
        }
    }

    /// `<path>` → `<path>.old`, and a fresh file with the header. Only the file this writer
    /// opened is renamed (same device and inode; one swapped in meanwhile is left alone and
    /// simply reopened), and only onto nothing or fw6d's own earlier `.old`: anything else at
    /// that name stops the log with an error rather than being replaced.
    fn rotate(&mut self) -> io::Result<()> {
        let id = self.open.as_ref().map(|open| open.id);
        self.close()?;
        let old = old_path(&self.path);
        let current = fs::symlink_metadata(&self.path).ok();
        if current.is_some_and(|m| Some((m.dev(), m.ino())) == id) {
            self.rules.replaceable_old(&old, OWN_PREFIX)?;
            fs::rename(&self.path, &old)?;
        }
        self.open = Some(Self::open(&self.rules, &self.path)?);
        Ok(())
    }

    /// Opens for appending through the confinement rules (creating the file, mode 0640); a new
    /// or empty file starts with the header.
    fn open(rules: &Confinement, path: &Path) -> io::Result<Open> {
        let opened = rules.open_append(path)?;
        let mut size = opened.file.metadata()?.len();
        let mut out = BufWriter::with_capacity(64 << 10, opened.file);
        if size == 0 {
            let header = line::header();
            out.write_all(header.as_bytes())?;
            size = header.len() as u64;
        }
        Ok(Open {
            out,
            size,
            id: opened.id,
        })
    }
}

/// `<path>.old`.
pub fn old_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".old");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// A fresh directory (0755, ours) and rules that allow exactly it.
    fn scratch(name: &str) -> (PathBuf, Arc<Confinement>) {
        let dir = std::env::temp_dir().join(format!("fw6d-logfile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let rules =
            Confinement::new(std::slice::from_ref(&dir), &dir.join("state/fw6.sqlite")).unwrap();
        (dir, Arc::new(rules))
    }

    #[test]
    fn creates_directory_and_file_with_header_and_mode() {
        let (dir, rules) = scratch("create");
        fs::create_dir(dir.join("sub")).unwrap();
        let path = dir.join("sub/firewall.log");
        let mut file = LogFile::confined(path.clone(), 1 << 20, rules);
        file.write("a line\n").unwrap();
        file.flush().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}a line\n", line::header()));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotates_before_a_line_would_pass_the_limit_and_never_splits_one() {
        let (dir, rules) = scratch("rotate");
        let path = dir.join("firewall.log");
        let limit = 1024;
        let mut file = LogFile::confined(path.clone(), limit, rules);
        let lines: Vec<String> = (0..60)
            .map(|i| format!("line {i:03} {}\n", "x".repeat(40)))
            .collect();
        for l in &lines {
            file.write(l).unwrap();
        }
        file.flush().unwrap();
        let old = fs::read_to_string(old_path(&path)).unwrap();
        let new = fs::read_to_string(&path).unwrap();
        for text in [&old, &new] {
            assert!(text.len() as u64 <= limit, "{} bytes", text.len());
            assert!(text.starts_with(&line::header()));
            assert!(text.ends_with('\n'));
        }
        // The newest lines survive, in order, whole: `.old` then the current file.
        let kept: Vec<&str> = old
            .lines()
            .chain(new.lines())
            .filter(|l| !l.starts_with('#'))
            .collect();
        let expected: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
        assert!(expected.ends_with(&kept), "{kept:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_path_is_used_from_the_next_line_and_an_existing_file_is_appended() {
        let (dir, rules) = scratch("path");
        let (a, b) = (dir.join("a.log"), dir.join("b.log"));
        fs::write(&b, "#Version: 1.0\nkept\n").unwrap();
        let mut file = LogFile::confined(a.clone(), 1 << 20, rules);
        file.write("one\n").unwrap();
        file.configure(&b, 1 << 20).unwrap();
        file.write("two\n").unwrap();
        file.flush().unwrap();
        assert!(fs::read_to_string(&a).unwrap().ends_with("one\n"));
        assert_eq!(
            fs::read_to_string(&b).unwrap(),
            "#Version: 1.0\nkept\ntwo\n"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotation_never_replaces_a_foreign_old_file() {
        let (dir, rules) = scratch("foreign");
        let path = dir.join("firewall.log");
        let old = old_path(&path);
        fs::write(&old, "someone else's data\n").unwrap();
        let mut file = LogFile::confined(path.clone(), 1024, rules);
        let line = format!("{}\n", "x".repeat(100));
        let err = (0..20)
            .find_map(|_| file.write(&line).err())
            .expect("the rotation must be refused");
        assert!(
            err.to_string().contains("not a log file fw6d rotated"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&old).unwrap(), "someone else's data\n");
        // Once it is moved away, the log rotates as usual and later `.old`s are its own.
        fs::remove_file(&old).unwrap();
        for _ in 0..40 {
            file.write(&line).unwrap();
        }
        file.flush().unwrap();
        assert!(fs::read_to_string(&old).unwrap().starts_with(OWN_PREFIX));
        // A symlink at `.old` is not replaced either.
        fs::remove_file(&old).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &old).unwrap();
        let err = (0..20).find_map(|_| file.write(&line).err()).unwrap();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(fs::symlink_metadata(&old).unwrap().file_type().is_symlink());
        fs::remove_dir_all(&dir).unwrap();
    }
}
