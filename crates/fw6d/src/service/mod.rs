//! The D-Bus service `org.fw6.Firewall1` (docs/dbus-api.md): a manager object and one object
//! per connection. Reads come from the last published state and never wait for the writer;
//! writes go admit (size, calls in flight, who) → authorize and confirm, item by item →
//! validate → writer → reply → signal: whatever an unauthorized caller sends, it is refused
//! before fw6d validates it or the writer sees it.

mod args;
mod audit;
mod auth;
mod callers;
mod confirm;
mod connection;
pub mod deadline;
mod dispatch;
mod entries;
mod error;
mod limits;
mod manager;
pub(crate) mod options;
mod properties;
mod registry;
mod subject;
mod variant;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use fw6_model::{Change, IfName, Mutation, OpenOptions, State};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;

pub use auth::{Action, Timeouts};
pub use connection::ConnectionIface;
pub use dispatch::Served;
pub use error::{FwError, FwResult};
pub use fw6_model::wire::{BUS_NAME, MANAGER_PATH};
pub use limits::Bounds;
pub use manager::ManagerIface;
pub use options::now_millis;
pub use registry::{Present, Registry, connection_path};

use crate::config::Config;
use crate::engine::{Validated, micros};
use crate::logging::LogCounters;
use crate::others::OtherTables;
use crate::writer::Writer;

/// Items of a call small enough to wait, past its caller's in-flight bound, for the bus to say
/// who the caller is (see [`Shared::admit`]).
const SMALL_CALL: usize = 64;

/// What every object of the service shares.
pub struct Shared {
    writer: Writer,
    state: watch::Receiver<Arc<State>>,
    registry: Mutex<Registry>,
    config: Config,
    log: Arc<LogCounters>,
    callers: callers::Callers,
    in_flight: limits::InFlight,
    others: OtherTables,
}

/// A state-changing call let in: who is calling, and its place among the calls in flight.
pub(crate) struct Admitted<'a> {
    who: crate::store::Provenance,
    _ticket: Option<limits::Ticket<'a>>,
}

impl Shared {
    /// Shares `writer`'s published state, the other tables' reader and the configuration.
    pub fn new(
        writer: Writer,
        state: watch::Receiver<Arc<State>>,
        others: OtherTables,
        config: Config,
    ) -> Arc<Self> {
        Arc::new(Self {
            writer,
            state,
            registry: Mutex::new(Registry::default()),
            callers: callers::Callers::default(),
            in_flight: limits::InFlight::new(config.bounds()),
            config,
            log: Arc::default(),
            others,
        })
    }

