//! `INetFwV6Mgr` over D-Bus: the entry point of the client library.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use fw6_model::{
    EntryName, IfName, LogSettings, LogfileMaximumSize, Mutation, OpenOptions, PortEntry, PortKey,
    Snapshot,
};
use zbus::OwnedVariant;

use crate::bound::{Binding, BoundPort, Bus};
use crate::changes::Changes;
use crate::remote::Remote;
use crate::wire::{self, MANAGER_IFACE, MANAGER_PATH, WireConnection, WireEntry};
use crate::{
    AuditEntry, Batch, Connection, ConnectionInfo, Error, Explanation, PendingChange, Status,
};

/// The environment variable that overrides the system bus for [`Manager::connect`], so tests and
/// sandboxes can point every client at a private bus.
pub const BUS_ADDRESS_ENV: &str = "FW6_BUS_ADDRESS";

/// The firewall manager: connections, global ports, logging settings, batches and change
/// notifications. Cheap to clone; clones share one bus connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), fw6::Error> {
/// let manager = fw6::Manager::connect().await?;
/// for c in manager.connections().await? {
///     println!("{} {} firewalled={}", c.interface, c.id, c.firewalled);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    conn: zbus::Connection,
    bus: Bus,
    remote: Remote,
}

impl Manager {
    /// Connects to fw6d on the system bus, or on the bus named by `FW6_BUS_ADDRESS` when that
    /// variable is set and not empty.
    pub async fn connect() -> Result<Self, Error> {
        match std::env::var(BUS_ADDRESS_ENV) {
            Ok(address) if !address.is_empty() => Self::connect_to(&address).await,
            _ => Self::connect_bus(Bus::System).await,
        }
    }

    /// Connects to fw6d on the message bus at `address` (a D-Bus address such as
    /// `unix:path=/run/fw6-test/bus`).
    pub async fn connect_to(address: &str) -> Result<Self, Error> {
        Self::connect_bus(Bus::Address(address.to_owned())).await
    }

    async fn connect_bus(bus: Bus) -> Result<Self, Error> {
        let conn = bus.connect().await?;
        Self::with(conn, bus).await
    }

    /// Uses an existing bus connection (for programs that already have one). Openings bound to
    /// their holder need a manager made by [`Manager::connect`] or [`Manager::connect_to`].
    pub async fn on(conn: zbus::Connection) -> Result<Self, Error> {
        Self::with(conn, Bus::Given).await
    }

    async fn with(conn: zbus::Connection, bus: Bus) -> Result<Self, Error> {
        let remote = Remote::new(&conn, MANAGER_PATH.to_owned(), MANAGER_IFACE).await?;
        Ok(Self { conn, bus, remote })
    }

    /// `Connections`: a snapshot of every connection, present ones by interface index, then
    /// absent configured ones by name.
    pub async fn connections(&self) -> Result<Snapshot<ConnectionInfo>, Error> {
        let raw: Vec<WireConnection> = self.remote.call("EnumerateConnections", &()).await?;
        raw.into_iter()
            .map(ConnectionInfo::from_wire)
            .collect::<Result<Vec<_>, _>>()
            .map(Snapshot::new)
    }

    /// `GetConnection`: by Id (any case, braces optional) or interface name. An unknown one is
    /// `InvalidArg`.
    pub async fn connection(&self, id_or_name: &str) -> Result<Connection, Error> {
        let path: zbus::OwnedObjectPath = self.remote.call("GetConnection", &(id_or_name,)).await?;
        Connection::at(&self.conn, self.bus.clone(), path.as_str().to_owned()).await
    }

    /// `OpenGlobalPort`: open a pair on every connection that does not ignore it. Re-opening
    /// keeps the first name.
    pub async fn open_global_port(&self, key: PortKey, name: &EntryName) -> Result<(), Error> {
        let (port, protocol) = wire::key_args(key);
        self.remote
            .mutate("OpenGlobalPort", &(port, protocol, name.as_str()))
            .await
    }

