//! Informational names of port entries (docs/design.md §4, docs/icf-api.md §7.20).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The longest name accepted, in UTF-8 bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// A validated entry name: UTF-8, at most 255 bytes, no control characters. Empty is allowed
/// (a NULL `BSTR` is the empty string). Names never influence filtering, but clients use them as
/// ownership markers, so they are stored and returned byte for byte. Shared (`Arc<str>`): a
/// name is copied into the state, the change and the store's row, and a 10,000-item batch
/// should not allocate it three times.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntryName(Arc<str>);

impl EntryName {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for EntryName {
    type Error = Error;

    fn try_from(name: &str) -> Result<Self, Error> {
        if name.len() > MAX_NAME_BYTES {
            return Err(Error::invalid_arg(format!(
                "name is {} bytes long: use at most {MAX_NAME_BYTES} bytes of UTF-8",
                name.len()
            )));
        }
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(Error::invalid_arg(format!(
                "name {name:?} contains the control character U+{:04X}: use printable characters only",
                u32::from(c)
            )));
        }
        Ok(Self(name.into()))
    }
}

impl TryFrom<String> for EntryName {
    type Error = Error;

    fn try_from(name: String) -> Result<Self, Error> {
        Self::try_from(name.as_str())
    }
}

impl From<EntryName> for String {
    fn from(name: EntryName) -> String {
        name.0.as_ref().to_owned()
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_printable_utf8_up_to_255_bytes() {
        assert_eq!(EntryName::try_from("").unwrap().as_str(), "");
        assert!(EntryName::try_from("Süper Spiel — 🎮").is_ok());
        assert!(EntryName::try_from("x".repeat(255)).is_ok());
    }

    #[test]
    fn rejects_control_characters_and_long_names() {
        for bad in ["a\nb", "tab\there", "nul\0", "del\u{7f}", "c1\u{85}"] {
            let err = EntryName::try_from(bad).unwrap_err();
            assert!(err.message().contains("control character"), "{err}");
        }
        let err = EntryName::try_from("x".repeat(256)).unwrap_err();
        assert!(err.message().contains("256 bytes"), "{err}");
        // 128 two-byte characters are 256 bytes: the limit is bytes, not characters.
        assert!(EntryName::try_from("é".repeat(128)).is_err());
    }
}
