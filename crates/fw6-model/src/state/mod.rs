//! The configured intent: settings, global pairs and per-connection configuration, with the ICF
//! semantics of every mutator and query (docs/icf-api.md §2).

use std::ops::Range;

use imbl::OrdMap;

mod leasing;

use crate::leases::Leases;
use crate::logging::validate_logfile_path;
use crate::{
    Change, Decision, EntryName, Error, IfName, LogSettings, Mutation, PortEntry, PortKey, Reason,
    Snapshot,
};

/// The effective changes of a batch, and which of them each mutation made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchChanges {
    /// Every effective change, in order.
    pub changes: Vec<Change>,
    /// For each mutation that changed something, in order: its member and its range of
    /// `changes`.
    pub members: Vec<(&'static str, Range<usize>)>,
}

/// A port set: pair → first name. `imbl` maps share structure, so cloning a whole state for a
/// read snapshot or a batch's scratch copy is O(1), not O(entries).
type PortMap = OrdMap<PortKey, EntryName>;

/// One of the state's lists of pairs, as the API enumerates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairList {
    /// The global open pairs.
    GloballyOpen,
    /// The pairs opened on a connection.
    Open(IfName),
    /// The global pairs a connection ignores.
    IgnoredGlobal(IfName),
}

/// One connection's configuration, keyed by interface name in [`State`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Whether inbound filtering applies.
    pub firewalled: bool,
    /// Pairs opened on this connection.
    pub open: PortMap,
    /// Global pairs this connection ignores.
    pub ignored: PortMap,
}

impl Default for ConnectionConfig {
    /// An unconfigured connection is firewalled, as the kernel treats unknown interfaces.
    fn default() -> Self {
        Self {
            firewalled: true,
            open: PortMap::new(),
            ignored: PortMap::new(),
        }
    }
}

/// The whole intent. Connections are kept by interface name whether or not the interface exists
/// now, so configuration applies again the moment it returns (docs/design.md §4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    logging: LogSettings,
    global_open: PortMap,
    connections: OrdMap<IfName, ConnectionConfig>,
    /// The open pairs (per connection or global) that end on their own.
    leases: Leases,
}

/// Which of a connection's two sets a member works on.
#[derive(Clone, Copy)]
enum ConnSet {
    Open,
    Ignored,
}

impl State {
    /// The logging settings.
    pub fn logging(&self) -> &LogSettings {
        &self.logging
    }

    /// `IsFirewalled`. Unconfigured connections are firewalled.
    pub fn is_firewalled(&self, connection: &IfName) -> bool {
        self.connections
            .get(connection)
            .is_none_or(|c| c.firewalled)
    }

    /// `IsPortOpen`: this connection's own set only (docs/icf-api.md §7.3).
    pub fn is_port_open(&self, connection: &IfName, key: PortKey) -> bool {
        self.connections
            .get(connection)
            .is_some_and(|c| c.open.contains_key(&key))
    }

    /// `IsPortGloballyOpen`.
    pub fn is_port_globally_open(&self, key: PortKey) -> bool {
        self.global_open.contains_key(&key)
    }

    /// `IsGlobalPortIgnored`.
    pub fn is_global_port_ignored(&self, connection: &IfName, key: PortKey) -> bool {
        self.connections
            .get(connection)
            .is_some_and(|c| c.ignored.contains_key(&key))
    }

    /// `EnumerateGloballyOpenPorts` / `GloballyOpenPorts`.
    pub fn globally_open_ports(&self) -> Snapshot<PortEntry> {
        self.entries(&PairList::GloballyOpen)
    }

    /// `EnumerateOpenPorts` / `OpenPorts`.
    pub fn open_ports(&self, connection: &IfName) -> Snapshot<PortEntry> {
        self.entries(&PairList::Open(connection.clone()))
    }

    /// `EnumerateIgnoredGlobalPorts` / `IgnoredGlobalPorts`.
    pub fn ignored_global_ports(&self, connection: &IfName) -> Snapshot<PortEntry> {
        self.entries(&PairList::IgnoredGlobal(connection.clone()))
    }

