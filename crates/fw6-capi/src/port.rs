//! `INetFwV6Port` (documented `INetFwV6OpenPort`): `fw6_port_*`, one read-only entry of an
//! enumeration (docs/icf-api.md §2.3).

use std::ffi::c_char;

use crate::Protocol;
use crate::args::{out, write, write_string};
use crate::error::call;
use crate::handle::{Handle, borrow, release};
use crate::hresult::{FW6_S_OK, Hresult};

/// `fw6_port`: a (port, protocol, name) entry as an enumerator returned it.
#[derive(Debug)]
pub struct Port {
    pub(crate) entry: fw6::PortEntry,
}

impl Handle for Port {
    const KIND: &'static str = "fw6_port";
}

/// Releases the entry. NULL does nothing; a handle that is not live is `FW6_E_POINTER`.
///
/// # Safety
/// `port` is NULL or any pointer (checked in the registry before use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_release(port: *mut Port) -> Hresult {
    call(|| release(port))
}

/// `get_Port`: the port number, host byte order.
///
/// # Safety
/// `value` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_get_port(port: *mut Port, value: *mut u16) -> Hresult {
    call(|| {
        out(value, "value")?;
        let number = borrow(port)?.entry.port.get();
        // SAFETY: the caller guarantees `value` is writable.
        unsafe { write(value, number, "value") }?;
        Ok(FW6_S_OK)
    })
}

/// `get_Protocol`: `FW6_PROTOCOL_TCP` or `FW6_PROTOCOL_UDP`.
///
/// # Safety
/// `value` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_get_protocol(port: *mut Port, value: *mut Protocol) -> Hresult {
    call(|| {
        out(value, "value")?;
        let number = Protocol::from(borrow(port)?.entry.protocol.number());
        // SAFETY: the caller guarantees `value` is writable.
        unsafe { write(value, number, "value") }?;
        Ok(FW6_S_OK)
    })
}

/// `get_Name`: the name stored with the entry (the first one given). Free with
/// `fw6_string_free`.
///
/// # Safety
/// `value` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_get_name(port: *mut Port, value: *mut *mut c_char) -> Hresult {
    call(|| {
        out(value, "value")?;
        let name = borrow(port)?.entry.name.as_str().to_owned();
        // SAFETY: the caller guarantees `value` is writable.
        unsafe { write_string(value, name, "value") }?;
        Ok(FW6_S_OK)
    })
}
