//! `INetFwV6Mgr`: `fw6_manager_*`, the entry point (docs/icf-api.md §2.1).

use std::ffi::c_char;

use fw6::LogfileMaximumSize;

use crate::Protocol;
use crate::args::{entry_name, lifetime, out, pair, text, write, write_string};
use crate::collection::{ConnectionCollection, PortCollection};
use crate::connection::Connection;
use crate::enumerator::{ConnectionEnum, PortEnum};
use crate::error::call;
use crate::handle::{Handle, borrow, new_handle, release};
use crate::hresult::{FW6_S_OK, Hresult};

/// `fw6_manager`: a connection to fw6d (`CLSID_NetFwV6Mgr`). Connections and enumerators made
/// from it stay usable after it is released.
#[derive(Debug)]
pub struct Manager {
    pub(crate) inner: fw6::blocking::Manager,
}

impl Handle for Manager {
    const KIND: &'static str = "fw6_manager";
}

/// Creates the manager: connects to fw6d on the system bus, or on the bus at `FW6_BUS_ADDRESS`
/// when that variable is set. `FW6_E_UNEXPECTED` when fw6d cannot be reached (the message says
/// how to start it). Release with `fw6_manager_release`.
///
/// # Safety
/// `manager` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_new(manager: *mut *mut Manager) -> Hresult {
    call(|| {
        let make = || {
            let inner = fw6::blocking::Manager::connect()?;
            Ok(Manager { inner })
        };
        // SAFETY: the caller guarantees `manager` is NULL (refused) or valid for a write.
        unsafe { new_handle(manager, "manager", make) }
    })
}

/// Creates the manager on the message bus at `address` (e.g. `unix:path=/run/fw6-test/bus`).
///
/// # Safety
/// `address` is NULL or a NUL-terminated string; `manager` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_new_at(
    address: *const c_char,
    manager: *mut *mut Manager,
) -> Hresult {
    call(|| {
        let make = || {
            // SAFETY: the caller guarantees a NUL-terminated string.
            let address = unsafe { text(address, "address") }?;
            let inner = fw6::blocking::Manager::connect_to(address)?;
            Ok(Manager { inner })
        };
        // SAFETY: the caller guarantees `manager` is NULL (refused) or valid for a write.
        unsafe { new_handle(manager, "manager", make) }
    })
}

/// Releases the manager. NULL does nothing; a handle that is not live is `FW6_E_POINTER`.
/// Do not release a handle another thread is using.
///
/// # Safety
/// `manager` is NULL or any pointer (a live handle is checked in the registry before use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_release(manager: *mut Manager) -> Hresult {
    call(|| release(manager))
}

