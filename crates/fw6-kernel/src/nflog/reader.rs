//! The NFLOG socket: bind a group, configure how the kernel batches, read packet messages.

use std::io;
use std::time::Duration;

use netlink_packet_core::NLMSG_ERROR;
use netlink_sys::Socket;
use rustix::net::sockopt::{self, Timeout};
use rustix::net::{RecvFlags, SendFlags};

use super::message::{Config, PACKET, decode_packet};
use super::{NflogError, Record};
use crate::netlink::{self, Received, messages};

/// Replies read while waiting for one configuration ack before giving up: packets of the
/// freshly bound group may arrive first.
const MAX_REPLIES_PER_ACK: usize = 1000;

/// How the kernel hands packets to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Bytes of each packet copied (the rules' `snaplen` also caps it).
    pub copy_range: u32,
    /// The kernel sends a batch once it holds this many packets …
    pub queue_threshold: u32,
    /// … or this long after the first (rounded to hundredths of a second, at least one).
    pub flush_timeout: Duration,
    /// The kernel's batch buffer in bytes (it clamps to 4 KiB–128 KiB).
    pub batch_bytes: u32,
    /// The socket's receive buffer: how much may queue while the reader is busy before the
    /// kernel drops (and the sequence numbers show it).
    pub receive_buffer: usize,
    /// How long [`Reader::read`] waits for a datagram before returning empty-handed, so the
    /// thread calling it can look at other things.
    pub poll: Duration,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            copy_range: fw6_model::plan::LOG_SNAPLEN,
            queue_threshold: 64,
            flush_timeout: Duration::from_millis(20),
            batch_bytes: 64 << 10,
            receive_buffer: 4 << 20,
            poll: Duration::from_millis(250),
        }
    }
}

/// A bound NFLOG group in the network namespace of the thread that bound it. Dropping it closes
/// the socket, which releases the group.
#[derive(Debug)]
pub struct Reader {
    socket: Socket,
    group: u16,
    read: Vec<u8>,
    seq: u32,
    next: Option<u32>,
    lost: u64,
}

impl Reader {
    /// Binds `group` (its IPv4 and IPv6 packets alike) and configures copy mode, batching and sequence numbers.
    /// `EBUSY` means another socket (another program) already reads the group.
    pub fn bind(group: u16, options: &ReaderOptions) -> Result<Self, NflogError> {
        let step = |step| move |source| NflogError::Socket { step, source };
        let (socket, _) =
            netlink::open(options.receive_buffer).map_err(|e| NflogError::Socket {
                step: e.step,
                source: e.source,
            })?;
        // Loss is counted from sequence gaps; an ENOBUFS error would only say "some".
        socket
            .set_no_enobufs(true)
            .map_err(step("set NETLINK_NO_ENOBUFS"))?;
        sockopt::set_socket_timeout(&socket, Timeout::Recv, Some(options.poll))
            .map_err(|e| step("set the receive timeout")(e.into()))?;
        let mut reader = Self {
            socket,
            group,
            read: vec![0; 256 << 10],
            seq: 0,
            next: None,
            lost: 0,
        };
        let hundredths = u32::try_from(options.flush_timeout.as_millis().div_ceil(10))
            .unwrap_or(u32::MAX)
            .max(1);
        for config in [
            Config::Bind,
            Config::CopyPacket(options.copy_range),
            Config::BufferSize(options.batch_bytes),
            Config::QueueThreshold(options.queue_threshold.max(1)),
            Config::Timeout(hundredths),
            Config::Sequence,
        ] {
            reader.configure(config)?;
        }
        Ok(reader)
    }

    /// The bound group.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// Messages the kernel numbered but could not deliver (the receive buffer was full), since
    /// the reader was bound.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Waits up to [`ReaderOptions::poll`] for one datagram and appends its packets to `out`.
    /// Returns how many were appended; 0 after a quiet poll period.
    pub fn read(&mut self, out: &mut Vec<Record>) -> Result<usize, NflogError> {
        let before = out.len();
        let received = netlink::recv(&self.socket, &mut self.read[..], RecvFlags::empty());
        let len = match received.map_err(NflogError::Read)? {
            Received::Data { len, .. } => len,
            // An overrun is not expected with NETLINK_NO_ENOBUFS; the sequence gap counts
            // what was lost.
            Received::Empty | Received::Interrupted | Received::Overrun => return Ok(0),
        };
        for message in messages(&self.read[..len]) {
            let message = message.map_err(NflogError::Malformed)?;
            // Batches end with NLMSG_DONE, skipped like anything else that is not a packet.
            if message.kind != PACKET {
                continue;
            }
            let (record, seq) = decode_packet(message.body);
            if let Some(seq) = seq {
                if let Some(next) = self.next {
                    let gap = seq.wrapping_sub(next);
                    if gap < 1 << 31 {
                        self.lost += u64::from(gap);
                    }
                }
                self.next = Some(seq.wrapping_add(1));
            }
            out.push(record);
        }
        Ok(out.len() - before)
    }

    /// Sends one configuration request and waits for its ack.
    fn configure(&mut self, config: Config) -> Result<(), NflogError> {
        self.seq += 1;
        let request = config.encode(self.group, self.seq);
        rustix::net::send(&self.socket, &request, SendFlags::empty()).map_err(|e| {
            NflogError::Socket {
                step: config.step(),
                source: e.into(),
            }
        })?;
        for _ in 0..MAX_REPLIES_PER_ACK {
            let len = rustix::net::recv(&self.socket, &mut self.read[..], RecvFlags::empty())
                .map_err(|e| NflogError::Socket {
                    step: config.step(),
                    source: e.into(),
                })?
                .0;
            for message in messages(&self.read[..len]) {
                let message = message.map_err(NflogError::Malformed)?;
                let body = message.body;
                if message.kind != NLMSG_ERROR || message.seq != self.seq || body.len() < 4 {
                    continue;
                }
                let errno = i32::from_ne_bytes(body[..4].try_into().expect("4 bytes"));
                if errno == 0 {
                    return Ok(());
                }
                return Err(NflogError::Refused {
                    step: config.step(),
                    group: self.group,
                    source: io::Error::from_raw_os_error(errno.saturating_abs()),
                });
            }
        }
        Err(NflogError::Malformed(format!(
            "no answer to the request to {}",
            config.step()
        )))
    }
}
