//! Opening and reading a `NETLINK_NETFILTER` socket.

use std::io;

use netlink_sys::{Socket, protocols::NETLINK_NETFILTER};
use rustix::net::{RecvFlags, sockopt};

/// A step of [`open`] that failed, for the caller's own error type.
#[derive(Debug)]
pub(crate) struct SetupError {
    /// What was being done (`open`, `bind`, `raise the receive buffer`).
    pub(crate) step: &'static str,
    /// The system's error.
    pub(crate) source: io::Error,
}

/// A `NETLINK_NETFILTER` socket bound to a port the kernel picks, and that port, with a receive
/// buffer of `receive_buffer` bytes (forced past `rmem_max`: the daemon runs with
/// `CAP_NET_ADMIN`), so bursts queue in the kernel rather than being dropped.
pub(crate) fn open(receive_buffer: usize) -> Result<(Socket, u32), SetupError> {
    let step = |step| move |source| SetupError { step, source };
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(step("open"))?;
    let port = socket.bind_auto().map_err(step("bind"))?.port_number();
    sockopt::set_socket_recv_buffer_size_force(&socket, receive_buffer)
        .map_err(|e| step("raise the receive buffer")(e.into()))?;
    Ok((socket, port))
}

/// What one read got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// A datagram of `len` bytes in the buffer; `full` is its whole length (larger when it did
    /// not fit).
    Data { len: usize, full: usize },
    /// Nothing: the receive timeout passed, or nothing was queued for a non-blocking read.
    Empty,
    /// A signal interrupted the read.
    Interrupted,
    /// The kernel dropped messages because the receive buffer was full (`ENOBUFS`).
    Overrun,
}

/// Reads one datagram into `buf`.
pub(crate) fn recv(socket: &Socket, buf: &mut [u8], flags: RecvFlags) -> io::Result<Received> {
    match rustix::net::recv(socket, buf, flags) {
        Ok((len, full)) => Ok(Received::Data { len, full }),
        Err(e) if e == rustix::io::Errno::AGAIN => Ok(Received::Empty),
        Err(e) if e == rustix::io::Errno::INTR => Ok(Received::Interrupted),
        Err(e) if e == rustix::io::Errno::NOBUFS => Ok(Received::Overrun),
        Err(e) => Err(e.into()),
    }
}
