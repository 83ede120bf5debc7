//! Errors of the nftables layer. A refusal keeps what the daemon must report (docs/design.md §4,
//! `Fail` "with the kernel's own message"): the operation that failed, the errno, and the kernel's
//! extended-ack text when it sent one.

use std::io;
use std::time::Duration;

/// An nftables operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The netlink socket could not be opened or configured.
    #[error("cannot set up the nftables netlink socket: {step}")]
    Socket {
        /// What was being done (`open`, `bind`, `raise the send buffer`, ...).
        step: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// Sending to or receiving from the kernel failed.
    #[error("netlink I/O failed while trying to {operation}")]
    Io {
        /// What was being done.
        operation: String,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// The kernel refused a message; in a batch this means nothing of the batch took effect.
    #[error("the kernel refused to {operation}{}", kernel_text(.message.as_deref()))]
    Kernel {
        /// The refused operation, e.g. `add element "lan0" . tcp . 80 to set open`.
        operation: String,
        /// The positive errno.
        errno: i32,
        /// The kernel's extended-ack message, when it sent one.
        message: Option<String>,
        /// The errno as an I/O error, for its description.
        #[source]
        source: io::Error,
    },
    /// The kernel did not answer within the socket's deadline. For a commit, whether the batch
    /// took effect is unknown (see [`Error::outcome_unknown`]).
    #[error("the kernel did not answer within {} s while trying to {operation}", .waited.as_secs_f32())]
    Timeout {
        /// What was being done.
        operation: String,
        /// How long the read waited.
        waited: Duration,
    },
    /// The kernel dropped replies because the socket's receive buffer was full (`ENOBUFS`). For
    /// a commit, whether the batch took effect is unknown (see [`Error::outcome_unknown`]).
    #[error(
        "the kernel's replies overflowed the netlink receive buffer while trying to {operation}"
    )]
    Overrun {
        /// What was being done.
        operation: String,
    },
    /// The kernel answered something this layer cannot read, or did not answer at all.
    #[error("unexpected netlink reply while trying to {operation}: {problem}")]
    Protocol {
        /// What was being done.
        operation: String,
        /// What was wrong with the reply.
        problem: String,
    },
}

fn kernel_text(message: Option<&str>) -> String {
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

impl Error {
    /// The kernel's errno, for a refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Kernel { errno, .. } => Some(*errno),
            Self::Io { source, .. } | Self::Socket { source, .. } => source.raw_os_error(),
            Self::Overrun { .. } => Some(105),
            Self::Protocol { .. } | Self::Timeout { .. } => None,
        }
    }

    /// Whether a commit that failed this way may have taken effect all the same (a reply was
    /// lost or never came): the caller must bring the kernel back to a known state, e.g. by
    /// rebuilding its table, rather than assume nothing changed.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Overrun { .. })
    }

    /// The kernel's extended-ack text, for a refusal that carried one.
    pub fn kernel_message(&self) -> Option<&str> {
        match self {
            Self::Kernel { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn setup(e: crate::netlink::SetupError) -> Self {
        Self::Socket {
            step: e.step,
            source: e.source,
        }
    }

    pub(crate) fn kernel(operation: String, errno: i32, message: Option<String>) -> Self {
        Self::Kernel {
            operation,
            errno,
            message,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    pub(crate) fn io(operation: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            operation: operation.into(),
            source,
        }
    }

    pub(crate) fn protocol(operation: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Protocol {
            operation: operation.into(),
            problem: problem.into(),
        }
    }
}
