//! D-Bus errors named after their ICF class, carrying the HRESULT in the message.

use fw6_model::ErrorKind;

/// The error every fw6 D-Bus member returns. The variant is the class; its text is the model's
/// full message, which ends with the class and HRESULT (`… (InvalidArg, 0x80070057)`).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.fw6.Firewall1.Error")]
pub enum FwError {
    /// A bus-level failure (wrong argument types and the like).
    #[zbus(error)]
    ZBus(zbus::Error),
    /// `E_INVALIDARG`.
    InvalidArg(String),
    /// `E_ACCESSDENIED`.
    AccessDenied(String),
    /// `E_ABORT`.
    Aborted(String),
    /// `E_FAIL`.
    Fail(String),
    /// `E_UNEXPECTED`.
    Unexpected(String),
    /// `E_NOTIMPL`.
    NotImpl(String),
}

impl From<fw6_model::Error> for FwError {
    fn from(e: fw6_model::Error) -> Self {
        let text = e.to_string();
        match e.kind() {
            ErrorKind::InvalidArg => Self::InvalidArg(text),
            ErrorKind::AccessDenied => Self::AccessDenied(text),
            ErrorKind::Aborted => Self::Aborted(text),
            ErrorKind::Fail => Self::Fail(text),
            ErrorKind::Unexpected => Self::Unexpected(text),
            ErrorKind::NotImpl => Self::NotImpl(text),
        }
    }
}

/// Shorthand for member results.
pub type FwResult<T> = Result<T, FwError>;
