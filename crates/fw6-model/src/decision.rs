//! The inbound decision (docs/icf-api.md §1.4) with the reason behind it, so `Explain` can tell an
//! administrator *why* a packet passes or not.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an unsolicited inbound packet is allowed or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The connection's firewall is off: everything passes.
    NotFirewalled,
    /// The pair is open on this connection (rule 1).
    OpenOnConnection,
    /// The pair is globally open and this connection does not ignore it (rule 2).
    GloballyOpen,
    /// The pair is globally open but this connection ignores it (rule 3).
    GlobalIgnored,
    /// The pair is open neither here nor globally (rule 3).
    NotOpen,
}

impl Reason {
    /// Whether a packet with this reason is accepted.
    pub const fn allows(self) -> bool {
        matches!(
            self,
            Self::NotFirewalled | Self::OpenOnConnection | Self::GloballyOpen
        )
    }

    /// A stable machine-readable token.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotFirewalled => "not-firewalled",
            Self::OpenOnConnection => "open-on-connection",
            Self::GloballyOpen => "globally-open",
            Self::GlobalIgnored => "global-ignored",
            Self::NotOpen => "not-open",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFirewalled => "the connection is not firewalled",
            Self::OpenOnConnection => "the port is open on this connection",
            Self::GloballyOpen => "the port is globally open",
            Self::GlobalIgnored => "the port is globally open but ignored on this connection",
            Self::NotOpen => "the port is not open on this connection nor globally",
        })
    }
}

/// The verdict for one (connection, pair).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decision {
    /// Whether unsolicited inbound traffic is accepted.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    /// The decision implied by `reason`.
    pub const fn new(reason: Reason) -> Self {
        Self {
            allowed: reason.allows(),
            reason,
        }
    }
}
