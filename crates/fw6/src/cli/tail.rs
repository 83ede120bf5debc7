//! `fw6 log tail`: the last lines of the firewall log, and with `-f` the lines as they are
//! written, across rotations (the file renamed to `.old` and a new one started).
//!
//! The file is read directly (it is mode 0640: root or the file's group); the daemon is asked
//! only for its path, unless `--file` names it.
//!
//! Log lines hold what remote hosts and local programs put in packets and names, and an
//! administrator reads them as root: control characters are printed escaped (`^[` for ESC, as
//! `less` and `cat -v` do) so a planted line cannot retitle, clear or reprogram the terminal.
//! `--raw` prints the lines as they are; JSON escapes them by its own rules.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::exit::Failure;
use super::output::Out;

/// How often `-f` looks for new lines.
const POLL: Duration = Duration::from_millis(250);
/// The most `-n` reads back from the end: more than the largest log file (32767 KiB).
const MAX_BACK: u64 = 32 << 20;

/// How `fw6 log tail` prints.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// How many lines from the end.
    pub lines: usize,
    /// Keep printing new lines until Ctrl-C.
    pub follow: bool,
    /// Print control characters as they are.
    pub raw: bool,
}

/// Prints the last `mode.lines` lines of `path`; with `mode.follow`, keeps printing new lines
/// until Ctrl-C.
pub async fn tail(path: &Path, mode: Mode, out: Out) -> Result<(), Failure> {
    let mut file = File::open(path).map_err(|e| unreadable(path, &e))?;
    let (last, mut offset) = last_lines(&mut file, mode.lines).map_err(|e| unreadable(path, &e))?;
    if !mode.follow {
        let value = json!({ "path": path, "lines": last });
        out.emit(&value, || {
            last.iter()
                .map(|l| shown(l, mode.raw))
                .collect::<Vec<_>>()
                .join("\n")
        });
        return Ok(());
    }
    print_lines(&last, out, mode.raw);
    let mut identity = file.metadata().map(|m| (m.dev(), m.ino())).ok();
    let mut partial = Vec::new();
    let mut poll = tokio::time::interval(POLL);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = poll.tick() => {}
        }
        offset = read_new(&mut file, offset, &mut partial, out, mode.raw)
            .map_err(|e| unreadable(path, &e))?;
        // Rotated (a new file at the path) or truncated: finish the old one above, then start
        // the new one from its beginning.
        let now = std::fs::metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.len()));
        let replaced = now.is_some_and(|(dev, ino, _)| Some((dev, ino)) != identity);
        let truncated = now.is_some_and(|(_, _, len)| len < offset);
        if (replaced || truncated)
            && let Ok(fresh) = File::open(path)
        {
            identity = fresh.metadata().map(|m| (m.dev(), m.ino())).ok();
            file = fresh;
            offset = 0;
            partial.clear();
        }
    }
}

/// A log file that cannot be read: a path that names nothing is a bad argument, a permission
/// problem is `AccessDenied` (the file is root's and its group's), anything else `Fail`.
fn unreadable(path: &Path, e: &io::Error) -> Failure {
    let kind = match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::IsADirectory | io::ErrorKind::NotADirectory => {
            fw6::ErrorKind::InvalidArg
        }
        io::ErrorKind::PermissionDenied => fw6::ErrorKind::AccessDenied,
        _ => fw6::ErrorKind::Fail,
    };
    Failure::Api(fw6::Error::new(
        kind,
        format!("cannot read the log file {}: {e}", path.display()),
    ))
}

/// Why fw6d's own log file (LogfilePath) does not exist: logging is off, or nothing was logged
/// yet. Not a bad argument (the user gave none) but a state of the firewall: `Fail`.
pub fn no_log_yet(settings: &fw6::LogSettings) -> fw6::Error {
    let path = &settings.logfile_path;
    let message = if settings.log_dropped_packets || settings.log_connections {
        format!(
            "the log file {path} has not been written yet: fw6d creates it when it logs the \
             first packet"
        )
    } else {
        format!(
            "logging is off, so there is no log file {path}: turn it on with \
             `fw6 log set --dropped on` (and/or `--connections on`)"
        )
    };
    fw6::Error::new(fw6::ErrorKind::Fail, message)
}

