//! The caller as polkit is told of it. A question may name the caller by its system-bus name,
//! which polkitd resolves with synchronous calls to the bus daemon for every question, one
//! question at a time; so the second and later non-interactive questions of a call name the
//! same caller as a `unix-process` (pid and uid, start time left to polkitd), which polkitd
//! resolves from `/proc` (BENCHMARKS.md §6: a big batch under a scoped rule).
//!
//! Why that is exactly as strong as the bus name on the bus fw6d runs on (dbus 1.14, polkit
//! 122): polkitd resolving the bus name asks the bus daemon for the connection's pid and uid,
//! the very record fw6d got (`GetConnectionCredentials`), then looks that pid up in `/proc`,
//! as it does for the process subject; the uid is the bus daemon's, never read from `/proc` (a
//! process can change it: the 2013 pkexec race). fw6d reads nothing of the caller's process
//! itself: its unit hides other users' processes from it (`ProtectProc=invisible`). A question
//! that may show a dialog, and the first of every call, name the bus name.

use fw6_model::{Error, ErrorKind};
use zbus::message::Header;
use zbus_polkit::policykit1::Subject;

use crate::store::Provenance;

/// The caller of one call, as polkit subjects.
pub(super) struct Subjects {
    bus: Subject,
    process: Option<Subject>,
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
        // Start time 0: polkitd looks it up, as for the pid it resolves a bus name to.
        let process = who
            .pid
            .and_then(|pid| Subject::new_for_pid(pid, Some(0), Some(who.uid)).ok());
        Ok(Self { bus, process })
    }

    /// The caller's system-bus name: for the first question and every dialog.
    pub(super) fn bus(&self) -> &Subject {
        &self.bus
    }

    /// The subject for the non-interactive question asked first for item `i`.
    pub(super) fn for_item(&self, i: usize) -> &Subject {
        match &self.process {
            Some(process) if i > 0 => process,
            _ => &self.bus,
        }
    }
}
