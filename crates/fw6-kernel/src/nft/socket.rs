//! The `NETLINK_NETFILTER` socket: one buffer out per request, raw replies in.
//!
//! The kernel handles a message sent to it synchronously, inside `send`, so by the time `send`
//! returns every reply to a batch is already queued on this socket. Dumps are produced as the
//! reader asks for them. Either way [`Socket::recv_until`] reads until the reply it waits for has
//! come, and never longer than the socket's deadline: a reply that was lost (the receive buffer
//! overran) or never sent is an error, not a thread blocked for good.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR};
use netlink_sys::Socket as NlSocket;
use rustix::net::{RecvFlags, SendFlags, sockopt};

use super::Error;
use crate::netlink::{self, HEADER_LEN, Received, align, attributes, messages};

/// The receive buffer the kernel may fill before it drops replies. A batch is acked only at its
/// end (see `batch.rs`), so an accepted batch of any size queues two replies (the generation and
/// the final ack); a refused one queues one error per refused message, capped (no echo of the
/// request), of which this holds tens of thousands. Past that the kernel drops them and the
/// next read reports `ENOBUFS`: [`Error::Overrun`], whose outcome the caller must resync.
/// Dumps are read as they come.
const RECV_BUFFER: usize = 8 << 20;
/// How long a read waits for the kernel. Netlink requests to nf_tables are handled within the
/// sending call or, for dumps, as the reader reads: a kernel that has not answered in this long
/// has lost the reply, and the writer must not wait for it forever.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// The largest datagram read at once. A dump part is at most a page-sized skb of a few tens of
/// KiB; an ack with ext-ack text is well under a page.
const READ_CHUNK: usize = 256 << 10;
/// `NLM_F_CAPPED` on an ack: the request's payload is not echoed.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` on an ack: extended-ack attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the kernel's error text.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `NLMSGERR_ATTR_OFFS`: the offset of the offending attribute in the request.
const NLMSGERR_ATTR_OFFS: u16 = 2;

/// One netlink message received from the kernel.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) message_type: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    /// The netlink port the message came from; for a ruleset notification, the port of the
    /// socket whose batch caused it.
    pub(crate) port: u32,
    /// Everything after the `nlmsghdr`.
    pub(crate) payload: Vec<u8>,
}

/// A parsed `NLMSG_ERROR`: an ack when `errno` is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    /// Positive errno, 0 for success.
    pub(crate) errno: i32,
    /// The kernel's extended-ack text.
    pub(crate) message: Option<String>,
    /// Offset of the offending attribute from the start of the request message.
    pub(crate) offset: Option<u32>,
}

impl Reply {
    pub(crate) fn is_done(&self) -> bool {
        self.message_type == NLMSG_DONE
    }

    /// The ack or error this reply carries, if it is an `NLMSG_ERROR`.
    pub(crate) fn ack(&self) -> Option<Ack> {
        if self.message_type != NLMSG_ERROR || self.payload.len() < 4 {
            return None;
        }
        let code = i32::from_ne_bytes(self.payload[..4].try_into().ok()?);
        let mut ack = Ack {
            errno: code.saturating_abs(),
            message: None,
            offset: None,
        };
        if self.flags & NLM_F_ACK_TLVS == 0 {
            return Some(ack);
        }
        let request = &self.payload[4..];
        let echoed = if self.flags & NLM_F_CAPPED != 0 || request.len() < 4 {
            HEADER_LEN
        } else {
            align(u32::from_ne_bytes(request[..4].try_into().ok()?) as usize)
        };
        for (kind, value) in attributes(request.get(echoed..).unwrap_or_default()) {
            match kind {
                NLMSGERR_ATTR_MSG => {
                    let text = value.split(|b| *b == 0).next().unwrap_or_default();
                    ack.message = Some(String::from_utf8_lossy(text).into_owned());
                }
                NLMSGERR_ATTR_OFFS if value.len() >= 4 => {
                    ack.offset = Some(u32::from_ne_bytes(value[..4].try_into().ok()?));
                }
                _ => {}
            }
        }
        Some(ack)
    }
}

/// One `NETLINK_NETFILTER` socket in the namespace of the thread that opened it.
#[derive(Debug)]
pub(crate) struct Socket {
    inner: NlSocket,
    port: u32,
    send_buffer: usize,
    read: Vec<u8>,
    deadline: Duration,
}

