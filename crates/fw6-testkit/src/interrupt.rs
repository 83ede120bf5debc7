//! Clean-up when a long-running user of the kit is interrupted. A benchmark runs for minutes;
//! SIGINT or SIGTERM ends the process without unwinding, so no [`crate::NetNs`] guard drops and
//! the namespaces, the daemons started in them and their temporary directories would stay
//! behind (seen: `kill` of `fw6-bench` left 20 namespaces, a dbus-daemon and an fw6d).

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rustix::mount::{UnmountFlags, unmount};
use rustix::process::{Pid, Signal, kill_process};
use tokio::signal::unix::{SignalKind, signal};

use crate::netns::RUN_DIR;

/// Watches for SIGINT and SIGTERM on a thread of its own; on either, stops this process's
/// children, removes the namespaces (`fw6t-<pid>-*`) and temporary directories (`fw6-*-<pid>-*`)
/// it created, and exits with 128 + the signal number.
pub fn clean_up_on_signal() {
    thread::Builder::new()
        .name("fw6-testkit-signals".into())
        .spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                eprintln!("fw6-testkit: cannot watch for signals: no runtime");
                return;
            };
            let caught = runtime.block_on(async {
                let mut interrupt = signal(SignalKind::interrupt())?;
                let mut terminate = signal(SignalKind::terminate())?;
                tokio::select! {
                    _ = interrupt.recv() => Ok::<i32, std::io::Error>(2),
                    _ = terminate.recv() => Ok(15),
                }
            });
            let number = match caught {
                Ok(number) => number,
                Err(e) => {
                    eprintln!("fw6-testkit: cannot watch for signals: {e}");
                    return;
                }
            };
            eprintln!(
                "fw6-testkit: interrupted: stopping child processes, removing this process's namespaces and temporary directories"
            );
            // Entries first: once a child is gone the main thread may wake up, fail and exit
            // before this thread is done. A namespace a daemon is still in goes when it does.
            remove_own_entries();
            stop_children();
            std::process::exit(128 + number);
        })
        .expect("spawn the signal thread");
}

/// Sends SIGTERM to every direct child and waits up to a second for them to go.
fn stop_children() {
    let children = children();
    for &pid in &children {
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = kill_process(pid, Signal::TERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline && children.iter().any(|pid| alive(*pid)) {
        thread::sleep(Duration::from_millis(20));
    }
}

/// Direct children of this process, from `/proc/<pid>/stat` (field 4 is the parent).
fn children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent(*pid).is_some_and(|p| p == me))
        .collect()
}

fn parent(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: skip past its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1).map(str::to_owned)
}

/// A zombie still has a `/proc` entry; it counts as gone.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Removes `/run/netns/fw6t-<pid>-*` and `$TMPDIR/fw6-*-<pid>-*` (or `…-<pid>`).
fn remove_own_entries() {
    let pid = std::process::id().to_string();
    for path in entries(Path::new(RUN_DIR), |name| {
        name.strip_prefix("fw6t-")
            .and_then(|rest| rest.split('-').next())
            == Some(pid.as_str())
    }) {
        let _ = unmount(&path, UnmountFlags::DETACH);
        if let Err(e) = std::fs::remove_file(&path) {
            eprintln!("fw6-testkit: cannot remove {}: {e}", path.display());
        }
    }
    for path in entries(&std::env::temp_dir(), |name| {
        name.starts_with("fw6-") && name.split('-').any(|part| part == pid)
    }) {
        if let Err(e) = std::fs::remove_dir_all(&path) {
            eprintln!("fw6-testkit: cannot remove {}: {e}", path.display());
        }
    }
}

fn entries(dir: &Path, wanted: impl Fn(&str) -> bool) -> Vec<std::path::PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(&wanted))
        .map(|e| e.path())
        .collect()
}
