//! The enumerators `IEnumNetFwV6Connections` and `IEnumNetFwV6Ports` (docs/icf-api.md §3): `Next`,
//! `Skip`, `Reset`, `Clone` and `Count` over one snapshot taken when the enumerator was made. C has
//! no `VARIANT`, so the `…AsVariants` enumerators of the collections are these same two types.

use std::sync::{Mutex, MutexGuard, PoisonError};

use fw6::{ConnectionInfo, PortEntry, Snapshot};

use crate::args::{out, write};
use crate::connection::Connection;
use crate::error::{Failure, call};
use crate::handle::{Handle, borrow, into_handle, new_handle, release};
use crate::hresult::{FW6_S_FALSE, FW6_S_OK, Hresult};
use crate::port::Port;

/// A snapshot and its cursor, shared by both enumerator kinds.
#[derive(Debug)]
pub(crate) struct Cursor<T>(Mutex<Snapshot<T>>);

impl<T: Clone> Cursor<T> {
    pub(crate) fn new(snapshot: Snapshot<T>) -> Self {
        Self(Mutex::new(snapshot))
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot<T>> {
        // A snapshot is only replaced whole, so it is consistent after a panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> Snapshot<T> {
        self.lock().clone()
    }
}

/// `fw6_connection_enum`: yields `fw6_connection` handles.
#[derive(Debug)]
pub struct ConnectionEnum {
    manager: fw6::blocking::Manager,
    cursor: Cursor<ConnectionInfo>,
}

impl ConnectionEnum {
    pub(crate) fn new(manager: fw6::blocking::Manager, snapshot: Snapshot<ConnectionInfo>) -> Self {
        Self {
            manager,
            cursor: Cursor::new(snapshot),
        }
    }
}

impl Handle for ConnectionEnum {
    const KIND: &'static str = "fw6_connection_enum";
}

/// `fw6_port_enum`: yields `fw6_port` handles.
#[derive(Debug)]
pub struct PortEnum {
    cursor: Cursor<PortEntry>,
}

impl PortEnum {
    pub(crate) fn new(snapshot: Snapshot<PortEntry>) -> Self {
        Self {
            cursor: Cursor::new(snapshot),
        }
    }
}

impl Handle for PortEnum {
    const KIND: &'static str = "fw6_port_enum";
}

/// `Next` for either kind: makes a handle per item with `make`; on a failure the handles made
/// so far are released and the cursor does not move.
///
/// # Safety
/// `items` is NULL or valid for `count` writes; `fetched` is NULL or valid for a write.
unsafe fn next<T: Clone, H: Handle>(
    cursor: &Cursor<T>,
    count: u32,
    items: *mut *mut H,
    fetched: *mut u32,
    make: impl Fn(&T) -> Result<H, Failure>,
) -> Result<Hresult, Failure> {
    if count > 0 {
        out(items, "items")?;
    }
    if count != 1 {
        out(fetched, "fetched (it may be NULL only when count is 1)")?;
    }
    let mut trial = cursor.snapshot();
    let taken = trial.next(usize::try_from(count).unwrap_or(usize::MAX));
    let mut handles = Vec::with_capacity(taken.len());
    for item in &taken {
        match make(item) {
            Ok(handle) => handles.push(into_handle(handle)),
            Err(failure) => {
                for handle in handles {
                    release(handle)?;
                }
                return Err(failure);
            }
        }
    }
    let n = handles.len();
    for (i, handle) in handles.into_iter().enumerate() {
        // SAFETY: i < n <= count, and the caller guarantees `items` has room for `count`.
        unsafe { items.add(i).write(handle) };
    }
    if !fetched.is_null() {
        // SAFETY: non-null, and the caller guarantees it is writable; n <= count fits u32.
        unsafe { write(fetched, u32::try_from(n).unwrap_or(u32::MAX), "fetched") }?;
    }
    *cursor.lock() = trial;
    Ok(if n == taken.len() && u32::try_from(n) == Ok(count) {
        FW6_S_OK
    } else {
        FW6_S_FALSE
    })
}

fn skip<T: Clone>(cursor: &Cursor<T>, count: u32) -> Hresult {
    let all = cursor
        .lock()
        .skip(usize::try_from(count).unwrap_or(usize::MAX));
    if all { FW6_S_OK } else { FW6_S_FALSE }
}

/// # Safety
/// `count` is NULL or valid for a write.
unsafe fn count_of<T: Clone>(cursor: &Cursor<T>, count: *mut u32) -> Result<Hresult, Failure> {
    let n = u32::try_from(cursor.lock().count()).unwrap_or(u32::MAX);
    // SAFETY: forwarded from the caller.
    unsafe { write(count, n, "count") }?;
    Ok(FW6_S_OK)
}

/// `Next`: up to `count` connections from the cursor into `items`; their number goes to
/// `*fetched` (which may be NULL only when `count` is 1). `FW6_S_OK` when all `count` came,
/// `FW6_S_FALSE` when the end came first. Release each connection with
/// `fw6_connection_release`.
///
/// # Safety
/// `items` is NULL or has room for `count` handles; `fetched` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enum_next(
    e: *mut ConnectionEnum,
    count: u32,
    items: *mut *mut Connection,
    fetched: *mut u32,
) -> Hresult {
    call(|| {
        let e = borrow(e)?;
        let make = |info: &ConnectionInfo| {
            let inner = e.manager.connection(&info.id.to_string())?;
            Ok(Connection { inner })
        };
        // SAFETY: forwarded from the caller.
        unsafe { next(&e.cursor, count, items, fetched, make) }
    })
}

