//! The firewall log (docs/design.md §5 "Logging", docs/logging.md): packets the log rules hand to
//! NFLOG, written as W3C-extended-style lines to the file at `LogfilePath`.
//!
//! Two threads, joined by a bounded queue, and nothing shared with the API but counters:
//!
//! - the *reader* blocks on the NFLOG socket, decodes, and offers each record to the queue
//!   without waiting; a full queue drops the record and counts it. It exists only while a log
//!   switch is on ([`LogReaders`], driven by the engine's commits): with logging off fw6d holds
//!   no NFLOG group, and switching logging on while another program holds it fails the call;
//! - the *writer* formats lines, rotates the file at `LogfileMaximumSize`, follows the
//!   `LogfilePath` setting from the published state, reopens on SIGHUP, reads the log rules'
//!   counters for what the rate limits suppressed, and writes both loss counts into the file as
//!   `#Lost:` lines.
//!
//! So a flood of logged packets costs these two threads (and the kernel's rate limit caps it);
//! the D-Bus service and the engine never wait for them.

pub mod confine;
mod file;
mod line;
mod pipeline;
mod readers;
mod suppressed;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use pipeline::start;
pub use readers::LogReaders;

/// Log events lost and requests for the writer, shared between the log threads and the API.
#[derive(Debug, Default)]
pub struct LogCounters {
    /// Dropped because the queue to the writer was full.
    queue_full: AtomicU64,
    /// Lost in the kernel: the NFLOG socket's buffer was full (sequence-number gaps).
    kernel: AtomicU64,
    /// Could not be written (the file could not be opened or written).
    unwritable: AtomicU64,
    /// Held back by the log rules' rate limits (their kernel counters), since the daemon
    /// started. Not part of [`LogCounters::lost`]: the limit is policy, not a fault.
    suppressed: AtomicU64,
    /// SIGHUP arrived: close the file and open it again by path before the next line.
    reopen: AtomicBool,
}

impl LogCounters {
    /// Every event lost since the daemon started, for `Status` (`log_lost`).
    pub fn lost(&self) -> u64 {
        self.queue_full.load(Ordering::Relaxed)
            + self.kernel.load(Ordering::Relaxed)
            + self.unwritable.load(Ordering::Relaxed)
    }

    /// Events the kernel's rate limits kept from the log since the daemon started, for `Status`
    /// (`log_suppressed`). Read from the log rules' counters every couple of seconds while a log
    /// switch is on.
    pub fn suppressed(&self) -> u64 {
        self.suppressed.load(Ordering::Relaxed)
    }

    /// Asks the writer to reopen the file (SIGHUP, after an outside rotation).
    pub fn request_reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }
}
