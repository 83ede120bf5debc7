//! libfw6: the C library of fw6, shaped like the ICF's `Netfwv6.h` (docs/c-api.md).
//!
//! Every ICF member of the spec's checklist (docs/icf-api.md) is one `extern "C"` function over
//! the blocking client of the `fw6` crate: opaque handles (`fw6_manager`, `fw6_connection`, the
//! port entry `fw6_port`, the two collections and the two enumerators), an `int32_t` HRESULT
//! return with the ICF's values and out-parameters. The header `include/fw6.h` is generated
//! from this source by cbindgen and committed; `tests/header.rs` fails when it drifts.
//!
//! What the boundary guarantees, whatever the caller passes: a null pointer is `FW6_E_POINTER`,
//! a handle that is not live (released already, or of another kind) is `FW6_E_POINTER`, invalid
//! UTF-8 and out-of-range values are `FW6_E_INVALIDARG`, and no panic unwinds into C (it becomes
//! `FW6_E_UNEXPECTED`). Each failing call leaves a message for `fw6_last_error_message()`.

#![allow(
    unsafe_code,
    reason = "a C ABI takes raw pointers; every unsafe block says why it is sound"
)]

mod args;
mod collection;
mod connection;
mod enumerator;
mod error;
mod handle;
mod hresult;
mod manager;
mod port;

pub use collection::{ConnectionCollection, PortCollection};
pub use connection::Connection;
pub use enumerator::{ConnectionEnum, PortEnum};
pub use error::{fw6_last_error_hresult, fw6_last_error_message, fw6_string_free};
pub use hresult::*;
pub use manager::Manager;
pub use port::Port;

/// `PORT_PROTOCOL`: a transport protocol, `FW6_PROTOCOL_TCP` or `FW6_PROTOCOL_UDP`. An `int32_t`
/// rather than a C enum so that any value a caller passes is defined behaviour (and refused
/// with `FW6_E_INVALIDARG` when it is neither).
pub type Protocol = i32;

/// `PORT_PROTOCOL_TCP`.
pub const FW6_PROTOCOL_TCP: Protocol = 6;
/// `PORT_PROTOCOL_UDP`.
pub const FW6_PROTOCOL_UDP: Protocol = 17;
