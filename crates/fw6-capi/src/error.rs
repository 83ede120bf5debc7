//! The failure of one call and the per-thread last error (`fw6_last_error_message`, the
//! library's `GetErrorInfo`), and the one wrapper every exported function runs its body in so
//! that no panic crosses into C.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::hresult::{FW6_E_POINTER, FW6_E_UNEXPECTED, FW6_S_OK, Hresult};

/// Why a call failed: the HRESULT it returns and the message it leaves for the thread.
#[derive(Debug)]
pub(crate) struct Failure {
    hresult: Hresult,
    message: String,
}

impl Failure {
    pub(crate) fn new(hresult: Hresult, message: impl Into<String>) -> Self {
        Self {
            hresult,
            message: message.into(),
        }
    }

    /// `E_POINTER` for the argument `what`.
    pub(crate) fn null(what: &str) -> Self {
        Self::new(
            FW6_E_POINTER,
            format!("{what} is a null pointer: pass a valid pointer"),
        )
    }
}

impl From<fw6::Error> for Failure {
    fn from(err: fw6::Error) -> Self {
        Self::new(err.hresult().0.cast_signed(), err.to_string())
    }
}

impl From<fw6::ModelError> for Failure {
    fn from(err: fw6::ModelError) -> Self {
        Self::from(fw6::Error::from(err))
    }
}

/// The result of a call's body: the success code (`S_OK` or `S_FALSE`) or the failure.
pub(crate) type CallResult = Result<Hresult, Failure>;

struct LastError {
    hresult: Hresult,
    message: Option<CString>,
}

thread_local! {
    static LAST: RefCell<LastError> = const {
        RefCell::new(LastError { hresult: FW6_S_OK, message: None })
    };
}

fn set_last(hresult: Hresult, message: Option<String>) {
    let message = message.map(|m| {
        // A message never holds a NUL (D-Bus strings cannot); drop one rather than lose it all.
        CString::new(m.replace('\0', "")).unwrap_or_default()
    });
    // `try_with`: during thread exit the slot may be gone already; a call from a C thread-exit
    // handler then just leaves no message (never a panic outside `catch_unwind`).
    let _ = LAST.try_with(|last| {
        if let Ok(mut slot) = last.try_borrow_mut() {
            *slot = LastError { hresult, message };
        }
    });
}

/// Runs the body of an exported function: clears the thread's last error, catches a panic
/// (it becomes `E_UNEXPECTED`), records a failure's message and returns the HRESULT.
pub(crate) fn call(body: impl FnOnce() -> CallResult) -> Hresult {
    set_last(FW6_S_OK, None);
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            set_last(failure.hresult, Some(failure.message));
            failure.hresult
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let message =
                format!("libfw6 failed inside ({what}): this is a bug in fw6, please report it");
            set_last(FW6_E_UNEXPECTED, Some(message));
            FW6_E_UNEXPECTED
        }
    }
}

/// The message of the last call on this thread that failed, or NULL if the last call succeeded.
/// The string belongs to the library and stays valid until the next fw6 call on this thread;
/// copy it to keep it. The message says what was wrong and what to do, and ends with the class
/// and HRESULT, e.g. `port 0 is out of range: use 1-65535 (InvalidArg, 0x80070057)`.
#[unsafe(no_mangle)]
pub extern "C" fn fw6_last_error_message() -> *const c_char {
    catch_unwind(|| {
        LAST.with(|last| {
            last.borrow()
                .message
                .as_ref()
                .map_or(std::ptr::null(), |m| m.as_ptr())
        })
    })
    .unwrap_or(std::ptr::null())
}

/// The HRESULT of the last call on this thread (`FW6_S_OK` if it succeeded).
#[unsafe(no_mangle)]
pub extern "C" fn fw6_last_error_hresult() -> Hresult {
    catch_unwind(|| LAST.with(|last| last.borrow().hresult)).unwrap_or(FW6_E_UNEXPECTED)
}

/// Frees a string the library returned through a `char **` out-parameter (a connection's name
/// or Id, a port entry's name, the log file path). NULL is accepted and does nothing.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fw6_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller passes a string from `CString::into_raw` (args::write_string)
        // that was not freed yet; it is reclaimed exactly once here.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// `E_POINTER` unless `ptr` is non-null.
pub(crate) fn non_null<T>(ptr: *const T, what: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        Err(Failure::null(what))
    } else {
        Ok(())
    }
}
