//! `INetFwV6Connection`: `fw6_connection_*`, one connection and its own settings (docs/icf-api.md
//! §2.2).

use std::ffi::c_char;

use crate::Protocol;
use crate::args::{entry_name, lifetime, out, pair, write, write_string};
use crate::collection::PortCollection;
use crate::enumerator::PortEnum;
use crate::error::call;
use crate::handle::{Handle, borrow, new_handle, release};
use crate::hresult::{FW6_S_OK, Hresult};

/// `fw6_connection`: one connection of the manager. Its properties are read live on each call.
#[derive(Debug)]
pub struct Connection {
    pub(crate) inner: fw6::blocking::Connection,
}

impl Handle for Connection {
    const KIND: &'static str = "fw6_connection";
}

/// Releases the connection. NULL does nothing; a handle that is not live is `FW6_E_POINTER`.
/// Do not release a handle another thread is using.
///
/// # Safety
/// `connection` is NULL or any pointer (checked in the registry before use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_release(connection: *mut Connection) -> Hresult {
    call(|| release(connection))
}

/// `get_Name`: the interface alias if set, else the interface name. Free with
/// `fw6_string_free`.
///
/// # Safety
/// `name` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_get_name(
    connection: *mut Connection,
    name: *mut *mut c_char,
) -> Hresult {
    call(|| {
        out(name, "name")?;
        let value = borrow(connection)?.inner.name()?;
        // SAFETY: the caller guarantees `name` is writable.
        unsafe { write_string(name, value, "name") }?;
        Ok(FW6_S_OK)
    })
}

/// `get_Id`: the braced upper-case GUID that `fw6_manager_get_connection` accepts. Free with
/// `fw6_string_free`.
///
/// # Safety
/// `id` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_get_id(
    connection: *mut Connection,
    id: *mut *mut c_char,
) -> Hresult {
    call(|| {
        out(id, "id")?;
        let value = borrow(connection)?.inner.id()?.to_string();
        // SAFETY: the caller guarantees `id` is writable.
        unsafe { write_string(id, value, "id") }?;
        Ok(FW6_S_OK)
    })
}

/// `EnableFirewall`: filter unsolicited inbound traffic on this connection.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enable_firewall(connection: *mut Connection) -> Hresult {
    call(|| {
        borrow(connection)?.inner.enable_firewall()?;
        Ok(FW6_S_OK)
    })
}

/// `DisableFirewall`: let all inbound traffic on this connection through.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_disable_firewall(connection: *mut Connection) -> Hresult {
    call(|| {
        borrow(connection)?.inner.disable_firewall()?;
        Ok(FW6_S_OK)
    })
}

/// `get_IsFirewalled`.
///
/// # Safety
/// `firewalled` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_get_is_firewalled(
    connection: *mut Connection,
    firewalled: *mut bool,
) -> Hresult {
    call(|| {
        out(firewalled, "firewalled")?;
        let value = borrow(connection)?.inner.is_firewalled()?;
        // SAFETY: the caller guarantees `firewalled` is writable.
        unsafe { write(firewalled, value, "firewalled") }?;
        Ok(FW6_S_OK)
    })
}

/// `OpenPort`: opens the pair on this connection. Re-opening is no error and keeps the first
/// name, which other programs read as the owner's tag.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_open_port(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
    name: *const c_char,
) -> Hresult {
    call(|| {
        let c = borrow(connection)?;
        let key = pair(port, protocol)?;
        // SAFETY: the caller guarantees a NUL-terminated string.
        let name = unsafe { entry_name(name) }?;
        c.inner.open_port(key, &name)?;
        Ok(FW6_S_OK)
    })
}

/// `OpenPortWithOptions` with a lifetime: the pair is open for `seconds` (1 to 2,592,000, 30
/// days), then fw6d closes it; `Explain` says until when. Opening it again renews the
/// lifetime, a plain `fw6_connection_open_port` makes it permanent, and a lifetime never
/// shortens a permanent opening. A lifetime out of range is `FW6_E_INVALIDARG`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_open_port_for(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
    name: *const c_char,
    seconds: u32,
) -> Hresult {
    call(|| {
        let c = borrow(connection)?;
        let key = pair(port, protocol)?;
        // SAFETY: the caller guarantees a NUL-terminated string.
        let name = unsafe { entry_name(name) }?;
        c.inner
            .open_port_with_options(key, &name, lifetime(seconds)?)?;
        Ok(FW6_S_OK)
    })
}

