//! The caller as polkit is told of it. Every question may name the caller by its system-bus
//! name, which polkitd resolves with synchronous calls to the bus daemon for every question, one
//! question at a time; so the second and later non-interactive questions of a call name the same
//! caller as a `unix-process` (pid, start time, uid), which polkitd answers from `/proc`
//! (BENCHMARKS.md, "Hostile callers": a big batch under a scoped rule).
//!
//! Why that is no weaker than the bus name: both rest on the bus daemon's record of the
//! connection (`GetConnectionCredentials`: uid and pid), and polkitd resolving the bus name reads
//! that same pid. The uid is given, never read from `/proc` (a process can change it: the 2013
//! pkexec race); the start time pins the process, so polkitd answers nothing for a pid reused by
//! another process, and fw6d reads it again once a call's questions are answered and refuses the
//! call if it changed. A question that may show a dialog, and the first of every call, name the
//! bus name.

use std::sync::atomic::{AtomicBool, Ordering};

use fw6_model::{Error, ErrorKind};
use zbus::message::Header;
use zbus_polkit::policykit1::Subject;

use crate::store::Provenance;

/// The caller of one call, as polkit subjects.
pub(super) struct Subjects {
    bus: Subject,
    process: Option<Process>,
}

struct Process {
    subject: Subject,
    pid: u32,
    start: u64,
    /// Whether a question named it: a call answered by its first question alone is not
    /// refused for a caller that left meanwhile (its bound openings close on their own).
    named: AtomicBool,
}

impl Subjects {
    /// The caller of `hdr`, whom the bus daemon said is `who`.
    pub(super) fn of(hdr: &Header<'_>, who: &Provenance) -> Result<Self, Error> {
        let bus = Subject::new_for_message_header(hdr).map_err(|e| {
            Error::new(
                ErrorKind::AccessDenied,
                format!("cannot identify the caller: {e}"),
            )
        })?;
        let process = who.pid.and_then(|pid| {
            let start = start_time(pid)?;
            let subject = Subject::new_for_pid(pid, Some(start), Some(who.uid)).ok()?;
            Some(Process {
                subject,
                pid,
                start,
                named: AtomicBool::new(false),
            })
        });
        Ok(Self { bus, process })
    }

    /// The caller's system-bus name: for the first question and every dialog.
    pub(super) fn bus(&self) -> &Subject {
        &self.bus
    }

    /// The subject for the non-interactive question asked first for item `i`.
    pub(super) fn for_item(&self, i: usize) -> &Subject {
        match &self.process {
            Some(process) if i > 0 => {
                process.named.store(true, Ordering::Relaxed);
                &process.subject
            }
            _ => &self.bus,
        }
    }

    /// Refuses the call if a question named the caller's process and that process is gone or
    /// is another one now.
    pub(super) fn unchanged(&self) -> Result<(), Error> {
        match &self.process {
            Some(p) if p.named.load(Ordering::Relaxed) && start_time(p.pid) != Some(p.start) => {
                Err(Error::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "the calling process (pid {}) ended or was replaced while polkit was \
                         asked; nothing was changed; call again",
                        p.pid
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The start time of `pid` as polkit reads it: field 22 of `/proc/PID/stat`, counted after the
/// last `)` because the command name may hold spaces and parentheses.
fn start_time(pid: u32) -> Option<u64> {
    parse_start_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_read_after_the_command_name() {
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 \
                    200 18446744073709551615";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert_eq!(parse_start_time("42 (x"), None);
        let mine = start_time(std::process::id()).expect("this process's start time");
        assert_eq!(start_time(std::process::id()), Some(mine));
    }
}
