//! Errors of the ICF API, each carrying the HRESULT a Windows client of the same member would
//! have seen (docs/design.md §4, docs/icf-api.md §5.3).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A 32-bit COM `HRESULT`, kept as the unsigned bit pattern so it prints as `0x80070057`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HResult(pub u32);

impl fmt::Display for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

/// The class of an error. Every layer (D-Bus error name, CLI exit code, library error) is
/// derived from this one enum so the classes cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    /// `E_INVALIDARG`: an argument is malformed or out of range. Nothing was changed.
    InvalidArg,
    /// `E_ACCESSDENIED`: the caller may not change state, or policy forbids configuration.
    AccessDenied,
    /// `E_ABORT`: the confirmation step was declined or dismissed. Nothing was changed.
    Aborted,
    /// `E_FAIL`: the kernel or the store refused; the message keeps their own words.
    Fail,
    /// `E_UNEXPECTED`: the service is unreachable or answered something impossible.
    Unexpected,
    /// `E_NOTIMPL`: the member is switched off in this build or configuration.
    NotImpl,
}

impl ErrorKind {
    /// Every class, for tables and exhaustive tests.
    pub const ALL: [Self; 6] = [
        Self::InvalidArg,
        Self::AccessDenied,
        Self::Aborted,
        Self::Fail,
        Self::Unexpected,
        Self::NotImpl,
    ];

    /// The HRESULT of this class.
    pub const fn hresult(self) -> HResult {
        HResult(match self {
            Self::InvalidArg => 0x8007_0057,
            Self::AccessDenied => 0x8007_0005,
            Self::Aborted => 0x8000_4004,
            Self::Fail => 0x8000_4005,
            Self::Unexpected => 0x8000_FFFF,
            Self::NotImpl => 0x8000_4001,
        })
    }

    /// The CamelCase name used for D-Bus error names (`org.fw6.Firewall1.Error.<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidArg => "InvalidArg",
            Self::AccessDenied => "AccessDenied",
            Self::Aborted => "Aborted",
            Self::Fail => "Fail",
            Self::Unexpected => "Unexpected",
            Self::NotImpl => "NotImpl",
        }
    }

    /// The inverse of [`ErrorKind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// An error of the fw6 API: its class and a message that says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message} ({kind_name}, {hresult})", kind_name = kind.name(), hresult = kind.hresult())]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of the given class.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An `E_INVALIDARG` error.
    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArg, message)
    }

    /// An `E_FAIL` error.
    pub fn fail(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Fail, message)
    }

    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HRESULT of the error's class.
    pub fn hresult(&self) -> HResult {
        self.kind.hresult()
    }

    /// The message alone, without class and HRESULT.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` put in front of the message, e.g. the batch position.
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hresults_are_the_windows_values() {
        assert_eq!(ErrorKind::InvalidArg.hresult().to_string(), "0x80070057");
        assert_eq!(ErrorKind::AccessDenied.hresult().to_string(), "0x80070005");
        assert_eq!(ErrorKind::Aborted.hresult().to_string(), "0x80004004");
        assert_eq!(ErrorKind::Fail.hresult().to_string(), "0x80004005");
        assert_eq!(ErrorKind::Unexpected.hresult().to_string(), "0x8000FFFF");
        assert_eq!(ErrorKind::NotImpl.hresult().to_string(), "0x80004001");
    }

    #[test]
    fn names_round_trip_and_display_carries_hresult() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(kind.name()), Some(kind));
        }
        let err = Error::invalid_arg("port 0 is out of range");
        assert_eq!(
            err.to_string(),
            "port 0 is out of range (InvalidArg, 0x80070057)"
        );
    }
}
