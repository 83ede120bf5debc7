//! A blocking client for programs without an async runtime. zbus 6 has no blocking API, so each
//! manager owns a private current-thread tokio runtime and every call is one `block_on`. Do not
//! call these from inside an async runtime: use [`crate::Manager`] there.

use std::sync::Arc;

use futures_util::StreamExt;
use fw6_model::{
    ConnectionId, EntryName, IfName, LogSettings, LogfileMaximumSize, Mutation, OpenOptions,
    PortEntry, PortKey, Snapshot,
};
use tokio::runtime::Runtime;

use crate::{Batch, ConnectionInfo, Error, Event, Explanation, Status};

/// The private runtime shared by a manager, its connections and its change iterators.
type Rt = Arc<Runtime>;

fn runtime() -> Result<Rt, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| {
            Error::new(
                fw6_model::ErrorKind::Unexpected,
                format!("cannot start the client runtime: {e}"),
            )
        })
}

/// The blocking twin of [`crate::BoundPort`]: dropping it ends the opening and waits until fw6d
/// has closed it.
#[derive(Debug)]
pub struct BoundPort {
    rt: Rt,
    inner: Option<crate::BoundPort>,
}

impl BoundPort {
    fn new(rt: Rt, inner: crate::BoundPort) -> Self {
        Self {
            rt,
            inner: Some(inner),
        }
    }

    /// The pair.
    pub fn key(&self) -> Option<PortKey> {
        self.inner.as_ref().map(crate::BoundPort::key)
    }

    /// Ends the opening (see [`crate::BoundPort::close`]).
    pub fn close(mut self) -> Result<(), Error> {
        self.end()
    }

    fn end(&mut self) -> Result<(), Error> {
        match self.inner.take() {
            // The connection's tasks run only inside the private runtime: close it there.
            Some(inner) => self.rt.block_on(inner.close()),
            None => Ok(()),
        }
    }
}

impl Drop for BoundPort {
    /// Ends the opening. Dropped inside an async runtime (where blocking on the private one
    /// would panic), the close runs on a thread of its own.
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err() {
            let _ = self.end();
        } else if let Some(inner) = self.inner.take() {
            let rt = self.rt.clone();
            std::thread::spawn(move || {
                let _ = rt.block_on(inner.close());
            });
        }
    }
}

/// The blocking twin of [`crate::Manager`]; same members, same errors.
#[derive(Debug, Clone)]
pub struct Manager {
    rt: Rt,
    inner: crate::Manager,
}

impl Manager {
    /// Connects on the system bus or `FW6_BUS_ADDRESS` (see [`crate::Manager::connect`]).
    pub fn connect() -> Result<Self, Error> {
        let rt = runtime()?;
        let inner = rt.block_on(crate::Manager::connect())?;
        Ok(Self { rt, inner })
    }

    /// Connects on the bus at `address` (see [`crate::Manager::connect_to`]).
    pub fn connect_to(address: &str) -> Result<Self, Error> {
        let rt = runtime()?;
        let inner = rt.block_on(crate::Manager::connect_to(address))?;
        Ok(Self { rt, inner })
    }

    /// Runs `future` on the private runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// The async manager inside.
    pub(crate) fn inner(&self) -> &crate::Manager {
        &self.inner
    }

    /// `Connections`.
    pub fn connections(&self) -> Result<Snapshot<ConnectionInfo>, Error> {
        self.rt.block_on(self.inner.connections())
    }

    /// `GetConnection` by Id or interface name.
    pub fn connection(&self, id_or_name: &str) -> Result<Connection, Error> {
        let inner = self.rt.block_on(self.inner.connection(id_or_name))?;
        Ok(Connection {
            rt: self.rt.clone(),
            inner,
        })
    }

    /// `OpenGlobalPortWithOptions` (see [`crate::Manager::open_global_port_with_options`]).
    pub fn open_global_port_with_options(
        &self,
        key: PortKey,
        name: &EntryName,
        options: OpenOptions,
    ) -> Result<(), Error> {
        self.rt
            .block_on(self.inner.open_global_port_with_options(key, name, options))
    }

