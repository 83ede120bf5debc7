//! Clean-up when a long-running user of the kit is interrupted. A benchmark runs for minutes;
//! SIGINT or SIGTERM ends the process without unwinding, so no [`crate::NetNs`] guard drops and
//! the namespaces, the daemons started in them and their temporary directories would stay
//! behind (seen: `kill` of `fw6-bench` left 20 namespaces, a dbus-daemon and an fw6d).
//!
//! Only what this process made is removed: namespaces by their exact name prefix
//! `fw6t-<pid>-`, temporary paths only if they came from [`temp_path`]. A pattern on
//! `$TMPDIR` names could match another process's directory whose counter equals our pid.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::netns::{self, RUN_DIR};

/// Paths handed out by [`temp_path`], removed on a signal.
static TEMP_PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static TEMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh path `$TMPDIR/fw6-<tag>-<pid>-<n>` for a file or directory the caller creates and
/// removes; if the process is interrupted, [`clean_up_on_signal`] removes it.
pub fn temp_path(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "fw6-{tag}-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    TEMP_PATHS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(path.clone());
    path
}

/// Installs SIGINT and SIGTERM handlers (before it returns; once per process). On either, a
/// thread of its own removes this process's namespaces and [`temp_path`]s, stops its children,
/// and then lets the signal end the process as it would have without the handler, so a shell
/// loop around the program stops on Ctrl-C.
pub fn clean_up_on_signal() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let mut signals = match Signals::new([SIGINT, SIGTERM]) {
            Ok(signals) => signals,
            Err(e) => {
                eprintln!("fw6-testkit: cannot watch for SIGINT and SIGTERM: {e}");
                return;
            }
        };
        thread::Builder::new()
            .name("fw6-testkit-signals".into())
            .spawn(move || {
                let Some(signal) = signals.forever().next() else {
                    return;
                };
                eprintln!(
                    "fw6-testkit: interrupted: removing this process's namespaces and temporary files, stopping its children"
                );
                // Entries first: once a child is gone the main thread may wake up, fail and
                // exit before this thread is done. Again after: a daemon that was still
                // writing into its directory, or a namespace made meanwhile.
                remove_own_entries();
                stop_children();
                remove_own_entries();
                if let Err(e) = signal_hook::low_level::emulate_default_handler(signal) {
                    eprintln!("fw6-testkit: cannot re-raise signal {signal}: {e}");
                }
                std::process::exit(128 + signal);
            })
            .expect("spawn the signal thread");
    });
}

/// Sends SIGTERM to every direct child, waits up to a second, then SIGKILLs what is left.
/// (A child could exit and its pid be reused between the scan and the signal; the window is
/// a few microseconds, on a machine running a test.)
fn stop_children() {
    let children = children();
    let signal_all = |signal| {
        for &pid in &children {
            if alive(pid)
                && let Some(pid) = Pid::from_raw(pid)
            {
                let _ = kill_process(pid, signal);
            }
        }
    };
    signal_all(Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline && children.iter().any(|pid| alive(*pid)) {
        thread::sleep(Duration::from_millis(20));
    }
    signal_all(Signal::KILL);
}

/// Direct children of this process.
fn children() -> Vec<i32> {
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|(_, parent)| parent == me))
        .collect()
}

/// A zombie still has a `/proc` entry; it counts as gone.
fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != "Z")
}

/// State and parent pid from `/proc/<pid>/stat` (fields 3 and 4; the command name before them
/// is in parentheses and may hold spaces, so parsing starts after the last `)`).
fn stat(pid: i32) -> Option<(String, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.to_owned();
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Removes `/run/netns/fw6t-<pid>-*` and every [`temp_path`] that exists.
fn remove_own_entries() {
    let prefix = format!("fw6t-{}-", std::process::id());
    if let Ok(read) = std::fs::read_dir(RUN_DIR) {
        for entry in read.filter_map(Result::ok) {
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
            {
                netns::remove_name(&entry.path());
            }
        }
    }
    let paths = TEMP_PATHS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for path in paths {
        let removed = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(_) => continue,
        };
        report(&path, removed);
    }
}

fn report(path: &Path, result: std::io::Result<()>) {
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("fw6-testkit: cannot remove {}: {e}", path.display());
    }
}