/// `EnumerateConnections`: an enumerator over the connections present now (one snapshot).
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_enumerate_connections(
    manager: *mut Manager,
    result: *mut *mut ConnectionEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let m = borrow(manager)?;
            let snapshot = m.inner.connections()?;
            Ok(ConnectionEnum::new(m.inner.clone(), snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `Connections`: a collection of the connections present now (one snapshot).
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_get_connections(
    manager: *mut Manager,
    result: *mut *mut ConnectionCollection,
) -> Hresult {
    call(|| {
        let make = || {
            let m = borrow(manager)?;
            let snapshot = m.inner.connections()?;
            let collection = ConnectionCollection::new(m.inner.clone(), snapshot);
            Ok(collection)
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `GetConnection`: the connection whose Id (`{GUID}`) or interface name is `id`;
/// `FW6_E_INVALIDARG` if there is none.
///
/// # Safety
/// `id` is NULL or a NUL-terminated string; `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_get_connection(
    manager: *mut Manager,
    id: *const c_char,
    result: *mut *mut Connection,
) -> Hresult {
    call(|| {
        let make = || {
            let m = borrow(manager)?;
            // SAFETY: the caller guarantees a NUL-terminated string.
            let id = unsafe { text(id, "id") }?;
            let inner = m.inner.connection(id)?;
            Ok(Connection { inner })
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `get_LogfilePath`; free the string with `fw6_string_free`.
///
/// # Safety
/// `path` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_get_logfile_path(
    manager: *mut Manager,
    path: *mut *mut c_char,
) -> Hresult {
    call(|| {
        out(path, "path")?;
        let settings = borrow(manager)?.inner.log_settings()?;
        // SAFETY: the caller guarantees `path` is writable.
        unsafe { write_string(path, settings.logfile_path, "path") }?;
        Ok(FW6_S_OK)
    })
}

/// `put_LogfilePath`: an absolute path (`FW6_E_INVALIDARG` otherwise).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_put_logfile_path(
    manager: *mut Manager,
    path: *const c_char,
) -> Hresult {
    call(|| {
        let m = borrow(manager)?;
        // SAFETY: the caller guarantees a NUL-terminated string.
        let path = unsafe { text(path, "path") }?;
        m.inner.set_logfile_path(path)?;
        Ok(FW6_S_OK)
    })
}

/// `get_LogfileMaximumSize`, in KiB.
///
/// # Safety
/// `kib` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_get_logfile_maximum_size(
    manager: *mut Manager,
    kib: *mut u32,
) -> Hresult {
    call(|| {
        out(kib, "kib")?;
        let settings = borrow(manager)?.inner.log_settings()?;
        // SAFETY: the caller guarantees `kib` is writable.
        unsafe { write(kib, settings.logfile_maximum_size.kib(), "kib") }?;
        Ok(FW6_S_OK)
    })
}

/// `put_LogfileMaximumSize`, in KiB, 1-32767 (`FW6_E_INVALIDARG` otherwise).
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_put_logfile_maximum_size(
    manager: *mut Manager,
    kib: u32,
) -> Hresult {
    call(|| {
        let m = borrow(manager)?;
        m.inner
            .set_logfile_maximum_size(LogfileMaximumSize::try_from(kib)?)?;
        Ok(FW6_S_OK)
    })
}

/// `get_LogDroppedPackets`.
///
/// # Safety
/// `enabled` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_get_log_dropped_packets(
    manager: *mut Manager,
    enabled: *mut bool,
) -> Hresult {
    call(|| {
        out(enabled, "enabled")?;
        let settings = borrow(manager)?.inner.log_settings()?;
        // SAFETY: the caller guarantees `enabled` is writable.
        unsafe { write(enabled, settings.log_dropped_packets, "enabled") }?;
        Ok(FW6_S_OK)
    })
}

/// `put_LogDroppedPackets`.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_put_log_dropped_packets(
    manager: *mut Manager,
    enabled: bool,
) -> Hresult {
    call(|| {
        borrow(manager)?.inner.set_log_dropped_packets(enabled)?;
        Ok(FW6_S_OK)
    })
}

/// `get_LogConnections`.
///
/// # Safety
/// `enabled` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_get_log_connections(
    manager: *mut Manager,
    enabled: *mut bool,
) -> Hresult {
    call(|| {
        out(enabled, "enabled")?;
        let settings = borrow(manager)?.inner.log_settings()?;
        // SAFETY: the caller guarantees `enabled` is writable.
        unsafe { write(enabled, settings.log_connections, "enabled") }?;
        Ok(FW6_S_OK)
    })
}

/// `put_LogConnections`.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_put_log_connections(
    manager: *mut Manager,
    enabled: bool,
) -> Hresult {
    call(|| {
        borrow(manager)?.inner.set_log_connections(enabled)?;
        Ok(FW6_S_OK)
    })
}

/// `OpenGlobalPort`: opens the pair on every connection that does not ignore it. Re-opening is
/// no error and keeps the first name.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_open_global_port(
    manager: *mut Manager,
    port: u16,
    protocol: Protocol,
    name: *const c_char,
) -> Hresult {
    call(|| {
        let m = borrow(manager)?;
        let key = pair(port, protocol)?;
        // SAFETY: the caller guarantees a NUL-terminated string.
        let name = unsafe { entry_name(name) }?;
        m.inner.open_global_port(key, &name)?;
        Ok(FW6_S_OK)
    })
}

/// `OpenGlobalPortWithOptions` with a lifetime: as `fw6_manager_open_global_port`, for `seconds`
/// (1 to 2,592,000, 30 days), then fw6d closes it (see `fw6_connection_open_port_for`).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_open_global_port_for(
    manager: *mut Manager,
    port: u16,
    protocol: Protocol,
    name: *const c_char,
    seconds: u32,
) -> Hresult {
    call(|| {
        let m = borrow(manager)?;
        let key = pair(port, protocol)?;
        // SAFETY: the caller guarantees a NUL-terminated string.
        let name = unsafe { entry_name(name) }?;
        m.inner
            .open_global_port_with_options(key, &name, lifetime(seconds)?)?;
        Ok(FW6_S_OK)
    })
}

/// `CloseGlobalPort`: closing a pair that is not open is no error.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_close_global_port(
    manager: *mut Manager,
    port: u16,
    protocol: Protocol,
) -> Hresult {
    call(|| {
        let m = borrow(manager)?;
        m.inner.close_global_port(pair(port, protocol)?)?;
        Ok(FW6_S_OK)
    })
}

/// `IsPortGloballyOpen`: whether the pair is in the global open set.
///
/// # Safety
/// `open` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_is_port_globally_open(
    manager: *mut Manager,
    port: u16,
    protocol: Protocol,
    open: *mut bool,
) -> Hresult {
    call(|| {
        out(open, "open")?;
        let m = borrow(manager)?;
        let value = m.inner.is_port_globally_open(pair(port, protocol)?)?;
        // SAFETY: the caller guarantees `open` is writable.
        unsafe { write(open, value, "open") }?;
        Ok(FW6_S_OK)
    })
}

/// `EnumerateGloballyOpenPorts`: an enumerator over the global open set now (one snapshot).
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_enumerate_globally_open_ports(
    manager: *mut Manager,
    result: *mut *mut PortEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let snapshot = borrow(manager)?.inner.globally_open_ports()?;
            Ok(PortEnum::new(snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `GloballyOpenPorts`: a collection of the global open set now (one snapshot).
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_manager_get_globally_open_ports(
    manager: *mut Manager,
    result: *mut *mut PortCollection,
) -> Hresult {
    call(|| {
        let make = || {
            let snapshot = borrow(manager)?.inner.globally_open_ports()?;
            Ok(PortCollection::new(snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}
