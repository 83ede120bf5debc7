//! Connection tracking events: a socket joined to `NFNLGRP_CONNTRACK_NEW` and
//! `NFNLGRP_CONNTRACK_DESTROY` in the calling thread's network namespace, and a decoder for the
//! few attributes the firewall log needs (the original tuple, the id, the labels).
//!
//! The kernel reports every connection of the namespace; the ruleset labels the ones fw6 logs
//! (`ct label set`, [`fw6_model::plan::CONNECTION_LABEL_IN`]), and a caller keeps the ids of
//! labelled new connections to recognise their end: the kernel puts labels in new-connection
//! events but not in destroy events. Decoding is by hand, one pass, like the NFLOG reader: the
//! general parser formats a string per attribute, too slow for a connection flood.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use netlink_sys::Socket;
use rustix::net::RecvFlags;
use rustix::net::sockopt::{self, Timeout};

use crate::netlink::{self, Received, attributes, messages};

/// `NFNLGRP_CONNTRACK_NEW`, `NFNLGRP_CONNTRACK_DESTROY`.
const GROUP_NEW: u32 = 1;
const GROUP_DESTROY: u32 = 3;
/// `NFNL_SUBSYS_CTNETLINK` << 8 | `IPCTNL_MSG_CT_NEW` / `IPCTNL_MSG_CT_DELETE`.
const MSG_NEW: u16 = 1 << 8;
const MSG_DELETE: u16 = (1 << 8) | 2;
/// `AF_INET`, `AF_INET6`: fw6 logs connections of both families.
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
// Attributes (`enum ctattr_type`, `ctattr_tuple`, `ctattr_ip`, `ctattr_l4proto`).
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_ID: u16 = 12;
const CTA_LABELS: u16 = 22;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtEventKind {
    /// It was confirmed (its first packet passed every hook).
    New,
    /// It ended (timed out, closed and reaped, or deleted).
    Destroy,
}

/// One IPv4 or IPv6 connection event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtEvent {
    /// New or destroyed.
    pub kind: CtEventKind,
    /// The kernel's id of the connection (`CTA_ID`), the same in both events.
    pub id: Option<u32>,
    /// The connection's label bits (`CTA_LABELS`, bit n in byte n / 8); zero when absent.
    pub labels: [u8; 16],
    /// The upper-layer protocol number.
    pub protocol: u8,
    /// The originator's address.
    pub src: IpAddr,
    /// The responder's address.
    pub dst: IpAddr,
    /// The originator's port, for protocols with ports.
    pub src_port: Option<u16>,
    /// The responder's port.
    pub dst_port: Option<u16>,
}

impl CtEvent {
    /// Whether label bit `bit` is set.
    pub fn has_label(&self, bit: u8) -> bool {
        self.labels[usize::from(bit / 8)] & (1 << (bit % 8)) != 0
    }
}

/// A socket receiving connection events. Dropping it leaves the groups.
#[derive(Debug)]
pub struct ConntrackEvents {
    socket: Socket,
    read: Vec<u8>,
    overruns: u64,
}

impl ConntrackEvents {
    /// Joins the new and destroy groups; [`ConntrackEvents::read`] waits at most `poll`.
    /// `receive_buffer` bytes may queue before the kernel drops events.
    pub fn subscribe(poll: Duration, receive_buffer: usize) -> io::Result<Self> {
        let (socket, _) = netlink::open(receive_buffer).map_err(|e| e.source)?;
        socket.add_membership(GROUP_NEW)?;
        socket.add_membership(GROUP_DESTROY)?;
        sockopt::set_socket_timeout(&socket, Timeout::Recv, Some(poll))?;
        Ok(Self {
            socket,
            read: vec![0; 256 << 10],
            overruns: 0,
        })
    }

    /// Times the socket's buffer overflowed (`ENOBUFS`): each is one or more events lost, the
    /// kernel does not say how many.
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Waits up to the poll period for one datagram and appends its IPv6 events to `out`.
    pub fn read(&mut self, out: &mut Vec<CtEvent>) -> io::Result<usize> {
        let before = out.len();
        let len = match netlink::recv(&self.socket, &mut self.read[..], RecvFlags::empty())? {
            Received::Data { len, .. } => len,
            Received::Empty | Received::Interrupted => return Ok(0),
            Received::Overrun => {
                self.overruns += 1;
                return Ok(0);
            }
        };
        for message in messages(&self.read[..len]).map_while(Result::ok) {
            let kind = match message.kind {
                MSG_NEW => CtEventKind::New,
                MSG_DELETE => CtEventKind::Destroy,
                _ => continue,
            };
            if let Some(event) = decode(kind, message.body) {
                out.push(event);
            }
        }
        Ok(out.len() - before)
    }
}

