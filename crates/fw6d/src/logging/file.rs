//! The log file: opened on first use, rotated to `<path>.old` before a line would take it past
//! the maximum size, closed when the path changes or on SIGHUP.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::line;

/// Readable by root and the file's group (adm-style log readers), nobody else: the log names
/// addresses and ports of everyone who knocked.
const FILE_MODE: u32 = 0o640;
/// A directory created for the log.
const DIR_MODE: u32 = 0o755;

/// The log file at one path.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    max_bytes: u64,
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    out: BufWriter<File>,
    size: u64,
}

impl LogFile {
    /// The file at `path`, rotated at `max_bytes`; nothing is opened yet.
    pub fn new(path: PathBuf, max_bytes: u64) -> Self {
        Self {
            path,
            max_bytes,
            open: None,
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
            None => self.open.insert(Self::open(&self.path)?),
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

    /// `<path>` → `<path>.old` (replacing it), and a fresh file with the header.
    fn rotate(&mut self) -> io::Result<()> {
        self.close()?;
        fs::rename(&self.path, old_path(&self.path))?;
        self.open = Some(Self::open(&self.path)?);
        Ok(())
    }

    /// Opens for appending, creating the file (mode 0640) and its directory; a new or empty
    /// file starts with the header. The modes are set explicitly: fw6d runs with umask 0077,
    /// which would leave the log to root alone.
    fn open(path: &Path) -> io::Result<Open> {
        if let Some(dir) = path.parent().filter(|d| !d.exists()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
        }
        let created = !path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(FILE_MODE)
            .open(path)?;
        if created {
            file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        }
        let mut size = file.metadata()?.len();
        let mut out = BufWriter::with_capacity(64 << 10, file);
        if size == 0 {
            let header = line::header();
            out.write_all(header.as_bytes())?;
            size = header.len() as u64;
        }
        Ok(Open { out, size })
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

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fw6d-logfile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_directory_and_file_with_header_and_mode() {
        let dir = scratch("create");
        let path = dir.join("sub/firewall.log");
        let mut file = LogFile::new(path.clone(), 1 << 20);
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
        let dir = scratch("rotate");
        let path = dir.join("firewall.log");
        let limit = 1024;
        let mut file = LogFile::new(path.clone(), limit);
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
        let dir = scratch("path");
        let (a, b) = (dir.join("a.log"), dir.join("b.log"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(&b, "#Version: 1.0\nkept\n").unwrap();
        let mut file = LogFile::new(a.clone(), 1 << 20);
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
}
