//! Ruleset change notifications (`NFNLGRP_NFTABLES`), for drift repair. Only notifications about
//! our table (`inet fw6`) count, and those caused by our own commits can be ignored by port id:
//! the ruleset generation is global, so other software committing to its own tables must not
//! make fw6 rebuild (docs/design.md §1.5, play well with others).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use netlink_sys::Socket as NlSocket;
use rustix::net::RecvFlags;

use fw6_model::plan::{TABLE, TABLE_FAMILY};

use super::Error;
use super::socket::split_messages;
use crate::netlink::{self, Received, attributes};

/// `NFNLGRP_NFTABLES`.
const NFNLGRP_NFTABLES: u32 = 7;
/// `NFNL_SUBSYS_NFTABLES`, the high byte of an nf_tables message type.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// `NFT_MSG_NEWGEN`: sent after every commit, about no table in particular.
const NFT_MSG_NEWGEN: u16 = 16;
/// The first attribute of every table-scoped notification (`NFTA_*_TABLE`, type 1).
const NFTA_TABLE: u16 = 1;

/// Room for bursts of notifications (a full rebuild sends one per object and element list).
const RECV_BUFFER: usize = 4 << 20;

/// A non-blocking subscription to nf_tables change notifications in the current namespace.
#[derive(Debug)]
pub struct Monitor {
    socket: Arc<NlSocket>,
    read: Vec<u8>,
    ignore: Option<u32>,
    generation: Option<u32>,
    /// Another table, or one of its chains or rules, was added or deleted since
    /// [`Monitor::take_other_changes`] last asked.
    others_changed: bool,
}

impl Monitor {
    /// Subscribes. Register [`Monitor::as_fd`] with the event loop, then call
    /// [`Monitor::drain`] when it is readable.
    pub fn new() -> Result<Self, Error> {
        let step = |step| move |source| Error::Socket { step, source };
        let (socket, _) = netlink::open(RECV_BUFFER).map_err(Error::setup)?;
        socket
            .add_membership(NFNLGRP_NFTABLES)
            .map_err(step("join the nftables group"))?;
        socket
            .set_non_blocking(true)
            .map_err(step("make the socket non-blocking"))?;
        Ok(Self {
            socket: Arc::new(socket),
            read: vec![0; 256 << 10],
            ignore: None,
            generation: None,
            others_changed: false,
        })
    }

    /// A handle that stops and restarts this monitor's listening from another thread: see
    /// [`super::Nft::quieting`].
    pub fn subscription(&self) -> Subscription {
        Subscription(Arc::clone(&self.socket))
    }

    /// Ignores notifications caused by the socket with netlink port `port` (see
    /// [`super::Nft::port`]): the daemon's own commits are not drift.
    #[must_use]
    pub fn ignoring(mut self, port: u32) -> Self {
        self.ignore = Some(port);
        self
    }

    /// Reads every queued notification without blocking and returns how many changed our table
    /// (and were not ignored). A lost burst (the buffer overran) counts as one change, since it
    /// may have hidden one.
    pub fn drain(&mut self) -> Result<usize, Error> {
        let mut count = 0;
        let mut replies = Vec::new();
        loop {
            let received = netlink::recv(&self.socket, &mut self.read[..], RecvFlags::DONTWAIT);
            match received.map_err(|e| Error::io("read ruleset notifications", e))? {
                Received::Data { len, .. } => {
                    replies.clear();
                    split_messages(&self.read[..len], &mut replies)
                        .map_err(|e| Error::protocol("read ruleset notifications", e))?;
                    for reply in replies.iter().filter(|r| Some(r.port) != self.ignore) {
                        if about_our_table(reply) {
                            count += 1;
                        } else if reshapes_a_table(reply) {
                            self.others_changed = true;
                        }
                    }
                    if let Some(generation) = replies
                        .iter()
                        .rev()
                        .filter(|r| r.message_type == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)
                        .find_map(super::query::parse_generation)
                    {
                        self.generation = Some(generation);
                    }
                }
                Received::Empty => return Ok(count),
                Received::Interrupted => {}
                Received::Overrun => {
                    count += 1;
                    self.others_changed = true;
                }
            }
        }
    }
}

impl Monitor {
    /// The ruleset generation of the last commit (anyone's, in any table) whose notification
    /// [`Monitor::drain`] read, so a status can stay current without asking the kernel.
    pub fn generation(&self) -> Option<u32> {
        self.generation
    }

    /// Whether another program added or deleted a table, chain or rule (not of our table)
    /// since the last call, as far as [`Monitor::drain`] read: the other tables' base chains
    /// (`Nft::other_chains`) may have changed. A lost burst counts.
    pub fn take_other_changes(&mut self) -> bool {
        std::mem::take(&mut self.others_changed)
    }
}

/// Whether a notification adds or deletes a table, chain or rule (`NFT_MSG_NEWTABLE`,
/// `DELTABLE`, `NEWCHAIN`, `DELCHAIN`, `NEWRULE`, `DELRULE`): set elements, objects and
/// flowtables do not change which base chains a packet passes nor how many rules they hold.
fn reshapes_a_table(reply: &super::socket::Reply) -> bool {
    reply.message_type >> 8 == NFNL_SUBSYS_NFTABLES
        && matches!(reply.message_type & 0xff, 0 | 2 | 3 | 5 | 6 | 8)
}

/// The group membership of a [`Monitor`], switchable from the thread that commits.
///
/// While any socket listens on `NFNLGRP_NFTABLES`, the kernel builds one notification per set
/// element a commit adds or deletes (`nf_tables_setelem_notify`), which costs a large commit
/// more than the commit itself (measured: BENCHMARKS.md, "Figures behind design choices").
/// Leaving the group during our own large commits spares that work; the generation read around
/// the commit covers the gap.
#[derive(Debug, Clone)]
pub struct Subscription(Arc<NlSocket>);

impl Subscription {
    /// Starts listening (again). Joining a group twice is harmless.
    pub fn join(&self) -> Result<(), Error> {
        self.0
            .add_membership(NFNLGRP_NFTABLES)
            .map_err(|source| Error::Socket {
                step: "join the nftables group",
                source,
            })
    }

    /// Stops listening; notifications already queued stay readable.
    pub fn leave(&self) -> Result<(), Error> {
        self.0
            .drop_membership(NFNLGRP_NFTABLES)
            .map_err(|source| Error::Socket {
                step: "leave the nftables group",
                source,
            })
    }
}

/// Whether a notification concerns our table (`inet fw6`; an `ip6 fw6` is not ours any more).
fn about_our_table(reply: &super::socket::Reply) -> bool {
    if reply.message_type >> 8 != NFNL_SUBSYS_NFTABLES
        || reply.message_type & 0xff == NFT_MSG_NEWGEN
    {
        return false;
    }
    // nfgenmsg (family, version, resource id), then the attributes.
    let p = &reply.payload;
    if p.len() < 8 || p[0] != TABLE_FAMILY.nfproto() {
        return false;
    }
    attributes(&p[4..]).next().is_some_and(|(kind, name)| {
        kind == NFTA_TABLE && name.split(|b| *b == 0).next() == Some(TABLE.as_bytes())
    })
}

impl AsFd for Monitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for Monitor {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}