/// `Skip`: moves the cursor by `count`; `FW6_S_FALSE` when the end came first.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enum_skip(e: *mut ConnectionEnum, count: u32) -> Hresult {
    call(|| Ok(skip(&borrow(e)?.cursor, count)))
}

/// `Reset`: back to the first item of the same snapshot.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enum_reset(e: *mut ConnectionEnum) -> Hresult {
    call(|| {
        borrow(e)?.cursor.lock().reset();
        Ok(FW6_S_OK)
    })
}

/// `Clone`: a new enumerator over the same snapshot at the same position; the cursors are
/// independent afterwards.
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enum_clone(
    e: *mut ConnectionEnum,
    result: *mut *mut ConnectionEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let e = borrow(e)?;
            let copy = ConnectionEnum {
                manager: e.manager.clone(),
                cursor: Cursor::new(e.cursor.snapshot()),
            };
            Ok(copy)
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `Count`: the number of items in the snapshot, whatever the cursor.
///
/// # Safety
/// `count` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enum_count(
    e: *mut ConnectionEnum,
    count: *mut u32,
) -> Hresult {
    call(|| {
        out(count, "count")?;
        // SAFETY: forwarded from the caller.
        unsafe { count_of(&borrow(e)?.cursor, count) }
    })
}

/// Releases the enumerator (the connections it returned stay valid).
///
/// # Safety
/// `e` is NULL or any pointer (checked in the registry before use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_connection_enum_release(e: *mut ConnectionEnum) -> Hresult {
    call(|| release(e))
}

/// `Next`: up to `count` port entries from the cursor into `items`; their number goes to
/// `*fetched` (which may be NULL only when `count` is 1). `FW6_S_OK` when all `count` came,
/// `FW6_S_FALSE` when the end came first. Release each entry with `fw6_port_release`.
///
/// # Safety
/// `items` is NULL or has room for `count` handles; `fetched` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_enum_next(
    e: *mut PortEnum,
    count: u32,
    items: *mut *mut Port,
    fetched: *mut u32,
) -> Hresult {
    call(|| {
        let e = borrow(e)?;
        let make = |entry: &PortEntry| {
            Ok(Port {
                entry: entry.clone(),
            })
        };
        // SAFETY: forwarded from the caller.
        unsafe { next(&e.cursor, count, items, fetched, make) }
    })
}

/// `Skip`: moves the cursor by `count`; `FW6_S_FALSE` when the end came first.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_enum_skip(e: *mut PortEnum, count: u32) -> Hresult {
    call(|| Ok(skip(&borrow(e)?.cursor, count)))
}

/// `Reset`: back to the first item of the same snapshot.
///
/// # Safety
/// None beyond a live or NULL handle (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_enum_reset(e: *mut PortEnum) -> Hresult {
    call(|| {
        borrow(e)?.cursor.lock().reset();
        Ok(FW6_S_OK)
    })
}

/// `Clone`: a new enumerator over the same snapshot at the same position.
///
/// # Safety
/// `result` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_enum_clone(
    e: *mut PortEnum,
    result: *mut *mut PortEnum,
) -> Hresult {
    call(|| {
        let make = || {
            let copy = PortEnum {
                cursor: Cursor::new(borrow(e)?.cursor.snapshot()),
            };
            Ok(copy)
        };
        // SAFETY: the caller guarantees `result` is NULL (refused) or valid for a write.
        unsafe { new_handle(result, "result", make) }
    })
}

/// `Count`: the number of items in the snapshot, whatever the cursor.
///
/// # Safety
/// `count` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_enum_count(e: *mut PortEnum, count: *mut u32) -> Hresult {
    call(|| {
        out(count, "count")?;
        // SAFETY: forwarded from the caller.
        unsafe { count_of(&borrow(e)?.cursor, count) }
    })
}

/// Releases the enumerator (the entries it returned stay valid).
///
/// # Safety
/// `e` is NULL or any pointer (checked in the registry before use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_port_enum_release(e: *mut PortEnum) -> Hresult {
    call(|| release(e))
}
