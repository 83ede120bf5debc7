//! The fw6 daemon as a library, so its parts can be tested in-process: the durable store, the
//! single-writer engine, and the D-Bus service. The `fw6d` binary only wires them together.

pub mod store;
