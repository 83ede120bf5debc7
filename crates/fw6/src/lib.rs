//! The client library of fw6, the IPv6 host firewall with the model and API of the Windows
//! IPv6 Internet Connection Firewall (ICF).
//!
//! fw6d owns `org.fw6.Firewall1` on the system bus (`docs/dbus-api.md`); this crate is its typed
//! client. [`Manager`] (async, tokio) and [`blocking::Manager`] expose every member: connections
//! and their open pairs, global open pairs, ignored globals, firewall on/off, the four logging
//! settings, `Explain`, `Status`, atomic batches ([`Manager::batch`]) and change notifications
//! ([`Manager::changes`]). Errors ([`Error`]) carry the ICF class and HRESULT.
//!
//! What people type for pairs is resolved here too, so every client reads it alike:
//! [`services`] (names from `/etc/services` and a built-in table), [`range`] (port ranges, their
//! maximum span, and folding pairs back into ranges) and [`spec`] (one argument to its pairs).
//!
//! The shared types (ports, pairs, names, mutations, snapshots) are those of `fw6-model`,
//! re-exported here so a program depends on this crate alone.
//!
//! ```no_run
//! use fw6::{EntryName, PortKey};
//!
//! # fn main() -> Result<(), fw6::Error> {
//! let manager = fw6::blocking::Manager::connect()?;
//! let lan = manager.connection("lan0")?;
//! let key: PortKey = "8080/tcp".parse()?;
//! lan.open_port(key, &EntryName::try_from("my web app")?)?;
//! assert!(lan.is_port_open(key)?);
//! # Ok(()) }
//! ```

mod audit;
mod batch;
pub mod blocking;
mod bound;
mod changes;
mod connection;
mod error;
pub mod file;
mod info;
mod manager;
mod pending;
pub mod range;
mod remote;
pub mod services;
pub mod spec;
pub mod wire;

pub use audit::AuditEntry;
pub use batch::Batch;
pub use bound::{Binding, BoundPort};
pub use changes::{ChangeKind, Changed, Changes, ConnectionEvent, Event};
pub use connection::Connection;
pub use error::{ERROR_PREFIX, Error};
pub use info::{ConnectionInfo, Explanation, Status, TableState};
pub use manager::{BUS_ADDRESS_ENV, Manager};
pub use pending::PendingChange;

/// The model's validation error (a bad pair, name or interface name found before any call);
/// converts into [`Error`] with the same class.
pub use fw6_model::Error as ModelError;
pub use fw6_model::{
    ConnectionId, Decision, EntryName, ErrorKind, HResult, IfName, Lease, Lifetime, LogSettings,
    LogfileMaximumSize, MAX_LIFETIME_SECONDS, MAX_NAME_BYTES, Mutation, OpenOptions, OtherChain,
    Owner, Port, PortEntry, PortKey, Protocol, Reason, Snapshot, may_block, utc,
};
