//! `org.fw6.Firewall1.Connection` (docs/icf-api.md §2.2): one object per connection. It refers to the
//! connection by interface name and reads everything from the published state, so an object
//! whose interface went away keeps answering from the configuration kept under its name.

use std::sync::Arc;

use fw6_model::wire;
use fw6_model::{ConnectionId, EntryName, IfName, Mutation, PairList};
use zbus::message::Header;
use zbus::{Connection, interface};

use super::entries::Entries;
use super::options::{self, WireOptions};
use super::{FwError, Origin, Shared};

/// A connection object.
pub struct ConnectionIface {
    name: IfName,
    shared: Arc<Shared>,
}

impl ConnectionIface {
    /// The object for interface `name`.
    pub fn new(name: IfName, shared: Arc<Shared>) -> Self {
        Self { name, shared }
    }

    async fn one(&self, conn: &Connection, hdr: &Header<'_>, m: Mutation) -> Result<(), FwError> {
        self.shared
            .mutate_one(conn, hdr, m, Origin::Method)
            .await
            .map(drop)
    }
}

#[interface(name = "org.fw6.Firewall1.Connection", introspection_docs = false)]
impl ConnectionIface {
    /// `Id`: braced upper-case GUID.
    #[zbus(property(emits_changed_signal = "const"))]
    fn id(&self) -> String {
        ConnectionId::for_interface(&self.name).to_string()
    }

    /// `Name`: the alias if set, else the interface name.
    #[zbus(property(emits_changed_signal = "false"))]
    fn name(&self) -> String {
        self.shared.registry(|r| r.display_name(&self.name))
    }

    /// The kernel interface name.
    #[zbus(property(emits_changed_signal = "const"))]
    fn interface(&self) -> String {
        self.name.to_string()
    }

    /// Whether the interface exists now.
    #[zbus(property(emits_changed_signal = "false"))]
    fn present(&self) -> bool {
        self.shared.registry(|r| r.is_present(&self.name))
    }

    /// `IsFirewalled`.
    #[zbus(property(emits_changed_signal = "false"))]
    fn is_firewalled(&self) -> bool {
        self.shared.state().is_firewalled(&self.name)
    }

    /// `EnableFirewall`.
    async fn enable_firewall(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), FwError> {
        let m = Mutation::EnableFirewall {
            connection: self.name.clone(),
        };
        self.one(conn, &hdr, m).await
    }

    /// `DisableFirewall`.
    async fn disable_firewall(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), FwError> {
        let m = Mutation::DisableFirewall {
            connection: self.name.clone(),
        };
        self.one(conn, &hdr, m).await
    }

    /// `OpenPort`.
    async fn open_port(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
        name: &str,
    ) -> Result<(), FwError> {
        let m = Mutation::OpenPort {
            connection: self.name.clone(),
            key: wire::key(port, protocol)?,
            name: EntryName::try_from(name)?,
            lease: None,
        };
        self.one(conn, &hdr, m).await
    }

    /// `OpenPortWithOptions`: `OpenPort` with `lifetime` (u, seconds) and `bind_to_caller` (b)
    /// (docs/dbus-api.md, "Leases").
    async fn open_port_with_options(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
        name: &str,
        options: WireOptions<'_>,
    ) -> Result<(), FwError> {
        let m = Mutation::OpenPort {
            connection: self.name.clone(),
            key: wire::key(port, protocol)?,
            name: EntryName::try_from(name)?,
            lease: None,
        };
        let options = options::parse(&options)?;
        self.shared
            .mutate_one_with(conn, &hdr, m, options)
            .await
            .map(drop)
    }

    /// `ClosePort`.
    async fn close_port(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
    ) -> Result<(), FwError> {
        let m = Mutation::ClosePort {
            connection: self.name.clone(),
            key: wire::key(port, protocol)?,
        };
        self.one(conn, &hdr, m).await
    }

    /// `IsPortOpen`: this connection's own set only.
    fn is_port_open(&self, port: u16, protocol: u32) -> Result<bool, FwError> {
        Ok(self
            .shared
            .state()
            .is_port_open(&self.name, wire::key(port, protocol)?))
    }

    /// `EnumerateOpenPorts`.
    fn enumerate_open_ports(&self) -> Entries {
        Entries::new(self.shared.state(), PairList::Open(self.name.clone()))
    }

    /// `IgnoreGlobalPort`.
    async fn ignore_global_port(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
        name: &str,
    ) -> Result<(), FwError> {
        let m = Mutation::IgnoreGlobalPort {
            connection: self.name.clone(),
            key: wire::key(port, protocol)?,
            name: EntryName::try_from(name)?,
        };
        self.one(conn, &hdr, m).await
    }

    /// `ObserveGlobalPort`.
    async fn observe_global_port(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
    ) -> Result<(), FwError> {
        let m = Mutation::ObserveGlobalPort {
            connection: self.name.clone(),
            key: wire::key(port, protocol)?,
        };
        self.one(conn, &hdr, m).await
    }

    /// `IsGlobalPortIgnored`.
    fn is_global_port_ignored(&self, port: u16, protocol: u32) -> Result<bool, FwError> {
        Ok(self
            .shared
            .state()
            .is_global_port_ignored(&self.name, wire::key(port, protocol)?))
    }

    /// `EnumerateIgnoredGlobalPorts`.
    fn enumerate_ignored_global_ports(&self) -> Entries {
        Entries::new(
            self.shared.state(),
            PairList::IgnoredGlobal(self.name.clone()),
        )
    }

    /// `Explain`.
    fn explain(&self, port: u16, protocol: u32) -> Result<(bool, String, String), FwError> {
        let state = self.shared.state();
        let key = wire::key(port, protocol)?;
        let d = state.decide(&self.name, key);
        // A literal tuple, not `wire::WireExplanation`: zbus reads the written tuple as three
        // out arguments, an alias as one struct (the introspection test says which).
        Ok(wire::explanation_leased(
            d,
            state.lease_behind(&self.name, key, d),
        ))
    }
}
