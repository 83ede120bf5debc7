//! The fw6 daemon as a library, so its parts can be tested in-process: the durable store, the
//! single-writer engine, and the D-Bus service. The `fw6d` binary only wires them together.

pub mod config;
pub mod daemon;
pub mod engine;
pub mod heap;
pub mod kernel;
pub mod leases;
pub mod logging;
pub mod others;
pub mod service;
pub mod store;
pub mod writer;
