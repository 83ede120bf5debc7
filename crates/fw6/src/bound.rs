//! Openings that live as long as their holder (docs/dbus-api.md, "Leases"): a program opens a
//! port for as long as it runs, and the port closes when it stops, however it stops.
//!
//! A [`BoundPort`] opens its pair with `bind_to_caller` over a bus connection of its own. fw6d
//! closes the pair when that connection leaves the bus, so dropping the guard (which closes the
//! connection), the program exiting, crashing or being killed with SIGKILL all end the opening
//! the same way, with nothing for the program to do. The guard never sends `ClosePort`: a pair
//! that was already open without a limit when the guard asked stays open (the first opening
//! wins), and a pair someone made permanent meanwhile is not closed under them.

use std::time::{Duration, Instant};

use fw6_model::{EntryName, OpenOptions, PortKey};

use crate::Error;
use crate::remote::Remote;
use crate::wire::{self, CONNECTION_IFACE, MANAGER_IFACE, MANAGER_PATH};

/// How long [`BoundPort::close`] waits for fw6d to see the connection go.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Where the client's bus is, so that a guard can open a bus connection of its own there.
#[derive(Debug, Clone)]
pub(crate) enum Bus {
    /// The system bus.
    System,
    /// The bus at this D-Bus address.
    Address(String),
    /// A connection the program gave ([`crate::Manager::on`]): its address is not known.
    Given,
}

impl Bus {
    /// A new connection to this bus.
    pub(crate) async fn connect(&self) -> Result<zbus::Connection, Error> {
        match self {
            Self::System => zbus::Connection::system().await.map_err(|e| match e {
                zbus::Error::Connection(io, _) => Error::unreachable("the system bus", &io),
                other => Error::unreachable("the system bus", &other),
            }),
            Self::Address(address) => zbus::connection::Builder::address(address.as_str())
                .build()
                .await
                .map_err(|e| match e {
                    zbus::Error::Address(_) => Error::from(e),
                    zbus::Error::Connection(io, _) => {
                        Error::unreachable(&format!("the bus at {address}"), &io)
                    }
                    other => Error::unreachable(&format!("the bus at {address}"), &other),
                }),
            Self::Given => Err(Error::new(
                fw6_model::ErrorKind::InvalidArg,
                "an opening bound to its holder needs a bus connection of its own, and the \
                 address of a connection given to Manager::on is not known: make the manager \
                 with Manager::connect or Manager::connect_to",
            )),
        }
    }
}

/// A bus connection of its own whose openings live as long as it does: dropping it, or
/// [`Binding::close`], or the program ending in any way, closes every pair opened through it
/// (fw6d closes them when the connection leaves the bus). Made by [`crate::Manager::binding`];
/// `fw6 run` holds its pairs with one.
#[derive(Debug)]
pub struct Binding {
    /// The connection the openings are bound to; `None` once closed.
    bound: Option<zbus::Connection>,
    /// The program's other connection, to see the openings end.
    shared: zbus::Connection,
}

impl Binding {
    /// A new connection to `bus`; `shared` is the program's existing one.
    pub(crate) async fn new(bus: &Bus, shared: &zbus::Connection) -> Result<Self, Error> {
        Ok(Self {
            bound: Some(bus.connect().await?),
            shared: shared.clone(),
        })
    }

    /// Opens `key` on `connection` while this binding lives (`OpenPortWithOptions` with
    /// `bind_to_caller`). A pair already open without a limit stays as it is.
    pub async fn open_port(
        &self,
        connection: &crate::Connection,
        key: PortKey,
        name: &EntryName,
    ) -> Result<(), Error> {
        self.open(
            connection.path(),
            CONNECTION_IFACE,
            "OpenPortWithOptions",
            key,
            name,
        )
        .await
    }

    /// Opens the global `key` while this binding lives (`OpenGlobalPortWithOptions` with
    /// `bind_to_caller`). A pair already open without a limit stays as it is.
    pub async fn open_global_port(&self, key: PortKey, name: &EntryName) -> Result<(), Error> {
        self.open(
            MANAGER_PATH,
            MANAGER_IFACE,
            "OpenGlobalPortWithOptions",
            key,
            name,
        )
        .await
    }

    async fn open(
        &self,
        path: &str,
        interface: &'static str,
        member: &'static str,
        key: PortKey,
        name: &EntryName,
    ) -> Result<(), Error> {
        let bound = self
            .bound
            .as_ref()
            .ok_or_else(|| Error::new(fw6_model::ErrorKind::Unexpected, "the binding is closed"))?;
        let remote = Remote::new(bound, path.to_owned(), interface).await?;
        let options = OpenOptions {
            bind_to_caller: true,
            ..OpenOptions::default()
        };
        let (port, protocol) = wire::key_args(key);
        remote
            .mutate::<_, ()>(
                member,
                &(port, protocol, name.as_str(), wire::options_dict(options)),
            )
            .await
    }

    /// Ends every opening of this binding and waits (at most a few seconds) until fw6d has
    /// closed them — except pairs that were open without a limit before, which it leaves alone.
    pub async fn close(mut self) -> Result<(), Error> {
        let Some(bound) = self.bound.take() else {
            return Ok(());
        };
        let owner = bound.unique_name().map(ToString::to_string);
        // A failed close leaves a broken socket, which the bus sees go too.
        let _ = bound.close().await;
        let Some(owner) = owner else {
            return Ok(());
        };
        let manager = Remote::new(&self.shared, MANAGER_PATH.to_owned(), MANAGER_IFACE).await?;
        let deadline = Instant::now() + CLOSE_WAIT;
        loop {
            let rows: Vec<wire::WireLease> = manager.call("Leases", &()).await?;
            if !rows.iter().any(|row| row.5 == owner) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::new(
                    fw6_model::ErrorKind::Fail,
                    format!(
                        "fw6d still lists an opening bound to {owner} {} s after its connection \
                         closed; it closes such openings when the bus says the connection left",
                        CLOSE_WAIT.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Binding {
    /// Closes the bound connection's socket, so the bus (and fw6d) see it go now rather than
    /// when the program exits. Without a runtime to run the close on, the program's exit does it.
    fn drop(&mut self) {
        if let Some(bound) = self.bound.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = bound.close().await;
            });
        }
    }
}

/// One pair open while this guard lives (a [`Binding`] with one pair): dropping it, or
/// [`BoundPort::close`], or the program ending in any way, closes it. Made by
/// [`crate::Connection::open_port_while_alive`] and
/// [`crate::Manager::open_global_port_while_alive`].
#[derive(Debug)]
pub struct BoundPort {
    binding: Binding,
    key: PortKey,
}

impl BoundPort {
    pub(crate) fn new(binding: Binding, key: PortKey) -> Self {
        Self { binding, key }
    }

    /// The pair.
    pub fn key(&self) -> PortKey {
        self.key
    }

    /// Ends the opening and waits until fw6d has closed it (see [`Binding::close`]).
    pub async fn close(self) -> Result<(), Error> {
        self.binding.close().await
    }
}
