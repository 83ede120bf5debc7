//! The firewall log (DESIGN §5 "Logging", docs/logging.md): packets the log rules hand to NFLOG,
//! written as W3C-extended-style lines to the file at `LogfilePath`.
//!
//! Two threads, joined by a bounded queue, and nothing shared with the API but counters:
//!
//! - the *reader* blocks on the NFLOG socket, decodes, and offers each record to the queue
//!   without waiting; a full queue drops the record and counts it;
//! - the *writer* formats lines, rotates the file at `LogfileMaximumSize`, follows the
//!   `LogfilePath` setting from the published state, reopens on SIGHUP, and writes the loss
//!   count into the file as a `#Lost:` line.
//!
//! So a flood of logged packets costs these two threads (and the kernel's rate limit caps it);
//! the D-Bus service and the engine never wait for them.

pub mod confine;
mod file;
mod line;
mod pipeline;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use pipeline::start;

/// Log events lost and requests for the writer, shared between the log threads and the API.
#[derive(Debug, Default)]
pub struct LogCounters {
    /// Dropped because the queue to the writer was full.
    queue_full: AtomicU64,
    /// Lost in the kernel: the NFLOG socket's buffer was full (sequence-number gaps).
    kernel: AtomicU64,
    /// Could not be written (the file could not be opened or written).
    unwritable: AtomicU64,
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

    /// Asks the writer to reopen the file (SIGHUP, after an outside rotation).
    pub fn request_reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }
}
