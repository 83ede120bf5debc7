//! The text formats of fw6, as pure functions so tests and fuzzers reach them without a bus:
//!
//! - the **batch file** of `fw6 batch` (`[[op]]` tables, one per state-changing member), parsed
//!   by [`parse_batch`] into mutations for one atomic `Apply`;
//! - the **export file** of `fw6 export` / `fw6 import` (the whole configuration: logging,
//!   global pairs, per-connection settings), written by [`render_export`] in a stable order and
//!   read back by [`parse_export`]; [`diff`] turns two of them into the mutations that lead from
//!   one to the other.
//!
//! Both are TOML and documented in `docs/cli.md`. Every error carries the line it is about.
//! [`fetch_export`] reads the daemon's configuration as an [`Export`] through the typed client;
//! the client itself does not depend on these formats.

mod batch;
mod diff;
mod error;
mod export;
mod fetch;
mod render;

pub use batch::parse_batch;
pub use diff::{describe, diff};
pub use error::FileError;
pub use export::{ConnectionExport, Export, Logging, PortSet, parse_export, port_set};
pub use fetch::{fetch_export, fetch_export_blocking};
pub use render::render_export;
