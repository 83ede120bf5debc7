//! Ruleset change notifications (`NFNLGRP_NFTABLES`), for drift repair: on any event the daemon
//! compares the generation with the one its last commit produced and verifies its table. The
//! events themselves are only counted; the generation is the truth.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use netlink_sys::{Socket as NlSocket, protocols::NETLINK_NETFILTER};
use rustix::net::{RecvFlags, sockopt};

use super::Error;
use super::socket::split_messages;

/// `NFNLGRP_NFTABLES`.
const NFNLGRP_NFTABLES: u32 = 7;
/// `NFNL_SUBSYS_NFTABLES`, the high byte of an nf_tables message type.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// Room for bursts of notifications (a full rebuild sends one per object and element list).
const RECV_BUFFER: usize = 4 << 20;

/// A non-blocking subscription to nf_tables change notifications in the current namespace.
#[derive(Debug)]
pub struct Monitor {
    socket: NlSocket,
    read: Vec<u8>,
}

impl Monitor {
    /// Subscribes. Register [`Monitor::as_fd`] with the event loop, then call
    /// [`Monitor::drain`] when it is readable.
    pub fn new() -> Result<Self, Error> {
        let step = |step| move |source| Error::Socket { step, source };
        let mut socket = NlSocket::new(NETLINK_NETFILTER).map_err(step("open"))?;
        socket.bind_auto().map_err(step("bind"))?;
        sockopt::set_socket_recv_buffer_size_force(&socket, RECV_BUFFER)
            .map_err(|e| step("raise the receive buffer")(e.into()))?;
        socket
            .add_membership(NFNLGRP_NFTABLES)
            .map_err(step("join the nftables group"))?;
        socket
            .set_non_blocking(true)
            .map_err(step("make the socket non-blocking"))?;
        Ok(Self {
            socket,
            read: vec![0; 256 << 10],
        })
    }

    /// Reads every queued notification without blocking and returns how many were about
    /// nf_tables. A lost burst (the buffer overran) counts as one change, since something
    /// certainly changed.
    pub fn drain(&mut self) -> Result<usize, Error> {
        let mut count = 0;
        let mut replies = Vec::new();
        loop {
            match rustix::net::recv(&self.socket, &mut self.read[..], RecvFlags::DONTWAIT) {
                Ok((len, _)) => {
                    replies.clear();
                    split_messages(&self.read[..len], &mut replies)
                        .map_err(|e| Error::protocol("read ruleset notifications", e))?;
                    count += replies
                        .iter()
                        .filter(|r| r.message_type >> 8 == NFNL_SUBSYS_NFTABLES)
                        .count();
                }
                Err(e) if e == rustix::io::Errno::AGAIN => return Ok(count),
                Err(e) if e == rustix::io::Errno::INTR => {}
                Err(e) if e == rustix::io::Errno::NOBUFS => count += 1,
                Err(e) => return Err(Error::io("read ruleset notifications", e.into())),
            }
        }
    }
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
