//! The D-Bus service `org.fw6.Firewall1` (docs/dbus-api.md): a manager object and one object
//! per connection. Reads come from the last published state and never wait for the writer;
//! writes go validate → authorize → confirm → writer → reply → signal.

mod args;
mod audit;
mod auth;
mod connection;
mod error;
mod manager;
mod registry;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use fw6_model::{Change, IfName, Mutation, State};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;

pub use connection::ConnectionIface;
pub use error::{FwError, FwResult};
pub use manager::ManagerIface;
pub use registry::{MANAGER_PATH, Present, Registry, connection_path};

use crate::config::Config;
use crate::engine::{Validated, micros};
use crate::logging::LogCounters;
use crate::writer::Writer;

/// The bus name the daemon owns.
pub const BUS_NAME: &str = "org.fw6.Firewall1";

/// What every object of the service shares.
pub struct Shared {
    writer: Writer,
    state: watch::Receiver<Arc<State>>,
    registry: Mutex<Registry>,
    config: Config,
    log: Arc<LogCounters>,
    callers: auth::Callers,
}

impl Shared {
    /// Shares `writer`'s published state and the configuration.
    pub fn new(writer: Writer, state: watch::Receiver<Arc<State>>, config: Config) -> Arc<Self> {
        Arc::new(Self {
            writer,
            state,
            registry: Mutex::new(Registry::default()),
            callers: auth::Callers::default(),
            config,
            log: Arc::default(),
        })
    }

    /// The state as of the last commit.
    pub fn state(&self) -> Arc<State> {
        self.state.borrow().clone()
    }

    /// A receiver of every published state, for consumers outside the service (the log writer).
    pub fn subscribe(&self) -> watch::Receiver<Arc<State>> {
        self.state.clone()
    }

    /// The firewall log's counters (`Status` reports the lost events; SIGHUP reopens the file).
    pub fn log_counters(&self) -> &Arc<LogCounters> {
        &self.log
    }

    /// The writer.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs `f` with the registry locked (short, never across an await).
    pub fn registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        f(&mut self.registry.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The state-changing path shared by every mutator.
    async fn mutate(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        mutations: Vec<Mutation>,
    ) -> FwResult<Vec<Change>> {
        if mutations.len() > self.config.max_batch {
            return Err(fw6_model::Error::invalid_arg(format!(
                "the batch has {} items: send at most {} per call",
                mutations.len(),
                self.config.max_batch
            ))
            .into());
        }
        let started = Instant::now();
        let member = mutations.first().map_or("", Mutation::member);
        // Validate first, on a scratch copy of the published state (O(1) to clone), so bad
        // input is refused before anyone is asked to authenticate.
        // The writer reuses the result unless another commit came first.
        let validated = Validated::new(self.state(), &mutations)?;
        let checked = Instant::now();
        let who = self.callers.get(conn, hdr).await?;
        auth::authorize(conn, hdr, &who, &mutations, self.config.allow_configuration).await?;
        let authorized = Instant::now();
        let changes = self
            .writer
            .submit(mutations, validated, who.clone())
            .await?;
        let written = Instant::now();
        if !changes.is_empty() {
            info!(uid = who.uid, sender = ?who.sender, changes = changes.len(), "changed");
            self.after_change(conn, &changes).await;
        }
        debug!(
            member,
            changes = changes.len(),
            validate_us = micros(checked - started),
            authorize_us = micros(authorized - checked),
            writer_us = micros(written - authorized),
            after_us = micros(written.elapsed()),
            "served a change"
        );
        Ok(changes)
    }

    /// Exports objects for connections that became configured, then emits the `Changed`
    /// signals from a task so they follow the method reply.
    async fn after_change(self: &Arc<Self>, conn: &zbus::Connection, changes: &[Change]) {
        // Once per connection, not once per change: a 10,000-item batch on one connection
        // would otherwise await 10,000 object-server lookups before the reply.
        let mut names: Vec<&IfName> = changes.iter().filter_map(change_connection).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            export_connection(conn, self, name).await;
        }
        let conn = conn.clone();
        let changes = changes.to_vec();
        tokio::spawn(async move {
            let Ok(emitter) = SignalEmitter::new(&conn, MANAGER_PATH) else {
                return;
            };
            // The reply is sent once the method returns, racing this task for the connection.
            // Yielding before every slice lets it (and any other call's reply) go first instead
            // of queueing behind a whole batch's signals: measured, 10,000 signals ahead of the
            // reply delayed a 10,000-item Apply by ~9 ms.
            for slice in changes.chunks(SIGNAL_SLICE) {
                tokio::task::yield_now().await;
                for change in slice {
                    let (kind, iface, port, protocol, name) = manager::signal_fields(change);
                    if let Err(e) =
                        ManagerIface::changed(&emitter, kind, &iface, port, protocol, &name).await
                    {
                        warn!(%e, "could not emit Changed");
                    }
                }
            }
        });
    }
}

/// `Changed` signals sent between two yields to the runtime.
const SIGNAL_SLICE: usize = 64;

fn change_connection(change: &Change) -> Option<&IfName> {
    match change {
        Change::FirewallEnabled { connection }
        | Change::FirewallDisabled { connection }
        | Change::PortOpened { connection, .. }
        | Change::PortClosed { connection, .. }
        | Change::GlobalIgnored { connection, .. }
        | Change::GlobalObserved { connection, .. } => Some(connection),
        _ => None,
    }
}

/// Exports the object of connection `name` unless it already exists.
pub async fn export_connection(conn: &zbus::Connection, shared: &Arc<Shared>, name: &IfName) {
    let path = connection_path(name);
    let server = conn.object_server();
    if server
        .interface::<_, ConnectionIface>(path.as_ref())
        .await
        .is_ok()
    {
        return;
    }
    let iface = ConnectionIface::new(name.clone(), Arc::clone(shared));
    if let Err(e) = server.at(path.as_ref(), iface).await {
        warn!(%e, %name, "could not export the connection object");
    }
}
