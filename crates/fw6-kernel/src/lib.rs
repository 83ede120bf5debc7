//! fw6's kernel side.
//!
//! [`nft`] enforces a [`fw6_model::plan::TablePlan`] in nftables over raw
//! netlink: one atomic batch per change, errors that name the operation.
//!
//! [`link`] dumps links and follows link events over rtnetlink (subscribe, then dump;
//! resync after an overrun).

pub mod link;
pub mod nft;

pub use nft::{Applied, Error, Monitor, Nft, Verify};
