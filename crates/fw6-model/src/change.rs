//! Effective changes: what a mutation really did, as data the daemon turns into one store
//! transaction and one kernel batch.

use serde::{Deserialize, Serialize};

use crate::{IfName, LogSettings, PortEntry};

/// One effective change of the state. Every change carries what is needed to undo it (the
/// removed entry's name, the old settings), so a kernel batch can be rolled back exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "change")]
pub enum Change {
    /// A pair entered the global open set.
    GlobalOpened {
        /// The new entry.
        entry: PortEntry,
    },
    /// A pair left the global open set.
    GlobalClosed {
        /// The entry that was removed.
        entry: PortEntry,
    },
    /// A connection's firewall was switched on.
    FirewallEnabled {
        /// The connection's interface.
        connection: IfName,
    },
    /// A connection's firewall was switched off.
    FirewallDisabled {
        /// The connection's interface.
        connection: IfName,
    },
    /// A pair was opened on a connection.
    PortOpened {
        /// The connection's interface.
        connection: IfName,
        /// The new entry.
        entry: PortEntry,
    },
    /// A pair was closed on a connection.
    PortClosed {
        /// The connection's interface.
        connection: IfName,
        /// The entry that was removed.
        entry: PortEntry,
    },
    /// A connection started ignoring a global pair.
    GlobalIgnored {
        /// The connection's interface.
        connection: IfName,
        /// The new entry.
        entry: PortEntry,
    },
    /// A connection stopped ignoring a global pair.
    GlobalObserved {
        /// The connection's interface.
        connection: IfName,
        /// The entry that was removed.
        entry: PortEntry,
    },
    /// The logging settings changed.
    Logging {
        /// The settings before.
        from: LogSettings,
        /// The settings after.
        to: LogSettings,
    },
}

impl Change {
    /// The change that undoes this one.
    #[must_use]
    pub fn inverse(&self) -> Self {
        match self.clone() {
            Self::GlobalOpened { entry } => Self::GlobalClosed { entry },
            Self::GlobalClosed { entry } => Self::GlobalOpened { entry },
            Self::FirewallEnabled { connection } => Self::FirewallDisabled { connection },
            Self::FirewallDisabled { connection } => Self::FirewallEnabled { connection },
            Self::PortOpened { connection, entry } => Self::PortClosed { connection, entry },
            Self::PortClosed { connection, entry } => Self::PortOpened { connection, entry },
            Self::GlobalIgnored { connection, entry } => Self::GlobalObserved { connection, entry },
            Self::GlobalObserved { connection, entry } => Self::GlobalIgnored { connection, entry },
            Self::Logging { from, to } => Self::Logging { from: to, to: from },
        }
    }
}