impl Socket {
    /// Opens the socket with capped acks and extended acks on, and a large receive buffer.
    pub(crate) fn open() -> Result<Self, Error> {
        let step = |step| move |source| Error::Socket { step, source };
        let (inner, port) = netlink::open(RECV_BUFFER).map_err(Error::setup)?;
        inner
            .set_ext_ack(true)
            .map_err(step("enable extended acks"))?;
        inner.set_cap_ack(true).map_err(step("cap acks"))?;
        let send_buffer = sockopt::socket_send_buffer_size(&inner)
            .map_err(|e| step("read the send buffer size")(e.into()))?;
        let mut socket = Self {
            inner,
            port,
            send_buffer,
            read: vec![0; READ_CHUNK],
            deadline: DEFAULT_DEADLINE,
        };
        socket.set_deadline(DEFAULT_DEADLINE)?;
        Ok(socket)
    }

    /// Sets how long [`Socket::recv_until`] waits for its reply, in all (`SO_RCVTIMEO` bounds
    /// each read by the same span).
    pub(crate) fn set_deadline(&mut self, deadline: Duration) -> Result<(), Error> {
        sockopt::set_socket_timeout(&self.inner, sockopt::Timeout::Recv, Some(deadline)).map_err(
            |e| Error::Socket {
                step: "set the receive timeout",
                source: e.into(),
            },
        )?;
        self.deadline = deadline;
        Ok(())
    }

    /// Sends `buf` as one datagram, so a batch reaches the kernel whole (a batch split over
    /// datagrams is refused). The send buffer grows to fit; the kernel rejects a datagram larger
    /// than the buffer with `EMSGSIZE`.
    pub(crate) fn send(&mut self, buf: &[u8], operation: &str) -> Result<(), Error> {
        let needed = buf.len() + 64 * 1024;
        if needed > self.send_buffer {
            let size = needed.next_power_of_two();
            sockopt::set_socket_send_buffer_size_force(&self.inner, size)
                .map_err(|e| Error::io(format!("{operation} (raise send buffer)"), e.into()))?;
            self.send_buffer = size;
        }
        let sent = rustix::net::send(&self.inner, buf, SendFlags::empty())
            .map_err(|e| Error::io(operation, e.into()))?;
        if sent != buf.len() {
            return Err(Error::protocol(
                operation,
                format!("sent {sent} of {} bytes", buf.len()),
            ));
        }
        Ok(())
    }

    /// Reads until `done` says the replies so far complete the request, then whatever else is
    /// already queued. Fails with [`Error::Timeout`] when the deadline passes first, and with
    /// [`Error::Overrun`] when the kernel dropped replies; in both cases what was queued is
    /// read first, so the next request starts on an empty socket.
    pub(crate) fn recv_until(
        &mut self,
        operation: &str,
        mut done: impl FnMut(&Reply) -> bool,
    ) -> Result<Vec<Reply>, Error> {
        let deadline = Instant::now() + self.deadline;
        let mut replies = Vec::new();
        let mut seen = 0;
        loop {
            match self.read_one(RecvFlags::empty(), &mut replies, operation) {
                Ok(Read::Some) => {}
                Ok(Read::Nothing) if Instant::now() >= deadline => {
                    return Err(Error::Timeout {
                        operation: operation.to_owned(),
                        waited: self.deadline,
                    });
                }
                Ok(Read::Nothing) => continue,
                Err(e) => {
                    self.discard();
                    return Err(e);
                }
            }
            if replies[seen..].iter().any(&mut done) {
                while let Ok(Read::Some) =
                    self.read_one(RecvFlags::DONTWAIT, &mut replies, operation)
                {}
                return Ok(replies);
            }
            seen = replies.len();
        }
    }

    /// Throws away whatever is queued (after an error, so stale replies do not answer the next
    /// request).
    fn discard(&mut self) {
        let mut sink = Vec::new();
        for _ in 0..1_000_000 {
            sink.clear();
            match self.read_one(RecvFlags::DONTWAIT, &mut sink, "discard stale replies") {
                Ok(Read::Some) | Err(Error::Overrun { .. }) => {}
                Ok(Read::Nothing) | Err(_) => return,
            }
        }
    }

    /// Reads one datagram into `out`. A blocking read that times out (`SO_RCVTIMEO`), or a
    /// non-blocking one with nothing queued, reads nothing.
    fn read_one(
        &mut self,
        flags: RecvFlags,
        out: &mut Vec<Reply>,
        operation: &str,
    ) -> Result<Read, Error> {
        let received = netlink::recv(&self.inner, &mut self.read[..], flags);
        let (len, full) = match received.map_err(|e| Error::io(operation, e))? {
            Received::Data { len, full } => (len, full),
            Received::Empty | Received::Interrupted => return Ok(Read::Nothing),
            Received::Overrun => {
                return Err(Error::Overrun {
                    operation: operation.to_owned(),
                });
            }
        };
        if full > len {
            return Err(Error::protocol(
                operation,
                format!("a {full}-byte datagram did not fit the {len}-byte read buffer"),
            ));
        }
        split_messages(&self.read[..len], out).map_err(|e| Error::protocol(operation, e))?;
        Ok(Read::Some)
    }
}