/// An event from its message body (`struct nfgenmsg` and attributes); `None` if neither IPv4
/// nor IPv6.
fn decode(kind: CtEventKind, body: &[u8]) -> Option<CtEvent> {
    let unspecified: IpAddr = match *body.first()? {
        AF_INET6 => Ipv6Addr::UNSPECIFIED.into(),
        AF_INET => Ipv4Addr::UNSPECIFIED.into(),
        _ => return None,
    };
    let mut event = CtEvent {
        kind,
        id: None,
        labels: [0; 16],
        protocol: 0,
        src: unspecified,
        dst: unspecified,
        src_port: None,
        dst_port: None,
    };
    let mut tuple = false;
    for (kind, value) in attributes(body.get(4..)?) {
        match kind {
            CTA_TUPLE_ORIG => {
                tuple = true;
                for (kind, value) in attributes(value) {
                    match kind {
                        CTA_TUPLE_IP => {
                            for (kind, value) in attributes(value) {
                                let v6 = || <[u8; 16]>::try_from(value).ok().map(IpAddr::from);
                                let v4 = || <[u8; 4]>::try_from(value).ok().map(IpAddr::from);
                                match kind {
                                    CTA_IP_V6_SRC => event.src = v6()?,
                                    CTA_IP_V6_DST => event.dst = v6()?,
                                    CTA_IP_V4_SRC => event.src = v4()?,
                                    CTA_IP_V4_DST => event.dst = v4()?,
                                    _ => {}
                                }
                            }
                        }
                        CTA_TUPLE_PROTO => {
                            for (kind, value) in attributes(value) {
                                let port = <[u8; 2]>::try_from(value).ok().map(u16::from_be_bytes);
                                match kind {
                                    CTA_PROTO_NUM => event.protocol = *value.first()?,
                                    CTA_PROTO_SRC_PORT => event.src_port = port,
                                    CTA_PROTO_DST_PORT => event.dst_port = port,
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            CTA_ID => event.id = <[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes),
            CTA_LABELS => {
                let n = value.len().min(16);
                event.labels[..n].copy_from_slice(&value[..n]);
            }
            _ => {}
        }
    }
    tuple.then_some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::netlink::encode_attribute as attribute;

    #[test]
    fn a_new_event_decodes_tuple_id_and_labels() {
        let src: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let dst: Ipv6Addr = "fd00:1::2".parse().unwrap();
        let ip = [
            attribute(CTA_IP_V6_SRC, &src.octets()),
            attribute(CTA_IP_V6_DST, &dst.octets()),
        ]
        .concat();
        let proto = [
            attribute(CTA_PROTO_NUM, &[6]),
            attribute(CTA_PROTO_SRC_PORT, &40000u16.to_be_bytes()),
            attribute(CTA_PROTO_DST_PORT, &22u16.to_be_bytes()),
        ]
        .concat();
        let tuple = [
            attribute(CTA_TUPLE_IP | 0x8000, &ip),
            attribute(CTA_TUPLE_PROTO | 0x8000, &proto),
        ]
        .concat();
        let mut labels = [0; 16];
        labels[15] = 0x40;
        let mut body = vec![AF_INET6, 0, 0, 0];
        body.extend(attribute(CTA_TUPLE_ORIG | 0x8000, &tuple));
        body.extend(attribute(CTA_ID, &7u32.to_be_bytes()));
        body.extend(attribute(CTA_LABELS, &labels));
        let event = decode(CtEventKind::New, &body).unwrap();
        assert_eq!(
            (event.src, event.dst, event.protocol),
            (src.into(), dst.into(), 6)
        );
        assert_eq!(
            (event.src_port, event.dst_port, event.id),
            (Some(40000), Some(22), Some(7))
        );
        assert!(event.has_label(126));
        assert!(!event.has_label(127));
        body[0] = 7; // neither family
        assert_eq!(decode(CtEventKind::New, &body), None);
        assert_eq!(decode(CtEventKind::New, &[AF_INET6, 0, 0, 0]), None);
    }

    #[test]
    fn an_ipv4_event_decodes_its_addresses() {
        let (src, dst) = (Ipv4Addr::new(10, 66, 1, 2), Ipv4Addr::new(10, 66, 1, 1));
        let ip = [
            attribute(CTA_IP_V4_SRC, &src.octets()),
            attribute(CTA_IP_V4_DST, &dst.octets()),
        ]
        .concat();
        let proto = [
            attribute(CTA_PROTO_NUM, &[17]),
            attribute(CTA_PROTO_SRC_PORT, &40000u16.to_be_bytes()),
            attribute(CTA_PROTO_DST_PORT, &53u16.to_be_bytes()),
        ]
        .concat();
        let tuple = [
            attribute(CTA_TUPLE_IP | 0x8000, &ip),
            attribute(CTA_TUPLE_PROTO | 0x8000, &proto),
        ]
        .concat();
        let mut body = vec![AF_INET, 0, 0, 0];
        body.extend(attribute(CTA_TUPLE_ORIG | 0x8000, &tuple));
        let event = decode(CtEventKind::Destroy, &body).unwrap();
        assert_eq!(
            (event.src, event.dst, event.dst_port),
            (src.into(), dst.into(), Some(53))
        );
    }
}
