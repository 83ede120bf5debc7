//! fw6's kernel side.
//!
//! [`nft`] enforces a [`fw6_model::plan::TablePlan`] in nftables over raw
//! netlink: one atomic batch per change, errors that name the operation.
//!
//! [`link`] dumps links and follows link events over rtnetlink (subscribe, then dump;
//! resync after an overrun).
//!
//! [`nflog`] reads the packets the log rules send to their NFLOG group.
//!
//! [`conntrack`] follows connection tracking's new and destroy events, for the log's CLOSE lines.

pub mod conntrack;
pub mod link;
mod netlink;
pub mod nflog;
pub mod nft;

pub use nft::{Applied, Error, Monitor, Nft, Protection, QUIET_ABOVE, Subscription, TableState};