    /// The pairs of `list` in order, with their names, read in place: what its snapshot holds,
    /// for a reader that needs no copy (fw6d serializes a reply straight from them).
    pub fn pairs(&self, list: &PairList) -> impl Iterator<Item = (PortKey, &EntryName)> {
        let map = match list {
            PairList::GloballyOpen => Some(&self.global_open),
            PairList::Open(connection) => self.connections.get(connection).map(|c| &c.open),
            PairList::IgnoredGlobal(connection) => {
                self.connections.get(connection).map(|c| &c.ignored)
            }
        };
        map.into_iter().flatten().map(|(key, name)| (*key, name))
    }

    fn entries(&self, list: &PairList) -> Snapshot<PortEntry> {
        self.pairs(list)
            .map(|(key, name)| PortEntry::new(key, name.clone()))
            .collect()
    }

    /// Every configured connection, by interface name, including absent interfaces.
    pub fn connections(&self) -> impl Iterator<Item = (&IfName, &ConnectionConfig)> {
        self.connections.iter()
    }

    /// The global open set, ordered by pair.
    pub fn global_open(&self) -> impl Iterator<Item = (&PortKey, &EntryName)> {
        self.global_open.iter()
    }

    /// The inbound decision rule of docs/icf-api.md §1.4 for an unsolicited packet to `key`
    /// arriving on `connection`. This is what the kernel ruleset enforces; `Explain` reports it.
    pub fn decide(&self, connection: &IfName, key: PortKey) -> Decision {
        let reason = if !self.is_firewalled(connection) {
            Reason::NotFirewalled
        } else if self.is_port_open(connection, key) {
            Reason::OpenOnConnection
        } else if self.is_port_globally_open(key) {
            if self.is_global_port_ignored(connection, key) {
                Reason::GlobalIgnored
            } else {
                Reason::GloballyOpen
            }
        } else {
            Reason::NotOpen
        };
        Decision::new(reason)
    }

    /// Applies one state-changing member with its exact ICF semantics and returns the effective
    /// changes: empty for a no-op (re-open, close of a closed pair, setting an equal value). On
    /// error the state is unchanged.
    pub fn apply(&mut self, mutation: &Mutation) -> Result<Vec<Change>, Error> {
        let change = match mutation {
            Mutation::OpenGlobalPort { key, name, lease } => {
                return self.open(None, *key, name, lease.as_ref());
            }
            Mutation::CloseGlobalPort { key } => self.close(None, *key),
            Mutation::EnableFirewall { connection } => {
                self.set_firewalled(connection, true)
                    .then(|| Change::FirewallEnabled {
                        connection: connection.clone(),
                    })
            }
            Mutation::DisableFirewall { connection } => self
                .set_firewalled(connection, false)
                .then(|| Change::FirewallDisabled {
                    connection: connection.clone(),
                }),
            Mutation::OpenPort {
                connection,
                key,
                name,
                lease,
            } => return self.open(Some(connection), *key, name, lease.as_ref()),
            Mutation::ClosePort { connection, key } => self.close(Some(connection), *key),
            Mutation::IgnoreGlobalPort {
                connection,
                key,
                name,
            } => self
                .insert_conn(connection, ConnSet::Ignored, *key, name)
                .map(|entry| Change::GlobalIgnored {
                    connection: connection.clone(),
                    entry,
                }),
            Mutation::ObserveGlobalPort { connection, key } => self
                .remove_conn(connection, ConnSet::Ignored, *key)
                .map(|entry| Change::GlobalObserved {
                    connection: connection.clone(),
                    entry,
                }),
            Mutation::SetLogfilePath { path } => {
                validate_logfile_path(path)?;
                self.set_logging(|l| l.logfile_path.clone_from(path))
            }
            Mutation::SetLogfileMaximumSize { kib } => {
                self.set_logging(|l| l.logfile_maximum_size = *kib)
            }
            Mutation::SetLogDroppedPackets { enabled } => {
                self.set_logging(|l| l.log_dropped_packets = *enabled)
            }
            Mutation::SetLogConnections { enabled } => {
                self.set_logging(|l| l.log_connections = *enabled)
            }
        };
        Ok(change.into_iter().collect())
    }