    /// `OpenGlobalPortWithOptions`: `OpenGlobalPort` that ends on its own (docs/dbus-api.md,
    /// "Leases").
    pub async fn open_global_port_with_options(
        &self,
        key: PortKey,
        name: &EntryName,
        options: OpenOptions,
    ) -> Result<(), Error> {
        let (port, protocol) = wire::key_args(key);
        let dict = wire::options_dict(options);
        self.remote
            .mutate(
                "OpenGlobalPortWithOptions",
                &(port, protocol, name.as_str(), dict),
            )
            .await
    }

    /// A bus connection of its own whose openings live while it does (see [`Binding`]).
    pub async fn binding(&self) -> Result<Binding, Error> {
        Binding::new(&self.bus, &self.conn).await
    }

    /// Opens a global pair for as long as the returned guard lives (see [`BoundPort`]): dropping
    /// it, or the program ending in any way, closes the pair.
    pub async fn open_global_port_while_alive(
        &self,
        key: PortKey,
        name: &EntryName,
    ) -> Result<BoundPort, Error> {
        let binding = self.binding().await?;
        binding.open_global_port(key, name).await?;
        Ok(BoundPort::new(binding, key))
    }

    /// `Leases`: every opening that ends on its own, as (connection, or `None` for a global
    /// pair; the entry with its lease), ordered by connection then pair, global pairs first.
    pub async fn leases(&self) -> Result<Vec<(Option<IfName>, PortEntry)>, Error> {
        let raw: Vec<wire::WireLease> = self.remote.call("Leases", &()).await?;
        raw.into_iter().map(wire::lease).collect()
    }

    /// `CloseGlobalPort`.
    pub async fn close_global_port(&self, key: PortKey) -> Result<(), Error> {
        self.remote
            .mutate("CloseGlobalPort", &wire::key_args(key))
            .await
    }

    /// `IsPortGloballyOpen`.
    pub async fn is_port_globally_open(&self, key: PortKey) -> Result<bool, Error> {
        self.remote
            .call("IsPortGloballyOpen", &wire::key_args(key))
            .await
    }

    /// `GloballyOpenPorts`: a snapshot ordered by (port, protocol).
    pub async fn globally_open_ports(&self) -> Result<Snapshot<PortEntry>, Error> {
        let raw: Vec<WireEntry> = self.remote.call("EnumerateGloballyOpenPorts", &()).await?;
        Ok(Snapshot::new(wire::entries(raw)?))
    }

    /// Applies `mutations` as one atomic `Apply`: all or nothing. Returns the number of
    /// effective changes (no-ops such as re-opening an open pair do not count).
    pub async fn apply(&self, mutations: &[Mutation]) -> Result<u32, Error> {
        let items: Vec<_> = mutations.iter().map(wire::apply_item).collect();
        self.remote.mutate("Apply", &(items,)).await
    }

    /// [`Manager::apply`] with `options` on every opening (`OpenPort`, `OpenGlobalPort`) of the
    /// batch: `fw6 port open … --for 2h`.
    pub async fn apply_with_options(
        &self,
        mutations: &[Mutation],
        options: OpenOptions,
    ) -> Result<u32, Error> {
        let items: Vec<_> = mutations
            .iter()
            .map(|m| wire::apply_item_with_options(m, &options))
            .collect();
        self.remote.mutate("Apply", &(items,)).await
    }

