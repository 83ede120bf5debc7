//! The `fw6` command-line tool (docs/cli.md).

pub mod args;
pub mod change;
pub mod confirm;
pub mod exit;
pub mod explain;
pub mod generate;
pub mod hold;
pub mod import;
pub mod output;
pub mod run;
pub mod session;
pub mod show;
pub mod tail;
pub mod target;
