//! The twelve state-changing members of the ICF API (docs/icf-api.md §6.1, §7.11) as data.

use serde::{Deserialize, Serialize};

use crate::{EntryName, IfName, Lease, LogfileMaximumSize, PortKey};

/// A state-changing member by name, without its arguments: what an `Apply` item or a batch
/// file's `member` names. The names and which arguments each member takes live here once, so
/// the daemon, the client and the batch file cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member {
    /// `OpenGlobalPort`.
    OpenGlobalPort,
    /// `CloseGlobalPort`.
    CloseGlobalPort,
    /// `EnableFirewall`.
    EnableFirewall,
    /// `DisableFirewall`.
    DisableFirewall,
    /// `OpenPort`.
    OpenPort,
    /// `ClosePort`.
    ClosePort,
    /// `IgnoreGlobalPort`.
    IgnoreGlobalPort,
    /// `ObserveGlobalPort`.
    ObserveGlobalPort,
    /// The `LogfilePath` property.
    LogfilePath,
    /// The `LogfileMaximumSize` property.
    LogfileMaximumSize,
    /// The `LogDroppedPackets` property.
    LogDroppedPackets,
    /// The `LogConnections` property.
    LogConnections,
}

/// One argument of a member (an `Apply` item carries all four, unused ones empty or 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    /// A connection (interface name or id).
    Connection,
    /// A pair.
    Key,
    /// An entry name.
    Name,
    /// A logging value.
    Value,
}

/// The arguments of one member, however they arrive (an `Apply` item, a batch file's table),
/// each validated by the source that knows where it came from, so its errors can say where.
pub trait MemberArgs {
    /// What a bad argument is reported as.
    type Error;
    /// The connection.
    fn connection(&self) -> Result<IfName, Self::Error>;
    /// The pair.
    fn key(&self) -> Result<PortKey, Self::Error>;
    /// The entry name.
    fn name(&self) -> Result<EntryName, Self::Error>;
    /// `LogfilePath`'s value.
    fn path(&self) -> Result<String, Self::Error>;
    /// `LogfileMaximumSize`'s value.
    fn size(&self) -> Result<LogfileMaximumSize, Self::Error>;
    /// `LogDroppedPackets`' or `LogConnections`' value.
    fn enabled(&self) -> Result<bool, Self::Error>;
}

impl Member {
    /// The twelve, in the order of the ICF API.
    pub const ALL: [Self; 12] = [
        Self::OpenGlobalPort,
        Self::CloseGlobalPort,
        Self::EnableFirewall,
        Self::DisableFirewall,
        Self::OpenPort,
        Self::ClosePort,
        Self::IgnoreGlobalPort,
        Self::ObserveGlobalPort,
        Self::LogfilePath,
        Self::LogfileMaximumSize,
        Self::LogDroppedPackets,
        Self::LogConnections,
    ];