    /// Whether `mutation` would change nothing here, answered by lookups alone (no scratch
    /// copy). A batch whose every item is a no-op on this state is a no-op as a whole: each item
    /// leaves the state as it found it, so the next one meets the same state. The service uses
    /// this to spare a caller the confirmation dialog for a change that does nothing (spec
    /// §6.4); an item that would fail validation is not a no-op.
    pub fn is_noop(&self, mutation: &Mutation) -> bool {
        let logging = &self.logging;
        match mutation {
            Mutation::OpenGlobalPort { key, lease, .. } => {
                self.open_is_noop(None, *key, lease.as_ref())
            }
            Mutation::CloseGlobalPort { key } => !self.is_port_globally_open(*key),
            Mutation::EnableFirewall { connection } => self.is_firewalled(connection),
            Mutation::DisableFirewall { connection } => !self.is_firewalled(connection),
            Mutation::OpenPort {
                connection,
                key,
                lease,
                ..
            } => self.open_is_noop(Some(connection), *key, lease.as_ref()),
            Mutation::ClosePort { connection, key } => !self.is_port_open(connection, *key),
            Mutation::IgnoreGlobalPort {
                connection, key, ..
            } => self.is_global_port_ignored(connection, *key),
            Mutation::ObserveGlobalPort { connection, key } => {
                !self.is_global_port_ignored(connection, *key)
            }
            Mutation::SetLogfilePath { path } => *path == logging.logfile_path,
            Mutation::SetLogfileMaximumSize { kib } => *kib == logging.logfile_maximum_size,
            Mutation::SetLogDroppedPackets { enabled } => *enabled == logging.log_dropped_packets,
            Mutation::SetLogConnections { enabled } => *enabled == logging.log_connections,
        }
    }

    /// Applies a batch all-or-nothing: either every mutation applies and the concatenated
    /// changes are returned, or the state is unchanged and the error names the failing position.
    pub fn apply_batch(&mut self, mutations: &[Mutation]) -> Result<Vec<Change>, Error> {
        self.apply_members(mutations).map(|batch| batch.changes)
    }

    /// [`State::apply_batch`], also telling which changes each mutation made (the store's audit
    /// names the member of each change).
    pub fn apply_members(&mut self, mutations: &[Mutation]) -> Result<BatchChanges, Error> {
        let mut scratch = self.clone();
        let mut batch = BatchChanges::default();
        for (index, mutation) in mutations.iter().enumerate() {
            let start = batch.changes.len();
            let more = scratch.apply(mutation).map_err(|e| {
                e.context(format_args!(
                    "batch item {} ({})",
                    index + 1,
                    mutation.member()
                ))
            })?;
            batch.changes.extend(more);
            if batch.changes.len() > start {
                batch
                    .members
                    .push((mutation.member(), start..batch.changes.len()));
            }
        }
        *self = scratch;
        Ok(batch)
    }

    /// Replays a recorded change (from the store or an undo). Replaying the changes a mutation
    /// returned, on the state before it, gives the state after it.
    pub fn replay(&mut self, change: &Change) {
        match change {
            Change::GlobalOpened { entry } => {
                self.global_open.insert(entry.key(), entry.name.clone());
                self.set_lease(None, entry);
            }
            Change::GlobalClosed { entry } => {
                self.global_open.remove(&entry.key());
                self.drop_lease(None, entry.key());
            }
            Change::FirewallEnabled { connection } => {
                self.conn_mut(connection).firewalled = true;
            }
            Change::FirewallDisabled { connection } => {
                self.conn_mut(connection).firewalled = false;
            }
            Change::PortOpened { connection, entry } => {
                self.conn_mut(connection)
                    .open
                    .insert(entry.key(), entry.name.clone());
                self.set_lease(Some(connection), entry);
            }
            Change::PortClosed { connection, entry } => {
                self.conn_mut(connection).open.remove(&entry.key());
                self.drop_lease(Some(connection), entry.key());
            }
            Change::GlobalIgnored { connection, entry } => {
                self.conn_mut(connection)
                    .ignored
                    .insert(entry.key(), entry.name.clone());
            }
            Change::GlobalObserved { connection, entry } => {
                self.conn_mut(connection).ignored.remove(&entry.key());
            }
            Change::Logging { to, .. } => self.logging = to.clone(),
        }
    }

