//! Logged packets over NFLOG (docs/design.md §5 "Logging" and §9.4).
//!
//! The ruleset's `log … group G snaplen 128` rules hand each logged packet's first bytes to
//! NFLOG group `G`. A [`Reader`] binds that group in the calling thread's network namespace and
//! turns every packet message into a [`Record`]: the rule's prefix, the input interface, the
//! kernel's timestamp when it has one, and a [`Packet`] summary decoded from the IPv6 or IPv4
//! and transport headers.
//!
//! The reader is blocking and meant for a thread of its own, so a flood of logged packets is
//! paid for on that thread and never on a caller's. Loss is counted rather than hidden: the
//! instance numbers its messages (`NFULNL_CFG_F_SEQ`), so a message the kernel could not queue
//! (the socket buffer was full) shows up as a gap in the numbers ([`Reader::lost`]).

mod message;
mod names;
mod packet;
mod reader;

pub use names::InterfaceNames;
pub use packet::{Packet, TcpFlags};
pub use reader::{Reader, ReaderOptions};

use std::io;
use std::time::SystemTime;

/// One packet a `log` rule sent to the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The rule's `log prefix`, e.g. `fw6 DROP`.
    pub prefix: String,
    /// The input interface's index (`NFULA_IFINDEX_INDEV`).
    pub indev: Option<u32>,
    /// The output interface's index (`NFULA_IFINDEX_OUTDEV`), for packets logged on output.
    pub outdev: Option<u32>,
    /// When the packet arrived, if the kernel stamped it (`NFULA_TIMESTAMP`); the kernel only
    /// stamps packets while some socket asks for timestamps, so callers fall back to the time
    /// of reading.
    pub timestamp: Option<SystemTime>,
    /// The decoded headers; `None` when the copied bytes are not an IPv6 or IPv4 header.
    pub packet: Option<Packet>,
    /// How many bytes of the packet the kernel copied (at most the rule's `snaplen`).
    pub copied: usize,
}

/// A failure of the NFLOG reader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NflogError {
    /// The netlink socket could not be opened, bound or configured.
    #[error("cannot set up the NFLOG netlink socket: {step}")]
    Socket {
        /// What was being done.
        step: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// The kernel refused a configuration message, e.g. `EBUSY` when another program already
    /// reads the group, `EPERM` without `CAP_NET_ADMIN`.
    #[error("the kernel refused to {step} (NFLOG group {group})")]
    Refused {
        /// The refused step (`bind`, `set the copy mode`, ...).
        step: &'static str,
        /// The group.
        group: u16,
        /// The errno as an I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading from the socket failed.
    #[error("cannot read from the NFLOG socket")]
    Read(#[source] io::Error),
    /// The kernel sent something this reader cannot split into messages.
    #[error("malformed NFLOG datagram: {0}")]
    Malformed(String),
}