    /// A global pair open while the guard lives (see [`crate::BoundPort`]).
    pub fn open_global_port_while_alive(
        &self,
        key: PortKey,
        name: &EntryName,
    ) -> Result<BoundPort, Error> {
        let inner = self
            .rt
            .block_on(self.inner.open_global_port_while_alive(key, name))?;
        Ok(BoundPort::new(self.rt.clone(), inner))
    }

    /// `OpenGlobalPort`.
    pub fn open_global_port(&self, key: PortKey, name: &EntryName) -> Result<(), Error> {
        self.rt.block_on(self.inner.open_global_port(key, name))
    }

    /// `CloseGlobalPort`.
    pub fn close_global_port(&self, key: PortKey) -> Result<(), Error> {
        self.rt.block_on(self.inner.close_global_port(key))
    }

    /// `IsPortGloballyOpen`.
    pub fn is_port_globally_open(&self, key: PortKey) -> Result<bool, Error> {
        self.rt.block_on(self.inner.is_port_globally_open(key))
    }

    /// `GloballyOpenPorts`.
    pub fn globally_open_ports(&self) -> Result<Snapshot<PortEntry>, Error> {
        self.rt.block_on(self.inner.globally_open_ports())
    }

    /// One atomic `Apply`; returns the number of effective changes.
    pub fn apply(&self, mutations: &[Mutation]) -> Result<u32, Error> {
        self.rt.block_on(self.inner.apply(mutations))
    }

    /// [`crate::Manager::apply_confirmable`].
    pub fn apply_confirmable(
        &self,
        mutations: &[Mutation],
        confirm_within: u32,
    ) -> Result<(u32, Option<crate::PendingChange>), Error> {
        self.rt
            .block_on(self.inner.apply_confirmable(mutations, confirm_within))
    }

    /// [`crate::Manager::confirm`].
    pub fn confirm(&self, token: &str) -> Result<(), Error> {
        self.rt.block_on(self.inner.confirm(token))
    }

    /// [`crate::Manager::revert`].
    pub fn revert(&self, token: &str) -> Result<(), Error> {
        self.rt.block_on(self.inner.revert(token))
    }

    /// A builder for one atomic `Apply`.
    pub fn batch(&self) -> Batch<'_, Self> {
        Batch::new(self)
    }

    /// `Explain` for a connection given by Id or interface name.
    pub fn explain(&self, connection: &str, key: PortKey) -> Result<Explanation, Error> {
        self.rt.block_on(self.inner.explain(connection, key))
    }

    /// `ReadAudit` (root or `org.fw6.firewall1.audit`).
    pub fn audit(
        &self,
        since: std::time::SystemTime,
        limit: u32,
    ) -> Result<Vec<crate::AuditEntry>, Error> {
        self.rt.block_on(self.inner.audit(since, limit))
    }

    /// `Status()`.
    pub fn status(&self) -> Result<Status, Error> {
        self.rt.block_on(self.inner.status())
    }

    /// The four logging settings.
    pub fn log_settings(&self) -> Result<LogSettings, Error> {
        self.rt.block_on(self.inner.log_settings())
    }

    /// `put_LogfilePath`.
    pub fn set_logfile_path(&self, path: &str) -> Result<(), Error> {
        self.rt.block_on(self.inner.set_logfile_path(path))
    }

    /// `put_LogfileMaximumSize`.
    pub fn set_logfile_maximum_size(&self, size: LogfileMaximumSize) -> Result<(), Error> {
        self.rt.block_on(self.inner.set_logfile_maximum_size(size))
    }

    /// `put_LogDroppedPackets`.
    pub fn set_log_dropped_packets(&self, enabled: bool) -> Result<(), Error> {
        self.rt
            .block_on(self.inner.set_log_dropped_packets(enabled))
    }

    /// `put_LogConnections`.
    pub fn set_log_connections(&self, enabled: bool) -> Result<(), Error> {
        self.rt.block_on(self.inner.set_log_connections(enabled))
    }

    /// An iterator over change notifications from now on; `next` blocks until one arrives.
    pub fn changes(&self) -> Result<Changes, Error> {
        let inner = self.rt.block_on(self.inner.changes())?;
        Ok(Changes {
            rt: self.rt.clone(),
            inner,
        })
    }
}

impl Batch<'_, Manager> {
    /// Sends the batch as one atomic `Apply` and returns the number of effective changes.
    pub fn apply(self) -> Result<u32, Error> {
        let manager = self.manager();
        manager.apply(self.as_mutations())
    }
}