    /// A builder for one atomic `Apply`.
    pub fn batch(&self) -> Batch<'_, Self> {
        Batch::new(self)
    }

    /// `ApplyConfirmable`: applies `mutations` atomically at once, and fw6d takes them back
    /// unless [`Manager::confirm`] comes within `confirm_within` seconds (1-3600). Returns the
    /// number of effective changes and the pending change (`None` when nothing changed, so
    /// nothing waits). While it waits, fw6d refuses every other change.
    pub async fn apply_confirmable(
        &self,
        mutations: &[Mutation],
        confirm_within: u32,
    ) -> Result<(u32, Option<PendingChange>), Error> {
        let items: Vec<_> = mutations.iter().map(wire::apply_item).collect();
        let options: HashMap<&str, zbus::Variant<'_>> = HashMap::from([(
            fw6_model::pending::CONFIRM_WITHIN,
            zbus::Variant::from(confirm_within),
        )]);
        let (changes, token, deadline): (u32, String, u64) = self
            .remote
            .mutate("ApplyConfirmable", &(items, options))
            .await?;
        let pending = (!token.is_empty()).then(|| PendingChange {
            token,
            deadline: crate::pending::from_millis(deadline),
            uid: None,
            changes,
        });
        Ok((changes, pending))
    }

    /// `Confirm`: keeps the pending change named `token` (root, or authorized for each of its
    /// items).
    pub async fn confirm(&self, token: &str) -> Result<(), Error> {
        self.remote.mutate("Confirm", &(token,)).await
    }

    /// `Revert`: takes back the pending change named `token` now (root, or authorized for each
    /// of its items).
    pub async fn revert(&self, token: &str) -> Result<(), Error> {
        self.remote.mutate("Revert", &(token,)).await
    }

    /// `Explain` for a connection given by Id or any valid interface name, present or not.
    pub async fn explain(&self, connection: &str, key: PortKey) -> Result<Explanation, Error> {
        let (port, protocol) = wire::key_args(key);
        let raw = self
            .remote
            .call("Explain", &(connection, port, protocol))
            .await?;
        Explanation::from_wire(raw)
    }

    /// `ReadAudit`: the newest `limit` audit entries recorded at or after `since` (0: all),
    /// oldest first. The daemon returns at most 10,000 per call; `limit` 0 asks for that many.
    /// Needs root or the polkit action `org.fw6.firewall1.audit` (`AccessDenied` otherwise).
    pub async fn audit(&self, since: SystemTime, limit: u32) -> Result<Vec<AuditEntry>, Error> {
        let since = since.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let raw: Vec<wire::WireAudit> = self.remote.call("ReadAudit", &(since, limit)).await?;
        Ok(raw.into_iter().map(AuditEntry::from_wire).collect())
    }

    /// `Status()`: version, kernel table state, generation and counts.
    pub async fn status(&self) -> Result<Status, Error> {
        let raw: HashMap<String, OwnedVariant> = self.remote.call("Status", &()).await?;
        Status::from_wire(&raw)
    }

    /// The four logging settings at once.
    pub async fn log_settings(&self) -> Result<LogSettings, Error> {
        Ok(LogSettings {
            log_dropped_packets: self.log_dropped_packets().await?,
            log_connections: self.log_connections().await?,
            logfile_path: self.logfile_path().await?,
            logfile_maximum_size: self.logfile_maximum_size().await?,
        })
    }

    /// `LogfilePath`.
    pub async fn logfile_path(&self) -> Result<String, Error> {
        self.remote.get("LogfilePath").await
    }

    /// `put_LogfilePath`: an absolute path.
    pub async fn set_logfile_path(&self, path: &str) -> Result<(), Error> {
        self.remote.set("LogfilePath", path).await
    }

    /// `LogfileMaximumSize` in KiB.
    pub async fn logfile_maximum_size(&self) -> Result<LogfileMaximumSize, Error> {
        let kib: u32 = self.remote.get("LogfileMaximumSize").await?;
        LogfileMaximumSize::try_from(kib).map_err(Error::protocol)
    }

    /// `put_LogfileMaximumSize`.
    pub async fn set_logfile_maximum_size(&self, size: LogfileMaximumSize) -> Result<(), Error> {
        self.remote.set("LogfileMaximumSize", size.kib()).await
    }

    /// `LogDroppedPackets`.
    pub async fn log_dropped_packets(&self) -> Result<bool, Error> {
        self.remote.get("LogDroppedPackets").await
    }

    /// `put_LogDroppedPackets`.
    pub async fn set_log_dropped_packets(&self, enabled: bool) -> Result<(), Error> {
        self.remote.set("LogDroppedPackets", enabled).await
    }

    /// `LogConnections`.
    pub async fn log_connections(&self) -> Result<bool, Error> {
        self.remote.get("LogConnections").await
    }

    /// `put_LogConnections`.
    pub async fn set_log_connections(&self, enabled: bool) -> Result<(), Error> {
        self.remote.set("LogConnections", enabled).await
    }

    /// A stream of `Changed`, `ConnectionAdded` and `ConnectionRemoved` signals from now on.
    /// Subscribe before acting if you want to see the effects of your own calls.
    pub async fn changes(&self) -> Result<Changes, Error> {
        let signals = self.remote.proxy().receive_all_signals().await?;
        Ok(Changes::new(signals))
    }
}
