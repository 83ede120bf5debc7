//! Opaque handles: a `Box` given to C as a raw pointer, and a registry of the live ones so that
//! a handle used after its release, or passed where another kind is expected, is refused with
//! `E_POINTER` instead of read.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use crate::args::{clear, out};
use crate::error::{CallResult, Failure};
use crate::hresult::{FW6_E_POINTER, FW6_S_OK, Hresult};

/// A type handed to C as an opaque handle.
pub(crate) trait Handle: Sized + Send + Sync + 'static {
    /// The C name of the handle type, for messages and the registry.
    const KIND: &'static str;
}

/// Every live handle: its address, disguised (see [`key`]), and kind.
static LIVE: Mutex<BTreeSet<(usize, &'static str)>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<(usize, &'static str)>> {
    // The set is consistent after any panic (insert and remove are single steps).
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The registry's key for a handle: the address with every bit flipped, so the registry does
/// not hold a pointer to the handle and a leak checker (valgrind) still sees a handle the
/// program forgot to release as lost.
fn key<T>(ptr: *const T) -> usize {
    !(ptr as usize)
}

/// Moves `value` to the heap and registers it; the pointer is the C handle.
pub(crate) fn into_handle<T: Handle>(value: T) -> *mut T {
    let ptr = Box::into_raw(Box::new(value));
    live().insert((key(ptr), T::KIND));
    ptr
}

/// A call whose result is a new handle in the out-parameter `ptr` (named `what` in errors):
/// `ptr` must not be NULL; it is set to NULL first, as COM does, so a failed call leaves no
/// stale pointer, and to the handle `make` returns if it succeeds.
///
/// # Safety
/// `ptr` is NULL (refused) or valid for a write.
pub(crate) unsafe fn new_handle<T: Handle>(
    ptr: *mut *mut T,
    what: &str,
    make: impl FnOnce() -> Result<T, Failure>,
) -> CallResult {
    out(ptr, what)?;
    // SAFETY: checked non-null; the caller guarantees it is writable.
    unsafe { clear(ptr) };
    let value = make()?;
    // SAFETY: as above.
    unsafe { ptr.write(into_handle(value)) };
    Ok(FW6_S_OK)
}

/// The value behind a live handle of kind `T`.
///
/// The reference is valid until the handle is released; releasing a handle while another
/// thread uses it is the caller's error (documented on every `_release`).
pub(crate) fn borrow<'a, T: Handle>(ptr: *mut T) -> Result<&'a T, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(T::KIND));
    }
    if !live().contains(&(key(ptr), T::KIND)) {
        return Err(not_live::<T>());
    }
    // SAFETY: the registry holds exactly the pointers made by `into_handle::<T>` and not yet
    // released, so `ptr` points to a live, initialised `T` owned by its Box.
    Ok(unsafe { &*ptr })
}

/// Releases a handle of kind `T`: NULL does nothing; a pointer that is not a live handle of
/// that kind is `E_POINTER` (a double release is caught here).
pub(crate) fn release<T: Handle>(ptr: *mut T) -> Result<Hresult, Failure> {
    if ptr.is_null() {
        return Ok(FW6_S_OK);
    }
    if !live().remove(&(key(ptr), T::KIND)) {
        return Err(not_live::<T>());
    }
    // SAFETY: `ptr` was registered by `into_handle::<T>` (a `Box::into_raw`) and has just been
    // removed from the registry, so it is reclaimed exactly once.
    drop(unsafe { Box::from_raw(ptr) });
    Ok(FW6_S_OK)
}

fn not_live<T: Handle>() -> Failure {
    Failure::new(
        FW6_E_POINTER,
        format!(
            "the {} handle is not live (released already, or a handle of another kind): \
             pass a handle the library returned and that was not released",
            T::KIND
        ),
    )
}
