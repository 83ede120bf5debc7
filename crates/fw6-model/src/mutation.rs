//! The twelve state-changing members of the ICF API (docs/icf-api.md §6.1, §7.11) as data.

use serde::{Deserialize, Serialize};

use crate::{EntryName, IfName, LogfileMaximumSize, PortKey};

/// One call of a state-changing member. Arguments are already validated types, so a
/// `Mutation` that exists is well-formed; only `SetLogfilePath` is checked when applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "member")]
pub enum Mutation {
    /// `INetFwV6Mgr::OpenGlobalPort`.
    OpenGlobalPort {
        /// The pair.
        key: PortKey,
        /// Its name, kept only if the pair is not open yet.
        name: EntryName,
    },
    /// `INetFwV6Mgr::CloseGlobalPort`.
    CloseGlobalPort {
        /// The pair.
        key: PortKey,
    },
    /// `INetFwV6Connection::EnableFirewall`.
    EnableFirewall {
        /// The connection's interface.
        connection: IfName,
    },
    /// `INetFwV6Connection::DisableFirewall`.
    DisableFirewall {
        /// The connection's interface.
        connection: IfName,
    },
    /// `INetFwV6Connection::OpenPort`.
    OpenPort {
        /// The connection's interface.
        connection: IfName,
        /// The pair.
        key: PortKey,
        /// Its name, kept only if the pair is not open on this connection yet.
        name: EntryName,
    },
    /// `INetFwV6Connection::ClosePort`.
    ClosePort {
        /// The connection's interface.
        connection: IfName,
        /// The pair.
        key: PortKey,
    },
    /// `INetFwV6Connection::IgnoreGlobalPort`.
    IgnoreGlobalPort {
        /// The connection's interface.
        connection: IfName,
        /// The pair.
        key: PortKey,
        /// Its name, kept only if the pair is not ignored yet.
        name: EntryName,
    },
    /// `INetFwV6Connection::ObserveGlobalPort`.
    ObserveGlobalPort {
        /// The connection's interface.
        connection: IfName,
        /// The pair.
        key: PortKey,
    },
    /// `put_LogfilePath`.
    SetLogfilePath {
        /// An absolute path.
        path: String,
    },
    /// `put_LogfileMaximumSize`.
    SetLogfileMaximumSize {
        /// The size in KiB.
        kib: LogfileMaximumSize,
    },
    /// `put_LogDroppedPackets`.
    SetLogDroppedPackets {
        /// On or off.
        enabled: bool,
    },
    /// `put_LogConnections`.
    SetLogConnections {
        /// On or off.
        enabled: bool,
    },
}

impl Mutation {
    /// The ICF member name, used in audit records and polkit details.
    pub const fn member(&self) -> &'static str {
        match self {
            Self::OpenGlobalPort { .. } => "OpenGlobalPort",
            Self::CloseGlobalPort { .. } => "CloseGlobalPort",
            Self::EnableFirewall { .. } => "EnableFirewall",
            Self::DisableFirewall { .. } => "DisableFirewall",
            Self::OpenPort { .. } => "OpenPort",
            Self::ClosePort { .. } => "ClosePort",
            Self::IgnoreGlobalPort { .. } => "IgnoreGlobalPort",
            Self::ObserveGlobalPort { .. } => "ObserveGlobalPort",
            Self::SetLogfilePath { .. } => "LogfilePath",
            Self::SetLogfileMaximumSize { .. } => "LogfileMaximumSize",
            Self::SetLogDroppedPackets { .. } => "LogDroppedPackets",
            Self::SetLogConnections { .. } => "LogConnections",
        }
    }

    /// The connection the mutation is about, if any.
    pub fn connection(&self) -> Option<&IfName> {
        match self {
            Self::EnableFirewall { connection }
            | Self::DisableFirewall { connection }
            | Self::OpenPort { connection, .. }
            | Self::ClosePort { connection, .. }
            | Self::IgnoreGlobalPort { connection, .. }
            | Self::ObserveGlobalPort { connection, .. } => Some(connection),
            _ => None,
        }
    }

    /// The pair the mutation is about, if any.
    pub fn key(&self) -> Option<PortKey> {
        match self {
            Self::OpenGlobalPort { key, .. }
            | Self::CloseGlobalPort { key }
            | Self::OpenPort { key, .. }
            | Self::ClosePort { key, .. }
            | Self::IgnoreGlobalPort { key, .. }
            | Self::ObserveGlobalPort { key, .. } => Some(*key),
            _ => None,
        }
    }
}

/// The member and its arguments as a person reads them in an error or a confirmation dialog:
/// `OpenPort lan0 27015/udp`, `OpenGlobalPort 3389/tcp`, `LogDroppedPackets true`.
impl std::fmt::Display for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.member())?;
        if let Some(connection) = self.connection() {
            write!(f, " {connection}")?;
        }
        if let Some(key) = self.key() {
            write!(f, " {key}")?;
        }
        match self {
            Self::SetLogfilePath { path } => write!(f, " {path:?}"),
            Self::SetLogfileMaximumSize { kib } => write!(f, " {} KiB", kib.kib()),
            Self::SetLogDroppedPackets { enabled } | Self::SetLogConnections { enabled } => {
                write!(f, " {enabled}")
            }
            _ => Ok(()),
        }
    }
}
