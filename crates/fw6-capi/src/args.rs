//! Reading C arguments and writing out-parameters, with the boundary's rules: null is
//! `E_POINTER`, invalid UTF-8 and out-of-range values are `E_INVALIDARG`.

use std::ffi::{CStr, CString, c_char};

use fw6::{EntryName, Lifetime, OpenOptions, PortKey};

use crate::error::Failure;
use crate::hresult::{FW6_E_INVALIDARG, FW6_E_UNEXPECTED};

/// The UTF-8 string at `ptr`.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-null, and the caller guarantees a NUL-terminated string living for 'a.
    let raw = unsafe { CStr::from_ptr(ptr) };
    raw.to_str().map_err(|e| {
        Failure::new(
            FW6_E_INVALIDARG,
            format!("{what} is not valid UTF-8 ({e}): pass UTF-8 text"),
        )
    })
}

/// An entry name argument.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn entry_name(ptr: *const c_char) -> Result<EntryName, Failure> {
    // SAFETY: forwarded from the caller.
    let name = unsafe { text(ptr, "name") }?;
    Ok(EntryName::try_from(name)?)
}

/// A (port, protocol) pair argument, validated as the ICF members do.
pub(crate) fn pair(port: u16, protocol: i32) -> Result<PortKey, Failure> {
    let protocol = u32::try_from(protocol).unwrap_or(u32::MAX);
    Ok(PortKey::from_raw(u32::from(port), protocol)?)
}

/// The options of an opening that lasts `seconds` (1 to 2,592,000: 30 days).
pub(crate) fn lifetime(seconds: u32) -> Result<OpenOptions, Failure> {
    Ok(OpenOptions {
        lifetime: Some(Lifetime::try_from(seconds)?),
        bind_to_caller: false,
    })
}

/// Checks an out-parameter before the call does any work, so a null one never lets a
/// state-changing call through.
pub(crate) fn out<T>(ptr: *mut T, what: &str) -> Result<(), Failure> {
    crate::error::non_null(ptr.cast_const(), what)
}

/// Writes `value` to the out-parameter `ptr`.
///
/// # Safety
/// `ptr` is null or valid for a write of one `T`.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T, what: &str) -> Result<(), Failure> {
    out(ptr, what)?;
    // SAFETY: non-null, and the caller guarantees it is valid for writes.
    unsafe { ptr.write(value) };
    Ok(())
}

/// Writes a string the caller frees with `fw6_string_free` to the out-parameter `ptr`.
///
/// # Safety
/// As [`write`].
pub(crate) unsafe fn write_string(
    ptr: *mut *mut c_char,
    value: String,
    what: &str,
) -> Result<(), Failure> {
    let value = CString::new(value).map_err(|e| {
        Failure::new(
            FW6_E_UNEXPECTED,
            format!("fw6d returned a {what} with a NUL byte ({e})"),
        )
    })?;
    // SAFETY: forwarded from the caller.
    unsafe { write(ptr, value.into_raw(), what) }
}

/// Sets a handle out-parameter to NULL when a call fails, as COM does, if it is not null.
///
/// # Safety
/// As [`write`].
pub(crate) unsafe fn clear<T>(ptr: *mut *mut T) {
    if !ptr.is_null() {
        // SAFETY: non-null, and the caller guarantees it is valid for writes.
        unsafe { ptr.write(std::ptr::null_mut()) };
    }
}