    /// The member's D-Bus name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenGlobalPort => "OpenGlobalPort",
            Self::CloseGlobalPort => "CloseGlobalPort",
            Self::EnableFirewall => "EnableFirewall",
            Self::DisableFirewall => "DisableFirewall",
            Self::OpenPort => "OpenPort",
            Self::ClosePort => "ClosePort",
            Self::IgnoreGlobalPort => "IgnoreGlobalPort",
            Self::ObserveGlobalPort => "ObserveGlobalPort",
            Self::LogfilePath => "LogfilePath",
            Self::LogfileMaximumSize => "LogfileMaximumSize",
            Self::LogDroppedPackets => "LogDroppedPackets",
            Self::LogConnections => "LogConnections",
        }
    }

    /// The member called `name`, if it is one of the twelve.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The twelve names for an error message: `OpenGlobalPort, CloseGlobalPort, …`.
    pub fn list() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// Whether the member takes `argument`.
    pub const fn takes(self, argument: Argument) -> bool {
        let (connection, key, name, value) = match self {
            Self::OpenGlobalPort => (false, true, true, false),
            Self::CloseGlobalPort => (false, true, false, false),
            Self::EnableFirewall | Self::DisableFirewall => (true, false, false, false),
            Self::OpenPort | Self::IgnoreGlobalPort => (true, true, true, false),
            Self::ClosePort | Self::ObserveGlobalPort => (true, true, false, false),
            Self::LogfilePath
            | Self::LogfileMaximumSize
            | Self::LogDroppedPackets
            | Self::LogConnections => (false, false, false, true),
        };
        match argument {
            Argument::Connection => connection,
            Argument::Key => key,
            Argument::Name => name,
            Argument::Value => value,
        }
    }

    /// The mutation this member makes with `args`, read in the order connection, pair, name
    /// (the first bad one is the error).
    pub fn mutation<A: MemberArgs + ?Sized>(self, args: &A) -> Result<Mutation, A::Error> {
        Ok(match self {
            Self::OpenGlobalPort => Mutation::OpenGlobalPort {
                key: args.key()?,
                name: args.name()?,
                lease: None,
            },
            Self::CloseGlobalPort => Mutation::CloseGlobalPort { key: args.key()? },
            Self::EnableFirewall => Mutation::EnableFirewall {
                connection: args.connection()?,
            },
            Self::DisableFirewall => Mutation::DisableFirewall {
                connection: args.connection()?,
            },
            Self::OpenPort => Mutation::OpenPort {
                connection: args.connection()?,
                key: args.key()?,
                name: args.name()?,
                lease: None,
            },
            Self::ClosePort => Mutation::ClosePort {
                connection: args.connection()?,
                key: args.key()?,
            },
            Self::IgnoreGlobalPort => Mutation::IgnoreGlobalPort {
                connection: args.connection()?,
                key: args.key()?,
                name: args.name()?,
            },
            Self::ObserveGlobalPort => Mutation::ObserveGlobalPort {
                connection: args.connection()?,
                key: args.key()?,
            },
            Self::LogfilePath => Mutation::SetLogfilePath { path: args.path()? },
            Self::LogfileMaximumSize => Mutation::SetLogfileMaximumSize { kib: args.size()? },
            Self::LogDroppedPackets => Mutation::SetLogDroppedPackets {
                enabled: args.enabled()?,
            },
            Self::LogConnections => Mutation::SetLogConnections {
                enabled: args.enabled()?,
            },
        })
    }
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
        /// When the opening ends on its own (docs/dbus-api.md, "Leases"); `None`: permanent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease: Option<Lease>,
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
        /// When the opening ends on its own (docs/dbus-api.md, "Leases"); `None`: permanent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease: Option<Lease>,
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
        self.kind().as_str()
    }

    /// Which member this is, without its arguments.
    pub const fn kind(&self) -> Member {
        match self {
            Self::OpenGlobalPort { .. } => Member::OpenGlobalPort,
            Self::CloseGlobalPort { .. } => Member::CloseGlobalPort,
            Self::EnableFirewall { .. } => Member::EnableFirewall,
            Self::DisableFirewall { .. } => Member::DisableFirewall,
            Self::OpenPort { .. } => Member::OpenPort,
            Self::ClosePort { .. } => Member::ClosePort,
            Self::IgnoreGlobalPort { .. } => Member::IgnoreGlobalPort,
            Self::ObserveGlobalPort { .. } => Member::ObserveGlobalPort,
            Self::SetLogfilePath { .. } => Member::LogfilePath,
            Self::SetLogfileMaximumSize { .. } => Member::LogfileMaximumSize,
            Self::SetLogDroppedPackets { .. } => Member::LogDroppedPackets,
            Self::SetLogConnections { .. } => Member::LogConnections,
        }
    }

    /// The entry name the mutation carries, if its member takes one.
    pub fn name(&self) -> Option<&EntryName> {
        match self {
            Self::OpenGlobalPort { name, .. }
            | Self::OpenPort { name, .. }
            | Self::IgnoreGlobalPort { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The lease of an opening, if the mutation is one and has one.
    pub fn lease(&self) -> Option<&Lease> {
        match self {
            Self::OpenGlobalPort { lease, .. } | Self::OpenPort { lease, .. } => lease.as_ref(),
            _ => None,
        }
    }

    /// The lease of an opening, to adjust (the daemon moves an expiry by the time a call
    /// waited for authorization).
    pub fn lease_mut(&mut self) -> Option<&mut Lease> {
        match self {
            Self::OpenGlobalPort { lease, .. } | Self::OpenPort { lease, .. } => lease.as_mut(),
            _ => None,
        }
    }

    /// The mutation with `lease` for an opening (`OpenPort`, `OpenGlobalPort`); any other
    /// member takes no options, so one given to it is an error naming it.
    pub fn with_lease(mut self, new: Option<Lease>) -> Result<Self, crate::Error> {
        match &mut self {
            Self::OpenGlobalPort { lease, .. } | Self::OpenPort { lease, .. } => *lease = new,
            other if new.is_some() => {
                return Err(crate::Error::invalid_arg(format!(
                    "{} takes no options: only OpenPort and OpenGlobalPort do",
                    other.member()
                )));
            }
            _ => {}
        }
        Ok(self)
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
