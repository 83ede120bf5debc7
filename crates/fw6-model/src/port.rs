//! Ports and (port, protocol) pairs: the unit of configuration everywhere (docs/icf-api.md §1.3).

use std::fmt;
use std::num::NonZeroU16;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{EntryName, Error, Lease, Protocol};

/// A local (destination) port, 1–65535, host byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u16")]
pub struct Port(NonZeroU16);

impl Port {
    /// The port number.
    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl TryFrom<u32> for Port {
    type Error = Error;

    fn try_from(value: u32) -> Result<Self, Error> {
        u16::try_from(value)
            .ok()
            .and_then(NonZeroU16::new)
            .map(Self)
            .ok_or_else(|| Error::invalid_arg(format!("port {value} is out of range: use 1-65535")))
    }
}

impl TryFrom<u16> for Port {
    type Error = Error;

    fn try_from(value: u16) -> Result<Self, Error> {
        Self::try_from(u32::from(value))
    }
}

impl From<Port> for u16 {
    fn from(port: Port) -> u16 {
        port.get()
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A (port, protocol) pair. Ordered by port, then protocol: the enumeration order (docs/icf-api.md
/// §7.27).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortKey {
    /// The local port.
    pub port: Port,
    /// The transport protocol.
    pub protocol: Protocol,
}

impl PortKey {
    /// A pair from already validated parts.
    pub const fn new(port: Port, protocol: Protocol) -> Self {
        Self { port, protocol }
    }

    /// A pair from raw API arguments, validated as the ICF members do.
    pub fn from_raw(port: u32, protocol: u32) -> Result<Self, Error> {
        Ok(Self::new(
            Port::try_from(port)?,
            Protocol::try_from(protocol)?,
        ))
    }
}

impl fmt::Display for PortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

/// Parses the CLI form `PORT/PROTO`, e.g. `8080/tcp`.
impl FromStr for PortKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (port, protocol) = s.split_once('/').ok_or_else(|| {
            Error::invalid_arg(format!("{s:?} is not PORT/PROTOCOL: write e.g. 8080/tcp"))
        })?;
        let port: u32 = port.parse().map_err(|_| {
            Error::invalid_arg(format!("port {port:?} is not a number: use 1-65535"))
        })?;
        Ok(Self::new(Port::try_from(port)?, protocol.parse()?))
    }
}

/// One entry of a port set as enumerations return it (`INetFwV6Port`, docs/icf-api.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortEntry {
    /// The local port.
    pub port: Port,
    /// The transport protocol.
    pub protocol: Protocol,
    /// The first name given to this entry; informational only.
    pub name: EntryName,
    /// When the opening ends on its own (open pairs only; `None`: it lasts until closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

impl PortEntry {
    /// An entry for `key` named `name`.
    pub fn new(key: PortKey, name: EntryName) -> Self {
        Self {
            port: key.port,
            protocol: key.protocol,
            name,
            lease: None,
        }
    }

    /// The pair this entry is about.
    pub const fn key(&self) -> PortKey {
        PortKey::new(self.port, self.protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn port_range_is_1_to_65535() {
        assert_eq!(Port::try_from(1_u32).unwrap().get(), 1);
        assert_eq!(Port::try_from(65535_u32).unwrap().get(), 65535);
        for bad in [0_u32, 65536, 70000, u32::MAX] {
            let err = Port::try_from(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArg);
            assert!(err.message().contains("1-65535"), "{err}");
        }
    }

    #[test]
    fn parses_cli_form() {
        let key: PortKey = "8080/TCP".parse().unwrap();
        assert_eq!(key, PortKey::from_raw(8080, 6).unwrap());
        assert_eq!(key.to_string(), "8080/tcp");
        for bad in [
            "80",
            "80/",
            "/tcp",
            "0/tcp",
            "70000/udp",
            "80/icmp",
            "x/tcp",
            "",
        ] {
            assert_eq!(
                bad.parse::<PortKey>().unwrap_err().kind(),
                ErrorKind::InvalidArg,
                "{bad}"
            );
        }
    }

    #[test]
    fn order_is_port_then_protocol() {
        let mut keys = [
            PortKey::from_raw(80, 17).unwrap(),
            PortKey::from_raw(22, 17).unwrap(),
            PortKey::from_raw(80, 6).unwrap(),
        ];
        keys.sort();
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["22/udp", "80/tcp", "80/udp"]);
    }
}
