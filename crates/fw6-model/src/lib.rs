//! The sans-IO core of fw6.
//!
//! Everything here is plain data and pure functions: the types of the IPv6 Internet Connection
//! Firewall (ICF) API, their validation, the twelve mutators with their exact ICF semantics, the
//! inbound decision rule, ICF-style snapshots, and the nftables plan that enforces a state. No
//! sockets, files or threads live in this crate, so every rule of the API is unit-testable and
//! the daemon, the kernel layer and the client library all share the same nouns.
//!
//! Section references point into the repository: `docs/icf-api.md §…` at the ICF semantics,
//! `docs/design.md §…` at the design decisions.

mod change;
mod connection_id;
mod decision;
mod error;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod ifname;
mod lease;
mod leases;
mod logging;
mod mutation;
mod name;
mod other_chain;
pub mod pending;
pub mod plan;
mod port;
mod protocol;
mod snapshot;
mod state;
pub mod wire;

pub use change::Change;
pub use connection_id::ConnectionId;
pub use decision::{Decision, Reason};
pub use error::{Error, ErrorKind, HResult};
pub use ifname::IfName;
pub use lease::{
    BIND_TO_CALLER, LIFETIME, Lease, Lifetime, MAX_BOUND_PER_OWNER, MAX_COMMAND_BYTES,
    MAX_LIFETIME_SECONDS, OpenOptions, OptionValue, Owner, civil_from_days, utc,
};
pub use leases::Target;
pub use logging::{LogSettings, LogfileMaximumSize};
pub use mutation::{Argument, Member, MemberArgs, Mutation};
pub use name::{EntryName, MAX_NAME_BYTES};
pub use other_chain::{OtherChain, may_block};
pub use port::{Port, PortEntry, PortKey};
pub use protocol::Protocol;
pub use snapshot::Snapshot;
pub use state::{BatchChanges, ConnectionConfig, PairList, State};
