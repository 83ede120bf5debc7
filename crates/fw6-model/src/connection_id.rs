//! Connection identifiers (docs/design.md §4, docs/icf-api.md §7.15–16).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, IfName};

/// The fixed namespace under which interface names are hashed into ids. Changing it would
/// change every connection's id, so it is part of the API.
const NAMESPACE: Uuid = Uuid::from_u128(0x3f0c_6a1e_92d4_4b57_a8e1_6f26_0b9d_c4f6);

/// A connection's id: a UUIDv5 of its interface name, shown as a braced upper-case GUID like
/// Windows' `AdapterName`. Derived, not stored, so it is the same on every host and after every
/// reboot for the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConnectionId(Uuid);

impl ConnectionId {
    /// The id of the connection on interface `name`.
    pub fn for_interface(name: &IfName) -> Self {
        Self(Uuid::new_v5(&NAMESPACE, name.as_str().as_bytes()))
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.0.hyphenated().to_string().to_uppercase())
    }
}

/// Accepts any case, with or without braces, and nothing else.
impl FromStr for ConnectionId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let inner = s
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap_or(s);
        // The hyphenated form only: `Uuid::parse_str` would also take URNs and bare hex.
        if inner.len() != 36 {
            return Err(malformed(s));
        }
        Uuid::try_parse(inner).map(Self).map_err(|_| malformed(s))
    }
}

fn malformed(s: &str) -> Error {
    Error::invalid_arg(format!(
        "{s:?} is not a connection id: use the form {{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}} or an interface name"
    ))
}

impl TryFrom<String> for ConnectionId {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<ConnectionId> for String {
    fn from(id: ConnectionId) -> String {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> ConnectionId {
        ConnectionId::for_interface(&IfName::try_from(name).unwrap())
    }

    #[test]
    fn is_stable_braced_upper_case() {
        let shown = id("eth0").to_string();
        assert_eq!(shown.len(), 38);
        assert!(shown.starts_with('{') && shown.ends_with('}'));
        assert_eq!(shown, shown.to_uppercase());
        assert_eq!(id("eth0"), id("eth0"));
        assert_ne!(id("eth0"), id("eth1"));
        // Version 5 nibble.
        assert_eq!(&shown[15..16], "5");
    }

    #[test]
    fn parses_any_case_braces_optional() {
        let want = id("lan0");
        let shown = want.to_string();
        let bare = &shown[1..37];
        for form in [
            shown.clone(),
            shown.to_lowercase(),
            bare.to_owned(),
            bare.to_lowercase(),
        ] {
            assert_eq!(form.parse::<ConnectionId>().unwrap(), want, "{form}");
        }
    }

    #[test]
    fn rejects_malformed_ids() {
        let shown = id("lan0").to_string();
        let bare = shown[1..37].to_owned();
        for bad in [
            String::new(),
            "{}".to_owned(),
            format!("{{{bare}"),
            format!("{bare}}}"),
            bare.replace('-', ""),
            format!("urn:uuid:{bare}"),
            "0000000G-0000-0000-0000-000000000000".to_owned(),
            format!("{bare}0"),
        ] {
            if bad == bare {
                continue;
            }
            let err = bad.parse::<ConnectionId>().unwrap_err();
            assert!(
                err.message().contains("not a connection id"),
                "{bad}: {err}"
            );
        }
    }
}
