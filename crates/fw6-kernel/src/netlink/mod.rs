//! The netlink plumbing every socket of this crate shares: the nftables socket, its drift
//! monitor, the NFLOG reader and the conntrack follower all open a `NETLINK_NETFILTER` socket
//! the same way ([`open`]), read datagrams the same way ([`recv`]), split them into messages
//! ([`messages`]) and walk attributes ([`attributes`], over netlink-packet-core's iterator).
//! Each layer keeps only what is its own: its groups, options and error type.

mod attributes;
mod messages;
mod socket;

#[cfg(test)]
pub(crate) use attributes::encode_attribute;
pub(crate) use attributes::{align, attributes};
#[cfg(test)]
pub(crate) use messages::encode_message;
pub(crate) use messages::{HEADER_LEN, messages};
pub(crate) use socket::{Received, SetupError, open, recv};