    /// Called when the daemon sees an interface for the first time. With
    /// `firewalled_by_default` off, a never-configured connection gets its firewall disabled
    /// (a recorded change, so the choice persists); otherwise nothing happens, because an
    /// unconfigured connection is already firewalled.
    pub fn adopt_connection(
        &mut self,
        connection: &IfName,
        firewalled_by_default: bool,
    ) -> Vec<Change> {
        if firewalled_by_default || self.connections.contains_key(connection) {
            return Vec::new();
        }
        let change = Change::FirewallDisabled {
            connection: connection.clone(),
        };
        self.replay(&change);
        vec![change]
    }

    fn conn_mut(&mut self, connection: &IfName) -> &mut ConnectionConfig {
        self.connections.entry(connection.clone()).or_default()
    }

    /// Sets the flag; true if it changed. An unconfigured connection gets an entry only when
    /// something really changes, so no-ops leave no trace.
    fn set_firewalled(&mut self, connection: &IfName, on: bool) -> bool {
        if self.is_firewalled(connection) == on {
            return false;
        }
        self.conn_mut(connection).firewalled = on;
        true
    }

    fn insert_conn(
        &mut self,
        connection: &IfName,
        set: ConnSet,
        key: PortKey,
        name: &EntryName,
    ) -> Option<PortEntry> {
        // One walk of the connection map for a configured connection. An unconfigured one has
        // no pairs, so the insert below always adds one and creating its entry is right.
        if let Some(conn) = self.connections.get_mut(connection) {
            return insert_new(conn.set_mut(set), key, name);
        }
        insert_new(self.conn_mut(connection).set_mut(set), key, name)
    }

    fn remove_conn(
        &mut self,
        connection: &IfName,
        set: ConnSet,
        key: PortKey,
    ) -> Option<PortEntry> {
        let conn = self.connections.get_mut(connection)?;
        conn.set_mut(set)
            .remove(&key)
            .map(|name| PortEntry::new(key, name))
    }

    fn set_logging(&mut self, edit: impl FnOnce(&mut LogSettings)) -> Option<Change> {
        let mut to = self.logging.clone();
        edit(&mut to);
        if to == self.logging {
            return None;
        }
        let from = std::mem::replace(&mut self.logging, to.clone());
        Some(Change::Logging { from, to })
    }
}

impl ConnectionConfig {
    fn set_mut(&mut self, set: ConnSet) -> &mut PortMap {
        match set {
            ConnSet::Open => &mut self.open,
            ConnSet::Ignored => &mut self.ignored,
        }
    }
}

/// Inserts `key` unless present (first name wins); returns the new entry. It inserts first and
/// puts the first name back if there was one: a batch of new pairs, the case that must be fast,
/// walks the map once per pair instead of twice (measured: BENCHMARKS.md, "Figures behind
/// design choices").
/// The price is on a re-open, which writes twice and so copies the map's path out of the
/// structure it shares with the published state; the state stays equal, and a batch that
/// changes nothing is dropped by the engine rather than published.
fn insert_new(map: &mut PortMap, key: PortKey, name: &EntryName) -> Option<PortEntry> {
    match map.insert(key, name.clone()) {
        None => Some(PortEntry::new(key, name.clone())),
        Some(first) => {
            map.insert(key, first);
            None
        }
    }
}