/// `line` for a terminal: every control character but tab shown escaped, C0 ones and DEL in
/// caret notation (`^[`, `^?`), the C1 ones and the bidirectional overrides (which reorder
/// what is shown) as `<U+009B>`.
pub fn escape(line: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !line.chars().any(unsafe_char) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            '\u{7f}' => out.push_str("^?"),
            c if u32::from(c) < 0x20 => {
                out.push('^');
                out.push(char::from(b'@' + u8::try_from(u32::from(c)).unwrap_or(0)));
            }
            c => {
                let _ = write!(out, "<U+{:04X}>", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// A line as printed for people.
fn shown(line: &str, raw: bool) -> Cow<'_, str> {
    if raw {
        Cow::Borrowed(line)
    } else {
        escape(line)
    }
}

/// The last `n` complete lines, and the offset just after the last one.
fn last_lines(file: &mut File, n: usize) -> io::Result<(Vec<String>, u64)> {
    let len = file.metadata()?.len();
    let start = len.saturating_sub(MAX_BACK);
    file.seek(SeekFrom::Start(start))?;
    let mut data = Vec::new();
    file.take(len - start).read_to_end(&mut data)?;
    let complete = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&data[..complete]);
    let all: Vec<&str> = text.lines().collect();
    let last = all[all.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    Ok((last, start + complete as u64))
}

/// Prints the complete lines written after `offset`; keeps a trailing partial line for later.
fn read_new(
    file: &mut File,
    offset: u64,
    partial: &mut Vec<u8>,
    out: Out,
    raw: bool,
) -> io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    let mut data = Vec::new();
    let read = file.read_to_end(&mut data)?;
    partial.extend_from_slice(&data);
    if let Some(end) = partial.iter().rposition(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(&partial[..end]).into_owned();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        print_lines(&lines, out, raw);
        partial.drain(..=end);
    }
    Ok(offset + read as u64)
}

/// One line per line, or with `--json` one JSON string per line (JSON Lines).
fn print_lines(lines: &[String], out: Out, raw: bool) {
    let mut stdout = io::stdout().lock();
    for line in lines {
        let _ = if out.json {
            writeln!(stdout, "{}", json!(line))
        } else {
            writeln!(stdout, "{}", shown(line, raw))
        };
    }
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(e: io::ErrorKind) -> fw6::ErrorKind {
        match unreadable(Path::new("/var/log/fw6/firewall.log"), &io::Error::from(e)) {
            Failure::Api(e) => e.kind(),
            Failure::Usage(u) => panic!("not an API failure: {u}"),
        }
    }

    /// A user outside the log's group is refused access, not told the argument was bad.
    #[test]
    fn unreadable_log_has_its_class() {
        assert_eq!(
            class(io::ErrorKind::PermissionDenied),
            fw6::ErrorKind::AccessDenied
        );
        assert_eq!(class(io::ErrorKind::NotFound), fw6::ErrorKind::InvalidArg);
        assert_eq!(class(io::ErrorKind::Other), fw6::ErrorKind::Fail);
    }

    #[test]
    fn last_lines_skips_a_partial_last_line() {
        let path = std::env::temp_dir().join(format!("fw6-tail-{}", std::process::id()));
        std::fs::write(&path, "#h\na\nb\nc\npart").unwrap();
        let mut file = File::open(&path).unwrap();
        let (lines, offset) = last_lines(&mut file, 2).unwrap();
        assert_eq!(lines, ["b", "c"]);
        assert_eq!(offset, 9);
        let (lines, _) = last_lines(&mut file, 100).unwrap();
        assert_eq!(lines.len(), 4);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_missing_log_says_why_and_how() {
        let mut s = fw6::LogSettings::default();
        let e = no_log_yet(&s);
        assert_eq!(e.kind(), fw6::ErrorKind::Fail);
        assert!(e.message().contains("logging is off"), "{e}");
        assert!(e.message().contains("fw6 log set --dropped on"), "{e}");
        s.log_connections = true;
        assert!(no_log_yet(&s).message().contains("not been written yet"));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(escape("plain\ttext é"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}]0;owned\u{7}b\u{1b}[2J\u{7f}"),
            "a^[]0;owned^Gb^[[2J^?"
        );
        assert_eq!(escape("x\u{9b}31m\u{202e}y\r"), "x<U+009B>31m<U+202E>y^M");
        assert_eq!(shown("\u{1b}", true), "\u{1b}");
    }
}
