//! fw6's kernel side.
//!
//! [`nft`] enforces a [`fw6_model::plan::TablePlan`] in nftables over raw
//! netlink: one atomic batch per change, errors that name the operation.

pub mod nft;

pub use nft::{Applied, Error, Monitor, Nft, Verify};
