//! The collections `INetFwV6ConnectionCollection` and `INetFwV6PortsCollection` (docs/icf-api.md
//! §2.4, §2.5): `Count` and `_NewEnum` over the one snapshot taken by the property get, so the
//! count and every enumerator of one collection agree.

use fw6::{ConnectionInfo, PortEntry, Snapshot};

use crate::args::{out, write};
use crate::enumerator::{ConnectionEnum, PortEnum};
use crate::error::call;
use crate::handle::{Handle, borrow, new_handle, release};
use crate::hresult::{FW6_S_OK, Hresult};

/// `fw6_connection_collection`: the connections at the time of `fw6_manager_get_connections`.
#[derive(Debug)]
pub struct ConnectionCollection {
    manager: fw6::blocking::Manager,
    snapshot: Snapshot<ConnectionInfo>,
}

impl ConnectionCollection {
    pub(crate) fn new(manager: fw6::blocking::Manager, snapshot: Snapshot<ConnectionInfo>) -> Self {
        Self { manager, snapshot }
    }
}

impl Handle for ConnectionCollection {
    const KIND: &'static str = "fw6_connection_collection";
}

/// `fw6_port_collection`: a port set at the time of the property get.
#[derive(Debug)]
pub struct PortCollection {
    snapshot: Snapshot<PortEntry>,
}

impl PortCollection {
    pub(crate) fn new(snapshot: Snapshot<PortEntry>) -> Self {
        Self { snapshot }
    }
}

impl Handle for PortCollection {
    const KIND: &'static str = "fw6_port_collection";
}

fn len<T>(snapshot: &Snapshot<T>) -> u32 {
    u32::try_from(snapshot.count()).unwrap_or(u32::MAX)
}

/// `get_Count`.
///
/// # Safety
/// `count` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_collection_get_count(
    collection: *mut ConnectionCollection,
    count: *mut u32,
) -> Hresult {
    call(|| {
        out(count, "count")?;
        let n = len(&borrow(collection)?.snapshot);
        // SAFETY: the caller guarantees `count` is writable.
        unsafe { write(count, n, "count") }?;
        Ok(FW6_S_OK)
    })
}

/// `get__NewEnum`: an enumerator over the collection's items from the first.
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_collection_get_new_enum(
    collection: *mut ConnectionCollection,
    result: *mut *mut ConnectionEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let c = borrow(collection)?;
            let mut snapshot = c.snapshot.clone();
            snapshot.reset();
            Ok(ConnectionEnum::new(c.manager.clone(), snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// Releases the collection (its enumerators stay valid).
///
/// # Safety
/// `collection` is NULL or any pointer (checked in the registry before use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_collection_release(
    collection: *mut ConnectionCollection,
) -> Hresult {
    call(|| release(collection))
}

/// `get_Count`.
///
/// # Safety
/// `count` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_collection_get_count(
    collection: *mut PortCollection,
    count: *mut u32,
) -> Hresult {
    call(|| {
        out(count, "count")?;
        let n = len(&borrow(collection)?.snapshot);
        // SAFETY: the caller guarantees `count` is writable.
        unsafe { write(count, n, "count") }?;
        Ok(FW6_S_OK)
    })
}

/// `get__NewEnum`: an enumerator over the collection's items from the first.
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_collection_get_new_enum(
    collection: *mut PortCollection,
    result: *mut *mut PortEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let mut snapshot = borrow(collection)?.snapshot.clone();
            snapshot.reset();
            Ok(PortEnum::new(snapshot))
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// Releases the collection (its enumerators stay valid).
///
/// # Safety
/// `collection` is NULL or any pointer (checked in the registry before use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_collection_release(collection: *mut PortCollection) -> Hresult {
    call(|| release(collection))
}
