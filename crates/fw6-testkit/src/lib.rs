//! Test-only helpers for fw6: real network namespaces, veth topologies and packet probes, the
//! lab fw6d runs in for end-to-end tests ([`Lab`]), and the statistics measuring tests share.
//!
//! Everything here needs root and panics with a clear message without it: a privileged test
//! that silently skips would count as a pass (docs/design.md §6). Everything a helper creates
//! (namespaces, veth pairs, listener threads) lives in namespaces the helper created itself and
//! is removed on drop, also when the test panics. Nothing here touches the machine's own
//! network namespace: links are made with `ip -n <ours>`, sockets are opened on threads that
//! entered one of our namespaces, and traffic only goes to those namespaces.

pub mod bus;
pub mod capi;
mod cmd;
mod dad;
pub mod hostile;
mod interrupt;
mod lab;
mod memory;
mod neigh;
mod netns;
pub mod packet;
pub mod packet4;
mod probe;
mod raw;
mod root;
pub mod segment;
mod service;
pub mod stats;
mod sysctl;
mod tap;
mod topology;

pub use interrupt::{clean_up_on_signal, temp_path};
pub use lab::{Lab, LabBuilder, LabError, fw6d_bin, profile_dir};
pub use memory::Memory;
pub use neigh::NeighState;
pub use netns::{Entered, Inside, NetNs};
pub use probe::{Outcome, ping, tcp_connect, udp_exchange};
pub use raw::{
    SynReply, send_frag_needed, send_packet_too_big, send_raw, send_router_advert,
    send_syn_and_wait,
};
pub use root::require_root;
pub use service::Service;
pub use tap::PacketTap;
pub use topology::{Connection, Family, Topology};