/// What one read got.
enum Read {
    Some,
    Nothing,
}

impl Socket {
    /// The socket's netlink port id.
    pub(crate) fn port(&self) -> u32 {
        self.port
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// Splits one datagram into its netlink messages.
pub(crate) fn split_messages(data: &[u8], out: &mut Vec<Reply>) -> Result<(), String> {
    for message in messages(data) {
        let message = message?;
        out.push(Reply {
            message_type: message.kind,
            flags: message.flags,
            seq: message.seq,
            port: message.port,
            payload: message.body.to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::netlink::{encode_attribute as tlv, encode_message};

    #[test]
    fn extended_ack_text_and_offset_are_read_from_a_capped_error() {
        let mut payload = (-22i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0; HEADER_LEN]); // the request's header, payload capped
        payload.extend(tlv(
            NLMSGERR_ATTR_MSG,
            b"Attribute failed policy validation\0",
        ));
        payload.extend(tlv(NLMSGERR_ATTR_OFFS, &36u32.to_ne_bytes()));
        let reply = Reply {
            message_type: NLMSG_ERROR,
            flags: NLM_F_CAPPED | NLM_F_ACK_TLVS,
            seq: 7,
            port: 0,
            payload,
        };
        assert_eq!(
            reply.ack(),
            Some(Ack {
                errno: 22,
                message: Some("Attribute failed policy validation".to_owned()),
                offset: Some(36),
            })
        );
    }

    #[test]
    fn a_plain_ack_has_no_error() {
        let mut payload = 0i32.to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0; HEADER_LEN]);
        let reply = Reply {
            message_type: NLMSG_ERROR,
            flags: NLM_F_CAPPED,
            seq: 1,
            port: 0,
            payload,
        };
        assert_eq!(reply.ack().map(|a| a.errno), Some(0));
    }

    /// A reply that never comes (here: one with a sequence number nobody asked for, while the
    /// kernel answers another request) fails the read after the deadline instead of blocking
    /// it for good, and the socket serves the next request. Opens a real netfilter socket and
    /// only reads the generation, so it needs the rights to raise its buffer (root) and changes
    /// nothing.
    #[test]
    fn a_reply_that_never_comes_times_out_and_the_socket_still_works() {
        // `(NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN`, asking nothing but the generation.
        fn getgen(seq: u32) -> Vec<u8> {
            let mut m = 20u32.to_ne_bytes().to_vec();
            m.extend_from_slice(&0x0a10u16.to_ne_bytes());
            m.extend_from_slice(&1u16.to_ne_bytes()); // NLM_F_REQUEST
            m.extend_from_slice(&seq.to_ne_bytes());
            m.extend_from_slice(&[0; 4]);
            m.extend_from_slice(&[0; 4]); // nfgenmsg: unspec family
            m
        }
        let mut socket = Socket::open().expect("open a netfilter socket (run as root)");
        let deadline = Duration::from_millis(300);
        socket.set_deadline(deadline).unwrap();
        socket.send(&getgen(7), "read the generation").unwrap();
        let started = Instant::now();
        let err = socket
            .recv_until("wait for a lost reply", |r| r.seq == 8)
            .unwrap_err();
        let waited = started.elapsed();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(err.outcome_unknown());
        assert!(
            waited >= deadline && waited < deadline * 10,
            "waited {waited:?}"
        );
        assert!(
            err.to_string().contains("did not answer within 0.3 s"),
            "{err}"
        );
        socket.send(&getgen(9), "read the generation").unwrap();
        let replies = socket
            .recv_until("read the generation", |r| r.seq == 9)
            .expect("the socket still answers");
        assert!(replies.iter().any(|r| r.seq == 9));
    }

    #[test]
    fn datagrams_split_into_aligned_messages() {
        let data = [
            encode_message(NLMSG_DONE, 1, b"abc"),
            encode_message(NLMSG_DONE, 2, b""),
        ]
        .concat();
        let mut out = Vec::new();
        split_messages(&data, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].seq, out[0].payload.as_slice()), (1, &b"abc"[..]));
        assert!(out[1].is_done());
        assert!(split_messages(&data[..18], &mut Vec::new()).is_err());
    }
}