/// `ClosePort`: closing a pair that is not open is no error.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_close_port(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
) -> Hresult {
    call(|| {
        let c = borrow(connection)?;
        c.inner.close_port(pair(port, protocol)?)?;
        Ok(FW6_S_OK)
    })
}

/// `IsPortOpen`: whether the pair is in this connection's own open set (the global set is not
/// folded in).
///
/// # Safety
/// `open` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_is_port_open(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
    open: *mut bool,
) -> Hresult {
    call(|| {
        out(open, "open")?;
        let c = borrow(connection)?;
        let value = c.inner.is_port_open(pair(port, protocol)?)?;
        // SAFETY: the caller guarantees `open` is writable.
        unsafe { write(open, value, "open") }?;
        Ok(FW6_S_OK)
    })
}

/// `EnumerateOpenPorts`: an enumerator over this connection's open set now (one snapshot).
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enumerate_open_ports(
    connection: *mut Connection,
    result: *mut *mut PortEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let snapshot = borrow(connection)?.inner.open_ports()?;
            Ok(PortEnum::new(snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `get_OpenPorts`: a collection of this connection's open set now (one snapshot).
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_get_open_ports(
    connection: *mut Connection,
    result: *mut *mut PortCollection,
) -> Hresult {
    call(|| {
        let make = || {
            let snapshot = borrow(connection)?.inner.open_ports()?;
            Ok(PortCollection::new(snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `IgnoreGlobalPort`: the global open setting of the pair no longer applies here.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_ignore_global_port(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
    name: *const c_char,
) -> Hresult {
    call(|| {
        let c = borrow(connection)?;
        let key = pair(port, protocol)?;
        // SAFETY: the caller guarantees a NUL-terminated string.
        let name = unsafe { entry_name(name) }?;
        c.inner.ignore_global_port(key, &name)?;
        Ok(FW6_S_OK)
    })
}

/// `ObserveGlobalPort`: the global setting of the pair applies here again.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_observe_global_port(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
) -> Hresult {
    call(|| {
        let c = borrow(connection)?;
        c.inner.observe_global_port(pair(port, protocol)?)?;
        Ok(FW6_S_OK)
    })
}

/// `IsGlobalPortIgnored`.
///
/// # Safety
/// `ignored` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_is_global_port_ignored(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
    ignored: *mut bool,
) -> Hresult {
    call(|| {
        out(ignored, "ignored")?;
        let c = borrow(connection)?;
        let value = c.inner.is_global_port_ignored(pair(port, protocol)?)?;
        // SAFETY: the caller guarantees `ignored` is writable.
        unsafe { write(ignored, value, "ignored") }?;
        Ok(FW6_S_OK)
    })
}

/// `EnumerateIgnoredGlobalPorts`: an enumerator over this connection's ignored set now.
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enumerate_ignored_global_ports(
    connection: *mut Connection,
    result: *mut *mut PortEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let snapshot = borrow(connection)?.inner.ignored_global_ports()?;
            Ok(PortEnum::new(snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `get_IgnoredGlobalPorts`: a collection of this connection's ignored set now.
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_get_ignored_global_ports(
    connection: *mut Connection,
    result: *mut *mut PortCollection,
) -> Hresult {
    call(|| {
        let make = || {
            let snapshot = borrow(connection)?.inner.ignored_global_ports()?;
            Ok(PortCollection::new(snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `Explain` (fw6's addition to the ICF): whether an unsolicited inbound packet to the pair on
/// this connection passes, the rule that decided as a stable token (`open-on-connection`,
/// `globally-open`, `global-ignored`, `not-open`, `not-firewalled`) and a sentence for a person.
/// Free both strings with `fw6_string_free`.
///
/// # Safety
/// `allowed`, `reason` and `sentence` are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_explain(
    connection: *mut Connection,
    port: u16,
    protocol: Protocol,
    allowed: *mut bool,
    reason: *mut *mut c_char,
    sentence: *mut *mut c_char,
) -> Hresult {
    call(|| {
        out(allowed, "allowed")?;
        out(reason, "reason")?;
        out(sentence, "sentence")?;
        let c = borrow(connection)?;
        let verdict = c.inner.explain(pair(port, protocol)?)?;
        // SAFETY: the caller guarantees the three out-parameters are writable.
        unsafe {
            write(allowed, verdict.allowed, "allowed")?;
            write_string(reason, verdict.reason.as_str().to_owned(), "reason")?;
            write_string(sentence, verdict.sentence, "sentence")?;
        }
        Ok(FW6_S_OK)
    })
}
