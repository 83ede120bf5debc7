//! `PORT_PROTOCOL` (docs/icf-api.md §4): the only two transport protocols the ICF API can
//! configure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A transport protocol of an open pair. The discriminants are the IANA protocol numbers, which
/// are also the IPv6 next-header values the kernel matches with `meta l4proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Protocol {
    /// `PORT_PROTOCOL_TCP`.
    Tcp = 6,
    /// `PORT_PROTOCOL_UDP`.
    Udp = 17,
}

impl Protocol {
    /// The IANA protocol number.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The lower-case name used by nft and the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

impl TryFrom<u32> for Protocol {
    type Error = Error;

    fn try_from(value: u32) -> Result<Self, Error> {
        match value {
            6 => Ok(Self::Tcp),
            17 => Ok(Self::Udp),
            other => Err(Error::invalid_arg(format!(
                "protocol {other} is not supported: use 6 (TCP) or 17 (UDP)"
            ))),
        }
    }
}

impl FromStr for Protocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "6" => Ok(Self::Tcp),
            "udp" | "17" => Ok(Self::Udp),
            _ => Err(Error::invalid_arg(format!(
                "protocol {s:?} is not supported: use tcp or udp"
            ))),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn only_tcp_and_udp_exist() {
        assert_eq!(Protocol::try_from(6).unwrap(), Protocol::Tcp);
        assert_eq!(Protocol::try_from(17).unwrap(), Protocol::Udp);
        for bad in [0, 1, 58, 255, 256, u32::MAX] {
            let err = Protocol::try_from(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArg);
            assert!(err.to_string().contains("6 (TCP) or 17 (UDP)"), "{err}");
        }
    }

    #[test]
    fn parses_names_any_case() {
        assert_eq!("TCP".parse::<Protocol>().unwrap(), Protocol::Tcp);
        assert_eq!("udp".parse::<Protocol>().unwrap(), Protocol::Udp);
        assert!("icmp".parse::<Protocol>().is_err());
        assert!("".parse::<Protocol>().is_err());
    }
}
