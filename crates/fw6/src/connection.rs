//! `INetFwV6Connection` over D-Bus: one IPv6 connection (an interface) and its own settings.

use fw6_model::{ConnectionId, EntryName, IfName, OpenOptions, PortEntry, PortKey, Snapshot};

use crate::bound::{Binding, BoundPort, Bus};
use crate::remote::Remote;
use crate::wire::{self, CONNECTION_IFACE, WireEntry};
use crate::{Error, Explanation};

/// One connection of the manager, bound to its D-Bus object. Properties are read live on each
/// call; the object stays valid while the interface is absent (its configuration is kept).
#[derive(Debug, Clone)]
pub struct Connection {
    remote: Remote,
    bus: Bus,
}

impl Connection {
    /// The connection object at `path`.
    pub(crate) async fn at(conn: &zbus::Connection, bus: Bus, path: String) -> Result<Self, Error> {
        Ok(Self {
            remote: Remote::new(conn, path, CONNECTION_IFACE).await?,
            bus,
        })
    }

    /// The D-Bus object path.
    pub fn path(&self) -> &str {
        self.remote.path()
    }

    /// `Id`: the braced upper-case GUID.
    pub async fn id(&self) -> Result<ConnectionId, Error> {
        wire::connection_id(&self.remote.get::<String>("Id").await?)
    }

    /// `Name`: the interface alias if set, else the interface name.
    pub async fn name(&self) -> Result<String, Error> {
        self.remote.get("Name").await
    }

    /// `Interface`: the kernel interface name.
    pub async fn interface(&self) -> Result<IfName, Error> {
        wire::if_name(self.remote.get("Interface").await?)
    }

    /// `Present`: whether the interface exists now.
    pub async fn present(&self) -> Result<bool, Error> {
        self.remote.get("Present").await
    }

    /// `IsFirewalled`.
    pub async fn is_firewalled(&self) -> Result<bool, Error> {
        self.remote.get("IsFirewalled").await
    }

    /// `EnableFirewall`: filter unsolicited inbound traffic on this connection.
    pub async fn enable_firewall(&self) -> Result<(), Error> {
        self.remote.mutate("EnableFirewall", &()).await
    }

    /// `DisableFirewall`: let all inbound traffic on this connection through.
    pub async fn disable_firewall(&self) -> Result<(), Error> {
        self.remote.mutate("DisableFirewall", &()).await
    }

    /// `OpenPort`. Re-opening an open pair succeeds and keeps the first name.
    pub async fn open_port(&self, key: PortKey, name: &EntryName) -> Result<(), Error> {
        let (port, protocol) = wire::key_args(key);
        self.remote
            .mutate("OpenPort", &(port, protocol, name.as_str()))
            .await
    }

    /// `OpenPortWithOptions`: `OpenPort` that ends on its own (docs/dbus-api.md, "Leases"):
    /// after `options.lifetime`, and/or when this client's bus connection closes
    /// (`options.bind_to_caller`). Opening again renews; a pair already open without a lease
    /// stays as it is.
    pub async fn open_port_with_options(
        &self,
        key: PortKey,
        name: &EntryName,
        options: OpenOptions,
    ) -> Result<(), Error> {
        let (port, protocol) = wire::key_args(key);
        let dict = wire::options_dict(options);
        self.remote
            .mutate(
                "OpenPortWithOptions",
                &(port, protocol, name.as_str(), dict),
            )
            .await
    }

    /// Opens a pair on this connection for as long as the returned guard lives (see
    /// [`BoundPort`]): dropping it, or the program ending in any way, closes the pair.
    pub async fn open_port_while_alive(
        &self,
        key: PortKey,
        name: &EntryName,
    ) -> Result<BoundPort, Error> {
        let binding = Binding::new(&self.bus, self.remote.proxy().connection()).await?;
        binding.open_port(self, key, name).await?;
        Ok(BoundPort::new(binding, key))
    }

    /// `ClosePort`. Closing a closed pair succeeds.
    pub async fn close_port(&self, key: PortKey) -> Result<(), Error> {
        self.remote.mutate("ClosePort", &wire::key_args(key)).await
    }

    /// `IsPortOpen`: this connection's own set only, not the global one.
    pub async fn is_port_open(&self, key: PortKey) -> Result<bool, Error> {
        self.remote.call("IsPortOpen", &wire::key_args(key)).await
    }

    /// `OpenPorts`: a snapshot of this connection's open pairs, ordered by (port, protocol).
    pub async fn open_ports(&self) -> Result<Snapshot<PortEntry>, Error> {
        let raw: Vec<WireEntry> = self.remote.call("EnumerateOpenPorts", &()).await?;
        Ok(Snapshot::new(wire::entries(raw)?))
    }

    /// `IgnoreGlobalPort`: a globally open pair stays closed on this connection.
    pub async fn ignore_global_port(&self, key: PortKey, name: &EntryName) -> Result<(), Error> {
        let (port, protocol) = wire::key_args(key);
        self.remote
            .mutate("IgnoreGlobalPort", &(port, protocol, name.as_str()))
            .await
    }

    /// `ObserveGlobalPort`: stop ignoring a global pair.
    pub async fn observe_global_port(&self, key: PortKey) -> Result<(), Error> {
        self.remote
            .mutate("ObserveGlobalPort", &wire::key_args(key))
            .await
    }

    /// `IsGlobalPortIgnored`.
    pub async fn is_global_port_ignored(&self, key: PortKey) -> Result<bool, Error> {
        self.remote
            .call("IsGlobalPortIgnored", &wire::key_args(key))
            .await
    }

    /// `IgnoredGlobalPorts`: a snapshot ordered by (port, protocol).
    pub async fn ignored_global_ports(&self) -> Result<Snapshot<PortEntry>, Error> {
        let raw: Vec<WireEntry> = self.remote.call("EnumerateIgnoredGlobalPorts", &()).await?;
        Ok(Snapshot::new(wire::entries(raw)?))
    }

    /// `Explain`: would an unsolicited inbound packet to `key` pass here, and why.
    pub async fn explain(&self, key: PortKey) -> Result<Explanation, Error> {
        let raw = self.remote.call("Explain", &wire::key_args(key)).await?;
        Explanation::from_wire(raw)
    }
}