/// The blocking twin of [`crate::Connection`].
#[derive(Debug, Clone)]
pub struct Connection {
    rt: Rt,
    inner: crate::Connection,
}

impl Connection {
    /// The D-Bus object path.
    pub fn path(&self) -> &str {
        self.inner.path()
    }

    /// `Id`.
    pub fn id(&self) -> Result<ConnectionId, Error> {
        self.rt.block_on(self.inner.id())
    }

    /// `Name`.
    pub fn name(&self) -> Result<String, Error> {
        self.rt.block_on(self.inner.name())
    }

    /// `Interface`.
    pub fn interface(&self) -> Result<IfName, Error> {
        self.rt.block_on(self.inner.interface())
    }

    /// `Present`.
    pub fn present(&self) -> Result<bool, Error> {
        self.rt.block_on(self.inner.present())
    }

    /// `IsFirewalled`.
    pub fn is_firewalled(&self) -> Result<bool, Error> {
        self.rt.block_on(self.inner.is_firewalled())
    }

    /// `EnableFirewall`.
    pub fn enable_firewall(&self) -> Result<(), Error> {
        self.rt.block_on(self.inner.enable_firewall())
    }

    /// `DisableFirewall`.
    pub fn disable_firewall(&self) -> Result<(), Error> {
        self.rt.block_on(self.inner.disable_firewall())
    }

    /// `OpenPortWithOptions` (see [`crate::Connection::open_port_with_options`]).
    pub fn open_port_with_options(
        &self,
        key: PortKey,
        name: &EntryName,
        options: OpenOptions,
    ) -> Result<(), Error> {
        self.rt
            .block_on(self.inner.open_port_with_options(key, name, options))
    }

    /// A pair open on this connection while the guard lives (see [`crate::BoundPort`]).
    pub fn open_port_while_alive(
        &self,
        key: PortKey,
        name: &EntryName,
    ) -> Result<BoundPort, Error> {
        let inner = self
            .rt
            .block_on(self.inner.open_port_while_alive(key, name))?;
        Ok(BoundPort::new(self.rt.clone(), inner))
    }

    /// `OpenPort`.
    pub fn open_port(&self, key: PortKey, name: &EntryName) -> Result<(), Error> {
        self.rt.block_on(self.inner.open_port(key, name))
    }

    /// `ClosePort`.
    pub fn close_port(&self, key: PortKey) -> Result<(), Error> {
        self.rt.block_on(self.inner.close_port(key))
    }

    /// `IsPortOpen`.
    pub fn is_port_open(&self, key: PortKey) -> Result<bool, Error> {
        self.rt.block_on(self.inner.is_port_open(key))
    }

    /// `OpenPorts`.
    pub fn open_ports(&self) -> Result<Snapshot<PortEntry>, Error> {
        self.rt.block_on(self.inner.open_ports())
    }

    /// `IgnoreGlobalPort`.
    pub fn ignore_global_port(&self, key: PortKey, name: &EntryName) -> Result<(), Error> {
        self.rt.block_on(self.inner.ignore_global_port(key, name))
    }

    /// `ObserveGlobalPort`.
    pub fn observe_global_port(&self, key: PortKey) -> Result<(), Error> {
        self.rt.block_on(self.inner.observe_global_port(key))
    }

    /// `IsGlobalPortIgnored`.
    pub fn is_global_port_ignored(&self, key: PortKey) -> Result<bool, Error> {
        self.rt.block_on(self.inner.is_global_port_ignored(key))
    }

    /// `IgnoredGlobalPorts`.
    pub fn ignored_global_ports(&self) -> Result<Snapshot<PortEntry>, Error> {
        self.rt.block_on(self.inner.ignored_global_ports())
    }

    /// `Explain`.
    pub fn explain(&self, key: PortKey) -> Result<Explanation, Error> {
        self.rt.block_on(self.inner.explain(key))
    }
}

/// Blocking change notifications: an iterator that ends when the bus connection closes.
#[derive(Debug)]
pub struct Changes {
    rt: Rt,
    inner: crate::Changes,
}

impl Iterator for Changes {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rt.block_on(self.inner.next())
    }
}
