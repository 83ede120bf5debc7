//! `org.fw6.Firewall1.Manager` (docs/icf-api.md §2.1 plus `Apply`, `Explain`, `Status`).

use std::collections::HashMap;
use std::sync::Arc;

use fw6_model::wire::{self, WireAudit, WireConnection, WireItem, WireLease};
use fw6_model::{ConnectionId, EntryName, Mutation, PairList};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, interface};
use zbus::{OwnedObjectPath, OwnedVariant, Variant};

use super::args::{self, Head};
use super::dispatch::{self, Served};
use super::entries::Entries;
use super::options::{self, WireOptions};
use super::registry::connection_path;
use super::{Admitted, FwError, Origin, Shared, auth};

/// The manager object.
pub struct ManagerIface {
    shared: Arc<Shared>,
}

impl ManagerIface {
    /// The manager over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    async fn set_logging(
        &self,
        conn: &Connection,
        hdr: Option<Header<'_>>,
        mutation: Mutation,
    ) -> Result<(), FwError> {
        let hdr = hdr.ok_or_else(|| {
            fw6_model::Error::invalid_arg("logging settings can only be set by a D-Bus call")
        })?;
        let origin = Origin::Property(mutation.member());
        self.shared
            .mutate_one(conn, &hdr, mutation, origin)
            .await
            .map(drop)
    }
}

impl ManagerIface {
    /// The mutations of an `Apply` or `ApplyConfirmable` batch, each with the lease its options
    /// make (`lifetime`, `bind_to_caller` in `value`): one reading of the items for both, so a
    /// confirmable batch's options are never dropped.
    fn batch_mutations(
        &self,
        conn: &Connection,
        items: &[WireItem<'_>],
        admitted: &Admitted<'_>,
    ) -> Result<Vec<Mutation>, FwError> {
        let state = self.shared.state();
        let bus = conn.server_guid().as_str();
        Ok(self.shared.registry(|r| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    wire::mutation(item, |c| r.resolve_any(&state, c))
                        .and_then(|m| {
                            let options = wire::item_options(item)?;
                            options::lease(m, options, bus, &admitted.who)
                        })
                        .map_err(|e| e.context(format_args!("batch item {} ({})", i + 1, item.0)))
                })
                .collect::<Result<Vec<_>, _>>()
        })?)
    }

    /// A batch's first item is authorized before the rest is read (`auth::probe`): only the
    /// first few items, which its dialog names, are converted for it.
    async fn probe(
        &self,
        conn: &Connection,
        hdr: &Header<'_>,
        head: &Head<'_>,
        admitted: &Admitted<'_>,
    ) -> Result<auth::Probed, FwError> {
        let first = self.batch_mutations(conn, &head.first, admitted)?;
        self.shared
            .probe(conn, hdr, admitted, &first, head.total)
            .await
    }

    /// Every mutation of the batch of the call being served, read from its message now that
    /// its first item is authorized (service/args.rs).
    fn read_batch(
        &self,
        conn: &Connection,
        admitted: &Admitted<'_>,
        options: bool,
    ) -> Result<Vec<Mutation>, FwError> {
        let msg = dispatch::message()?;
        let body = msg.body();
        let items = args::items(&body, options)?;
        self.batch_mutations(conn, &items, admitted)
    }
}

#[interface(name = "org.fw6.Firewall1.Manager", introspection_docs = false)]
impl ManagerIface {
    /// `EnumerateConnections`.
    fn enumerate_connections(&self) -> Vec<WireConnection<OwnedObjectPath>> {
        let state = self.shared.state();
        self.shared
            .registry(|r| r.rows(&state))
            .into_iter()
            .map(|row| {
                (
                    ConnectionId::for_interface(&row.interface).to_string(),
                    row.name,
                    row.interface.to_string(),
                    row.index,
                    state.is_firewalled(&row.interface),
                    row.present,
                    connection_path(&row.interface),
                )
            })
            .collect()
    }

