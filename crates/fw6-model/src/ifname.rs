//! Linux interface names: the key of a connection's configuration (docs/design.md §3, §4).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The longest interface name the kernel accepts (`IFNAMSIZ` − 1).
pub const MAX_IFNAME_BYTES: usize = 15;

/// A valid Linux interface name. Configuration is keyed by name, not index, so it survives an
/// interface going away and coming back, and the kernel matches it with `iifname` without any
/// rule rewrite. Shared (`Arc<str>`): every change of a batch names its connection, and
/// cloning the name should not allocate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfName(Arc<str>);

impl IfName {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for IfName {
    type Error = Error;

    fn try_from(name: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Err(Error::invalid_arg(format!(
                "{name:?} is not a valid interface name: {why}"
            )))
        };
        if name.is_empty() {
            return bad("it is empty");
        }
        if name.len() > MAX_IFNAME_BYTES {
            return bad("use at most 15 bytes");
        }
        if name == "." || name == ".." {
            return bad("'.' and '..' are reserved");
        }
        if name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        {
            return bad("'/', ':', spaces and control characters are not allowed");
        }
        Ok(Self(name.into()))
    }
}

impl TryFrom<String> for IfName {
    type Error = Error;

    fn try_from(name: String) -> Result<Self, Error> {
        Self::try_from(name.as_str())
    }
}

impl From<IfName> for String {
    fn from(name: IfName) -> String {
        name.0.as_ref().to_owned()
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_the_kernel() {
        for good in [
            "eth0",
            "wan0",
            "wlp3s0",
            "veth-a.b_c",
            "x".repeat(15).as_str(),
        ] {
            assert!(IfName::try_from(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "a:b", "x\n", &"x".repeat(16)] {
            assert!(IfName::try_from(bad).is_err(), "{bad:?}");
        }
    }
}
