//! `fw6 log tail`: the last lines of the firewall log, and with `-f` the lines as they are
//! written, across rotations (the file renamed to `.old` and a new one started).
//!
//! The file is read directly (it is mode 0640: root or the file's group); the daemon is asked
//! only for its path, unless `--file` names it.

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

/// Prints the last `lines` lines of `path`; with `follow`, keeps printing new lines until
/// Ctrl-C.
pub async fn tail(path: &Path, lines: usize, follow: bool, out: Out) -> Result<(), Failure> {
    let mut file = File::open(path).map_err(|e| unreadable(path, &e))?;
    let (last, mut offset) = last_lines(&mut file, lines).map_err(|e| unreadable(path, &e))?;
    if !follow {
        let value = json!({ "path": path, "lines": last });
        out.emit(&value, || last.join("\n"));
        return Ok(());
    }
    print_lines(&last, out);
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
        offset =
            read_new(&mut file, offset, &mut partial, out).map_err(|e| unreadable(path, &e))?;
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

fn unreadable(path: &Path, e: &io::Error) -> Failure {
    Failure::Api(fw6::Error::new(
        fw6::ErrorKind::InvalidArg,
        format!("cannot read the log file {}: {e}", path.display()),
    ))
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
fn read_new(file: &mut File, offset: u64, partial: &mut Vec<u8>, out: Out) -> io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    let mut data = Vec::new();
    let read = file.read_to_end(&mut data)?;
    partial.extend_from_slice(&data);
    if let Some(end) = partial.iter().rposition(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(&partial[..end]).into_owned();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        print_lines(&lines, out);
        partial.drain(..=end);
    }
    Ok(offset + read as u64)
}

/// One line per line, or with `--json` one JSON string per line (JSON Lines).
fn print_lines(lines: &[String], out: Out) {
    let mut stdout = io::stdout().lock();
    for line in lines {
        let _ = if out.json {
            writeln!(stdout, "{}", json!(line))
        } else {
            writeln!(stdout, "{line}")
        };
    }
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