    /// `GetConnection`.
    fn get_connection(&self, id_or_name: &str) -> Result<OwnedObjectPath, FwError> {
        let state = self.shared.state();
        let name = self.shared.registry(|r| r.find(&state, id_or_name))?;
        Ok(connection_path(&name))
    }

    /// `OpenGlobalPort`.
    async fn open_global_port(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
        name: &str,
    ) -> Result<(), FwError> {
        let m = Mutation::OpenGlobalPort {
            key: wire::key(port, protocol)?,
            name: EntryName::try_from(name)?,
            lease: None,
        };
        self.shared
            .mutate_one(conn, &hdr, m, Origin::Method)
            .await
            .map(drop)
    }

    /// `OpenGlobalPortWithOptions`: `OpenGlobalPort` with `lifetime` (u, seconds) and
    /// `bind_to_caller` (b) (docs/dbus-api.md, "Leases").
    async fn open_global_port_with_options(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
        name: &str,
        options: WireOptions<'_>,
    ) -> Result<(), FwError> {
        let m = Mutation::OpenGlobalPort {
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

    /// `Leases`: every opening that ends on its own, with its expiry and owner.
    fn leases(&self) -> Vec<WireLease> {
        self.shared
            .state()
            .leased()
            .iter()
            .map(|(connection, entry)| wire::lease_args(connection.as_ref(), entry))
            .collect()
    }

    /// `CloseGlobalPort`.
    async fn close_global_port(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        port: u16,
        protocol: u32,
    ) -> Result<(), FwError> {
        let m = Mutation::CloseGlobalPort {
            key: wire::key(port, protocol)?,
        };
        self.shared
            .mutate_one(conn, &hdr, m, Origin::Method)
            .await
            .map(drop)
    }

    /// `IsPortGloballyOpen`.
    fn is_port_globally_open(&self, port: u16, protocol: u32) -> Result<bool, FwError> {
        Ok(self
            .shared
            .state()
            .is_port_globally_open(wire::key(port, protocol)?))
    }

    /// `EnumerateGloballyOpenPorts`.
    fn enumerate_globally_open_ports(&self) -> Entries {
        Entries::new(self.shared.state(), PairList::GloballyOpen)
    }

    /// `Apply`: an atomic batch of state-changing members. Declared with the batch's head
    /// only: the items are read once the first is authorized.
    async fn apply(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        batch: Head<'_>,
    ) -> Result<u32, FwError> {
        let admitted = self.shared.admit(conn, &hdr, batch.total).await?;
        let settled = self.probe(conn, &hdr, &batch, &admitted).await?;
        let mutations = self.read_batch(conn, &admitted, false)?;
        let changes = self
            .shared
            .mutate(conn, &hdr, &admitted, mutations, settled, Origin::Method)
            .await?;
        Ok(u32::try_from(changes.len()).unwrap_or(u32::MAX))
    }

    /// `ApplyConfirmable`: an atomic batch applied at once and reverted unless `Confirm`ed
    /// within `confirm_within` seconds (service/confirm.rs). Replies (changes, token, deadline).
    async fn apply_confirmable(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        batch: Head<'_>,
        options: WireOptions<'_>,
    ) -> Result<(u32, String, u64), FwError> {
        let admitted = self.shared.admit(conn, &hdr, batch.total).await?;
        let within = super::confirm::options(&options)?;
        let settled = self.probe(conn, &hdr, &batch, &admitted).await?;
        let mutations = self.read_batch(conn, &admitted, true)?;
        self.shared
            .apply_confirmable(conn, &hdr, &admitted, mutations, settled, within)
            .await
    }

    /// `Confirm`: keeps the pending change named `token`.
    async fn confirm(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        token: &str,
    ) -> Result<(), FwError> {
        self.shared.end_pending(conn, &hdr, token, true).await
    }

    /// `Revert`: takes back the pending change named `token` now.
    async fn revert(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        token: &str,
    ) -> Result<(), FwError> {
        self.shared.end_pending(conn, &hdr, token, false).await
    }

    /// `ReadAudit`: who changed what and when, restricted to root and
    /// `org.fw6.firewall1.audit` (service/audit.rs).
    async fn read_audit(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        since: u64,
        limit: u32,
    ) -> Result<Vec<WireAudit>, FwError> {
        super::audit::read(conn, &hdr, &self.shared, since, limit).await
    }

    /// `Explain`: the decision of docs/icf-api.md §1.4 and why.
    fn explain(
        &self,
        connection: &str,
        port: u16,
        protocol: u32,
    ) -> Result<(bool, String, String), FwError> {
        let state = self.shared.state();
        let name = self
            .shared
            .registry(|r| r.resolve_any(&state, connection))?;
        let key = wire::key(port, protocol)?;
        let d = state.decide(&name, key);
        // A literal tuple, not `wire::WireExplanation`: zbus reads the written tuple as three
        // out arguments, an alias as one struct (the introspection test says which).
        Ok(wire::explanation_leased(
            d,
            state.lease_behind(&name, key, d),
        ))
    }

    /// `Status`: kernel generation, how the table stands, drift repairs, counts.
    fn status(&self) -> HashMap<String, OwnedVariant> {
        // Published by the writer and the drift monitor: a flood of Status never reaches the
        // writer thread or the kernel.
        let kernel = self.shared.writer().status();
        let state = self.shared.state();
        let connections = self.shared.registry(|r| r.rows(&state).len());
        let (mut open, mut ignored) = (0_usize, 0_usize);
        for (_, c) in state.connections() {
            open += c.open.len();
            ignored += c.ignored.len();
        }
        let table = kernel.table.as_str();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut out = HashMap::new();
        let mut put = |k: &str, v: Variant<'_>| {
            out.insert(
                k.to_owned(),
                OwnedVariant::try_from(v).expect("plain values"),
            );
        };
        put("generation", Variant::from(kernel.generation));
        put("table", Variant::from(table));
        put(
            "table_protection",
            Variant::from(match kernel.protection {
                fw6_kernel::Protection::OwnerPersist => "owner+persist",
                fw6_kernel::Protection::DriftRepair => "drift-repair",
            }),
        );
        put("repairs", Variant::from(kernel.repairs));
        // The IP families the table filters (`families` in fw6d.toml), IPv6 first.
        put(
            "families",
            Variant::from(self.shared.config().family_names()),
        );
        put("connections", Variant::from(count(connections)));
        put(
            "global_open",
            Variant::from(count(state.global_open().count())),
        );
        put("open", Variant::from(count(open)));
        put("ignored", Variant::from(count(ignored)));
        put("version", Variant::from(env!("CARGO_PKG_VERSION")));
        put("log_lost", Variant::from(self.shared.log_counters().lost()));
        put(
            "log_suppressed",
            Variant::from(self.shared.log_counters().suppressed()),
        );
        let others = self.shared.others().current();
        let chains: Vec<wire::WireOtherChain> =
            others.chains.iter().map(wire::other_chain_args).collect();
        put(wire::STATUS_OTHER_CHAINS, Variant::from(chains));
        if let Some(e) = others.error {
            put("other_chains_error", Variant::from(e));
        }
        if let Some(record) = self.shared.writer().pending().borrow().as_ref() {
            put(
                wire::STATUS_PENDING,
                Variant::from(zbus::Structure::from(super::confirm::status(record))),
            );
        }
        out
    }

    /// `LogfilePath`.
    #[zbus(property)]
    fn logfile_path(&self) -> String {
        self.shared.state().logging().logfile_path.clone()
    }

    #[zbus(property)]
    async fn set_logfile_path(
        &self,
        value: String,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> Result<(), FwError> {
        self.set_logging(conn, hdr, Mutation::SetLogfilePath { path: value })
            .await
    }

    /// `LogfileMaximumSize`, KiB.
    #[zbus(property)]
    fn logfile_maximum_size(&self) -> u32 {
        self.shared.state().logging().logfile_maximum_size.kib()
    }

    #[zbus(property)]
    async fn set_logfile_maximum_size(
        &self,
        value: u32,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> Result<(), FwError> {
        let kib = fw6_model::LogfileMaximumSize::try_from(value)?;
        self.set_logging(conn, hdr, Mutation::SetLogfileMaximumSize { kib })
            .await
    }

    /// `LogDroppedPackets`.
    #[zbus(property)]
    fn log_dropped_packets(&self) -> bool {
        self.shared.state().logging().log_dropped_packets
    }

    #[zbus(property)]
    async fn set_log_dropped_packets(
        &self,
        value: bool,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> Result<(), FwError> {
        self.set_logging(conn, hdr, Mutation::SetLogDroppedPackets { enabled: value })
            .await
    }

    /// `LogConnections`.
    #[zbus(property)]
    fn log_connections(&self) -> bool {
        self.shared.state().logging().log_connections
    }

    #[zbus(property)]
    async fn set_log_connections(
        &self,
        value: bool,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> Result<(), FwError> {
        self.set_logging(conn, hdr, Mutation::SetLogConnections { enabled: value })
            .await
    }

    /// One effective change.
    #[zbus(signal)]
    pub async fn changed(
        emitter: &SignalEmitter<'_>,
        change: &str,
        interface: &str,
        port: u16,
        protocol: u32,
        name: &str,
    ) -> zbus::Result<()>;

    /// The pending change `token` was confirmed: it is kept.
    #[zbus(signal)]
    pub async fn confirmed(emitter: &SignalEmitter<'_>, token: &str) -> zbus::Result<()>;

    /// The pending change `token` was reverted (`why`: `deadline` or `asked`), making `changes`
    /// changes (each also sent as `Changed`).
    #[zbus(signal)]
    pub async fn reverted(
        emitter: &SignalEmitter<'_>,
        token: &str,
        why: &str,
        changes: u32,
    ) -> zbus::Result<()>;

    /// An interface appeared.
    #[zbus(signal)]
    pub async fn connection_added(
        emitter: &SignalEmitter<'_>,
        path: OwnedObjectPath,
        id: &str,
        interface: &str,
    ) -> zbus::Result<()>;

    /// An interface went away; its configuration is kept.
    #[zbus(signal)]
    pub async fn connection_removed(
        emitter: &SignalEmitter<'_>,
        path: OwnedObjectPath,
        id: &str,
        interface: &str,
    ) -> zbus::Result<()>;
}

/// `PropertiesChanged` for each logging property that differs between `from` and `to`, except
/// the one a setter is setting (zbus sends that one itself).
pub async fn properties_changed(
    conn: &Connection,
    from: &fw6_model::LogSettings,
    to: &fw6_model::LogSettings,
    origin: Origin,
) {
    let iface = match conn
        .object_server()
        .interface::<_, Served<ManagerIface>>(wire::MANAGER_PATH)
        .await
    {
        Ok(iface) => iface,
        Err(e) => {
            tracing::warn!(%e, "could not emit PropertiesChanged: the manager object is not served");
            return;
        }
    };
    let emitter = iface.signal_emitter();
    let served = iface.get().await;
    let manager = served.object();
    let skip = |name: &'static str| origin == Origin::Property(name);
    let mut sent = Ok(());
    if from.logfile_path != to.logfile_path && !skip("LogfilePath") {
        sent = sent.and(manager.logfile_path_changed(emitter).await);
    }
    if from.logfile_maximum_size != to.logfile_maximum_size && !skip("LogfileMaximumSize") {
        sent = sent.and(manager.logfile_maximum_size_changed(emitter).await);
    }
    if from.log_dropped_packets != to.log_dropped_packets && !skip("LogDroppedPackets") {
        sent = sent.and(manager.log_dropped_packets_changed(emitter).await);
    }
    if from.log_connections != to.log_connections && !skip("LogConnections") {
        sent = sent.and(manager.log_connections_changed(emitter).await);
    }
    if let Err(e) = sent {
        tracing::warn!(%e, "could not emit PropertiesChanged");
    }
}