    /// `name` has left the bus: what fw6d knew of it as a caller is forgotten.
    pub fn left_bus(&self, name: &str) {
        self.callers.forget(name);
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

    /// The other tables' chains, as last read (`Status`), and the handle that reads them again.
    pub fn others(&self) -> &OtherTables {
        &self.others
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs `f` with the registry locked (short, never across an await).
    pub fn registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        f(&mut self.registry.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Lets a state-changing call of `items` items in, or refuses it before any work: too big,
    /// too many calls in flight from this caller or its user, or a caller the bus cannot vouch
    /// for.
    async fn admit(
        &self,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        items: usize,
    ) -> FwResult<Admitted<'_>> {
        if items > self.config.max_batch {
            return Err(fw6_model::Error::invalid_arg(format!(
                "the batch has {items} items: send at most {} per call (max_batch in fw6d.toml)",
                self.config.max_batch
            ))
            .into());
        }
        let sender = hdr
            .sender()
            .map(zbus::names::UniqueName::as_str)
            .unwrap_or_default();
        // Root is not bounded (it is the administrator fighting a flood, and could stop fw6d
        // anyway); a caller not known yet is bounded per connection until the bus has said who
        // it is, so a flood of first calls cannot make fw6d ask the bus without end.
        let cached = self.callers.cached(sender);
        if let Some(who) = cached.as_ref().filter(|w| w.uid == 0) {
            return Ok(Admitted {
                who: who.clone(),
                _ticket: None,
            });
        }
        let (mut ticket, who) = match (self.in_flight.enter(sender), cached) {
            (Ok(ticket), Some(who)) => (Some(ticket), who),
            (Ok(ticket), None) => (
                Some(ticket),
                self.callers
                    .get(conn, hdr, self.config.timeouts().check)
                    .await?,
            ),
            (Err(busy), Some(_)) => return Err(busy.into()),
            // Past its bound before the bus has said who it is: a small call may wait for that
            // answer (shared by all the caller's calls; a few hundred at most, of all callers
            // together), so that a root client's first burst is not refused; a big one, or one
            // past that, is refused as busy.
            (Err(busy), None) => {
                let place = (items <= SMALL_CALL)
                    .then(|| self.callers.wait_past_bound())
                    .flatten()
                    .ok_or(busy)?;
                let who = self
                    .callers
                    .get(conn, hdr, self.config.timeouts().check)
                    .await?;
                drop(place);
                (None, who)
            }
        };
        if who.uid == 0 {
            return Ok(Admitted { who, _ticket: None });
        }
        let mut ticket = match ticket.take() {
            Some(ticket) => ticket,
            None => self.in_flight.enter(sender)?,
        };
        ticket.charge(who.uid, items)?;
        Ok(Admitted {
            who,
            _ticket: Some(ticket),
        })
    }

    /// One mutator call: admit, then [`Shared::mutate`].
    async fn mutate_one(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        mutation: Mutation,
        origin: Origin,
    ) -> FwResult<Vec<Change>> {
        let admitted = self.admit(conn, hdr, 1).await?;
        self.mutate_single(conn, hdr, &admitted, mutation, origin)
            .await
    }

    /// [`Shared::mutate`] for one member call, whose one item nothing has authorized yet.
    async fn mutate_single(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        admitted: &Admitted<'_>,
        mutation: Mutation,
        origin: Origin,
    ) -> FwResult<Vec<Change>> {
        let unsettled = auth::Probed::default();
        self.mutate(conn, hdr, admitted, vec![mutation], unsettled, origin)
            .await
    }

    /// One opening with options (`OpenPortWithOptions`, `OpenGlobalPortWithOptions`): admit,
    /// make the lease the options ask for (it names the caller, known once admitted), then
    /// [`Shared::mutate`].
    async fn mutate_one_with(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        mutation: Mutation,
        options: OpenOptions,
    ) -> FwResult<Vec<Change>> {
        let admitted = self.admit(conn, hdr, 1).await?;
        let mutation = options::lease(
            mutation,
            options,
            conn.server_guid().as_str(),
            &admitted.who,
        )?;
        self.mutate_single(conn, hdr, &admitted, mutation, Origin::Method)
            .await
    }

    /// Authorizes an admitted batch's first item before the rest is converted (`auth::probe`;
    /// `first` holds its first `auth::MESSAGE_ITEMS` of `items`). A change waiting for
    /// confirmation refuses the batch before polkit is asked.
    async fn probe(
        &self,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        admitted: &Admitted<'_>,
        first: &[Mutation],
        items: usize,
    ) -> FwResult<auth::Probed> {
        self.refuse_while_pending()?;
        let caller = self.caller(conn, hdr, &admitted.who);
        Ok(auth::probe(&caller, first, items, &self.state()).await?)
    }

    /// The caller of `hdr`, `who`, as the authorization asks polkit about it.
    fn caller<'a>(
        &self,
        conn: &'a zbus::Connection,
        hdr: &'a Header<'a>,
        who: &'a crate::store::Provenance,
    ) -> auth::Caller<'a> {
        auth::Caller {
            conn,
            hdr,
            who,
            allow_configuration: self.config.allow_configuration,
            timeouts: self.config.timeouts(),
        }
    }

    /// The state-changing path shared by every mutator, for an admitted call.
    async fn mutate(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        admitted: &Admitted<'_>,
        mut mutations: Vec<Mutation>,
        settled: auth::Probed,
        origin: Origin,
    ) -> FwResult<Vec<Change>> {
        let started = Instant::now();
        let who = &admitted.who;
        let member = mutations.first().map_or("", Mutation::member);
        self.refuse_while_pending()?;
        let state = self.state();
        // Authorize first, item by item: an unauthorized caller costs one polkit question.
        let admission =
            auth::authorize(&self.caller(conn, hdr, who), &mutations, &state, settled).await?;
        let authorized = Instant::now();
        leases_start_now(&mut mutations, authorized - started);
        // Validate on a scratch copy of the state as it is now (O(1) to clone); the writer
        // reuses the result unless another commit came first.
        let validated = admit_as(Validated::new(self.state(), &mutations)?, admission);
        let checked = Instant::now();
        let changes = self
            .writer
            .submit(mutations, validated, who.clone())
            .await?;
        let written = Instant::now();
        if !changes.is_empty() {
            info!(uid = who.uid, sender = ?who.sender, changes = changes.len(), "changed");
            self.after_change(conn, &changes, origin).await;
        }
        debug!(
            member,
            changes = changes.len(),
            authorize_us = micros(authorized - started),
            validate_us = micros(checked - authorized),
            writer_us = micros(written - checked),
            after_us = micros(written.elapsed()),
            "served a change"
        );
        Ok(changes)
    }

    /// Announces changes fw6d made itself (a lease ended): `Changed` signals, as for a call.
    pub async fn announce(self: &Arc<Self>, conn: &zbus::Connection, changes: &[Change]) {
        self.after_change(conn, changes, Origin::Method).await;
    }

    /// Exports objects for connections that became configured, then emits the `Changed`
    /// signals from a task so they follow the method reply.
    async fn after_change(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        changes: &[Change],
        origin: Origin,
    ) {
        // Once per connection, not once per change: a 10,000-item batch on one connection
        // would otherwise await 10,000 object-server lookups before the reply.
        let mut names: Vec<&IfName> = changes.iter().filter_map(change_connection).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            export_connection(conn, self, name).await;
        }
        let logging = changes.iter().rev().find_map(|c| match c {
            Change::Logging { to, .. } => Some(to.clone()),
            _ => None,
        });
        let before = changes.iter().find_map(|c| match c {
            Change::Logging { from, .. } => Some(from.clone()),
            _ => None,
        });
        if let (Some(from), Some(to)) = (before, logging) {
            match origin {
                // A setter runs with the manager object held (service/properties.rs serves
                // `Set` outside zbus's tree lock, but through the manager's own). Looking the
                // manager up again from inside the setter would wait behind any writer queued
                // for either lock, which would wait for this setter. So a setter's other
                // signals go out from a task of their own, once the setter has returned (and
                // after the set property's own, which zbus sends when the setter returns).
                Origin::Property(_) => {
                    let conn = conn.clone();
                    tokio::spawn(async move {
                        manager::properties_changed(&conn, &from, &to, origin).await;
                    });
                }
                Origin::Method => manager::properties_changed(conn, &from, &to, origin).await,
            }
        }
        let conn = conn.clone();
        let changes = changes.to_vec();
        tokio::spawn(async move {
            let Ok(emitter) = SignalEmitter::new(&conn, MANAGER_PATH) else {
                return;
            };
            // The reply is sent once the method returns, racing this task for the connection.
            // Yielding before every slice lets it (and any other call's reply) go first instead
            // of queueing behind a whole batch's signals (measured: BENCHMARKS.md, "Figures
            // behind design choices").
            for slice in changes.chunks(SIGNAL_SLICE) {
                tokio::task::yield_now().await;
                for change in slice {
                    let (kind, iface, port, protocol, name) = fw6_model::wire::changed(change);
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

/// Which path a change came by: a property setter's own `PropertiesChanged` is sent by zbus,
/// so the service sends the others only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A method (a mutator or `Apply`).
    Method,
    /// The setter of the named manager property.
    Property(&'static str),
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
    if let Err(e) = properties::serve_at(server, &path.as_ref(), iface).await {
        warn!(%e, %name, "could not export the connection object");
    }
}

/// Serves the manager object, with the screened `Properties` on every node of its path
/// (service/properties.rs): before fw6d takes its bus name, so no caller finds zbus's own.
pub async fn serve_manager(conn: &zbus::Connection, shared: &Arc<Shared>) -> zbus::Result<()> {
    let path = zbus::ObjectPath::from_static_str_unchecked(MANAGER_PATH);
    let manager = Served::new(ManagerIface::new(Arc::clone(shared)));
    properties::serve_at(conn.object_server(), &path, manager)
        .await
        .map(drop)
}

/// A lifetime counts from the change, not from the call: an authentication dialog may have
/// taken minutes (`waited`, on the monotonic clock, so a wall-clock step during the dialog does
/// not lengthen a lease), which must not eat into a short lease.
pub(crate) fn leases_start_now(mutations: &mut [Mutation], waited: std::time::Duration) {
    let waited = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
    if waited > 0 {
        for lease in mutations.iter_mut().filter_map(Mutation::lease_mut) {
            lease.expires = lease.expires.map(|at| at.saturating_add(waited));
        }
    }
}

/// `validated` marked as `admission` let it in: a batch let in as a no-op must still be one
/// when it is committed (`Validated::admitted_as_noop`).
fn admit_as(validated: Validated, admission: auth::Admission) -> Validated {
    match admission {
        auth::Admission::NoopOnly => validated.admitted_as_noop(),
        auth::Admission::Authorized => validated,
    }
}

#[cfg(test)]
mod tests {
    use zbus::object_server::Interface;

    use super::*;

    /// `#[interface(name = …)]` takes a literal only: the contract's names are checked here.
    #[test]
    fn interfaces_have_the_contract_names() {
        assert_eq!(
            ManagerIface::name().as_str(),
            fw6_model::wire::MANAGER_IFACE
        );
        assert_eq!(
            ConnectionIface::name().as_str(),
            fw6_model::wire::CONNECTION_IFACE
        );
    }
}
