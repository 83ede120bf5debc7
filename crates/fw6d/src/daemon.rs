//! Start-up and the event loop: store → kernel → links → D-Bus → ready, then follow link events,
//! nftables change notifications (drift repair) and signals until told to stop. Stopping leaves
//! the table in the kernel: a dead daemon must not open the host (docs/design.md §1.3).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fw6_kernel::link::{Link, LinkEvent, LinkWatcher};
use fw6_kernel::{Monitor, Nft};
use fw6_model::{ConnectionId, IfName};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};
use zbus::object_server::SignalEmitter;

use crate::config::Config;
use crate::engine::Engine;
use crate::logging::confine::Confinement;
use crate::others::OtherTables;
use crate::service::{
    self, BUS_NAME, ConnectionIface, MANAGER_PATH, ManagerIface, Present, Shared, connection_path,
};
use crate::store::{Opened, Provenance, Store};
use crate::writer::Writer;

/// Why the daemon could not start, or had to stop. Each message says what failed in words an
/// administrator reads in the journal (the same words as before this type existed); the cause
/// stays attached as the source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state directory could not be created.
    #[error("cannot create {}: {source}", .dir.display())]
    StateDir {
        /// The directory.
        dir: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// `log_directories` is not usable (the confinement's own words).
    #[error("{0}")]
    LogDirectories(String),
    /// The store could not be opened.
    #[error("cannot open the store {}: {source}", .path.display())]
    Store {
        /// The store's file.
        path: PathBuf,
        /// The store's error.
        #[source]
        source: crate::store::StoreError,
    },
    /// The reader of the other tables' chains could not start.
    #[error("{0}")]
    OtherTables(#[source] crate::others::StartError),
    /// The nftables socket could not be opened.
    #[error("cannot open the nftables netlink socket: {0}")]
    Nft(#[source] fw6_kernel::Error),
    /// The drift monitor could not subscribe.
    #[error("cannot follow nftables changes: {0}")]
    Monitor(#[source] fw6_kernel::Error),
    /// The kernel refused the table at start-up, or the configured seeds are invalid.
    #[error("{0}")]
    Start(#[source] fw6_model::Error),
    /// The seeds could not be committed on a first start.
    #[error("cannot seed the defaults: {0}")]
    Seed(#[source] fw6_model::Error),
    /// The link watcher could not start.
    #[error("cannot watch network links: {0}")]
    Links(#[source] fw6_kernel::link::LinkError),
    /// The bus name could not be owned.
    #[error("cannot own {BUS_NAME} on the bus: {0}")]
    Bus(#[source] zbus::Error),
    /// The monitor's socket could not be registered with the runtime.
    #[error("cannot poll the nftables monitor: {0}")]
    Poll(#[source] std::io::Error),
    /// The runtime failed: a signal handler or the monitor's readiness.
    #[error("{0}")]
    Runtime(#[source] std::io::Error),
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), Error> {
    let path = config.store_path();
    private_state(&config.state_dir, &path)?;
    let log_rules = Confinement::new(&config.log_directories, &path)
        .and_then(Confinement::install)
        .map_err(Error::LogDirectories)?;
    let (mut store, state, opened) = Store::open(&path).map_err(|source| Error::Store {
        path: path.clone(),
        source,
    })?;
    store.set_audit_max_rows(config.audit_max_rows);
    match &opened {
        Opened::Existing => info!(store = %path.display(), "loaded the configuration"),
        Opened::Fresh => info!(store = %path.display(), "first start: seeding the defaults"),
        Opened::Recovered { moved_to, reason } => error!(
            store = %path.display(),
            moved_to = %moved_to.display(),
            reason,
            "THE STORE WAS UNREADABLE: it was moved aside and fw6d starts from the safe defaults"
        ),
    }

    // The drift monitor is blind to our own commits (by port id): every counted notification
    // is someone else changing our table. Our large commits (start-up, batches, rebuilds) are
    // made with it not listening, so the kernel does not build a notification per element.
    let nft = Nft::new().map_err(Error::Nft)?;
    let nft = if config.table_owner {
        nft.owning()
    } else {
        nft
    };
    let monitor = Monitor::new().map_err(Error::Monitor)?.ignoring(nft.port());
    let nft = nft.quieting(monitor.subscription());
    let mut engine =
        Engine::start(state, store, Box::new(nft), config.plan_options()).map_err(Error::Start)?;
    if !matches!(opened, Opened::Existing) {
        let seeds = config.seed_mutations().map_err(Error::Start)?;
        engine
            .submit(&seeds, &Provenance::daemon())
            .map_err(Error::Seed)?;
    }
    // Leases that expired while fw6d was down: the kernel dropped them already (or drops them
    // at once: the table was just sent with what time they had left); the store follows.
    match engine.expire(service::now_millis()) {
        Ok(closed) if !closed.is_empty() => {
            info!(
                closed = closed.len(),
                "closed the leases that expired while fw6d was down"
            );
        }
        Ok(_) => {}
        Err(e) => error!(%e, "could not close the leases that expired while fw6d was down"),
    }
    // A clock behind at boot would lengthen the rest: none lasts longer than the longest
    // lifetime from now.
    if let Err(e) = engine.clamp_leases(service::now_millis()) {
        error!(%e, "could not bring lease expiries back to the longest lifetime");
    }
    let logging = engine.state().logging();
    if let Err(e) = log_rules.check(&logging.logfile_path) {
        if logging.log_dropped_packets || logging.log_connections {
            error!(%e, "THE STORED LOG FILE PATH IS NOT ALLOWED: nothing will be written to it until LogfilePath is set to an allowed path");
        } else {
            warn!(%e, "THE STORED LOG FILE PATH IS NOT ALLOWED: set LogfilePath to an allowed path before switching logging on");
        }
    }
    let state = engine.subscribe();
    let writer = Writer::spawn(engine);
    // Read before READY=1, so the first Status lists the other tables' chains.
    let others = OtherTables::start().map_err(Error::OtherTables)?;
    let shared = Shared::new(writer, state, others, config.clone());
    // The firewall log runs on threads of its own; without it the firewall still works. The
    // engine binds the NFLOG group only while a log switch is on.
    match crate::logging::start(
        config.log_group,
        config.log_queue,
        shared.subscribe(),
        Arc::clone(shared.log_counters()),
    ) {
        Ok(readers) => shared.writer().set_log_switch(Box::new(readers)),
        Err(e) => error!(%e, "THE FIREWALL LOG IS OFF: cannot start its writer"),
    }

    let (mut watcher, links) = LinkWatcher::new().await.map_err(Error::Links)?;
    let conn = match connect(&config, &shared).await {
        Ok(conn) => conn,
        Err(e) if bus_not_up(&e) => wait_for_the_bus(&config, &shared, &e).await?,
        Err(e) => return Err(Error::Bus(e)),
    };
    for link in links {
        link_up(&conn, &shared, &link, false).await;
    }
    let state = shared.state();
    let configured: Vec<IfName> = state.connections().map(|(n, _)| n.clone()).collect();
    for name in &configured {
        service::export_connection(&conn, &shared, name).await;
    }

    let monitor = register(monitor).map_err(Error::Poll)?;
    tokio::spawn(crate::heap::trim_periodically());
    tokio::spawn(service::deadline::run(conn.clone(), Arc::clone(&shared)));
    tokio::spawn(crate::leases::watch(conn.clone(), Arc::clone(&shared)));
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    info!(
        bus = config.bus_address.as_deref().unwrap_or("system"),
        "fw6d ready"
    );

    serve(&conn, &shared, &mut watcher, monitor).await
}

/// Creates the state directory owner-only (0700) and makes an existing store (database, WAL,
/// shared-memory index) owner-only (0600) when an earlier start or another umask left them
/// wider: the store's audit rows name the pid, program and bus name of every administrator's
/// change. New files are private through the umask `main` sets. A mode that cannot be changed
/// (a read-only or immutable directory) is logged, not fatal: fw6d must still enforce.
fn private_state(dir: &Path, store: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::StateDir {
        dir: dir.to_owned(),
        source,
    })?;
    let tighten = |path: &Path, mode: u32| {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.permissions().mode() & 0o777 & !mode == 0 {
            return;
        }
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            error!(path = %path.display(), %e, "cannot make the store private (mode {mode:o})");
        }
    };
    tighten(dir, 0o700);
    for suffix in ["", "-wal", "-shm"] {
        let mut file = store.as_os_str().to_owned();
        file.push(suffix);
        let file = Path::new(&file);
        if std::fs::symlink_metadata(file).is_ok_and(|m| m.is_file()) {
            tighten(file, 0o600);
        }
    }
    Ok(())
}

/// Registers the monitor's socket with the runtime.
#[expect(
    unsafe_code,
    reason = "tokio's AsyncFd::register is unsafe since tokio#8587"
)]
fn register(monitor: Monitor) -> std::io::Result<AsyncFd<Monitor>> {
    // SAFETY: the descriptor belongs to `monitor`, which moves into the AsyncFd and is only
    // dropped with it; nothing else closes or reuses the descriptor while it is registered.
    unsafe { AsyncFd::register(monitor) }.map_err(std::io::Error::from)
}

async fn connect(config: &Config, shared: &Arc<Shared>) -> zbus::Result<zbus::Connection> {
    let builder = match &config.bus_address {
        Some(address) => zbus::connection::Builder::address(address.as_str()),
        None => zbus::connection::Builder::system(),
    };
    // Method calls read off the bus wait for dispatch in zbus's object-server queue (64, not
    // configurable): past it zbus stops reading, and a flood waits in the bus daemon, whose
    // limits answer the flooder. Each call is dispatched to a task of its own at once.
    let conn = builder.build().await?;
    service::serve_manager(&conn, shared).await?;
    conn.request_name(BUS_NAME).await?;
    Ok(conn)
}

/// Whether connecting failed because no bus listens yet (its socket is missing or refuses),
/// rather than because the bus said no (the name is taken, the policy forbids it).
fn bus_not_up(e: &zbus::Error) -> bool {
    matches!(e, zbus::Error::Connection(io, _) if matches!(
        io.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    ))
}

/// How long fw6d waits for a system bus that is not up yet, and how often it tries.
const BUS_WAIT: std::time::Duration = std::time::Duration::from_secs(300);
const BUS_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// Early boot: the unit is ordered before network-pre.target and so may run before
/// dbus.service, which comes after sysinit.target (waiting for it would be an ordering cycle
/// with cloud-init's network stage). The table is committed by now, so fw6d tells systemd it
/// is ready — the boot goes on, firewalled — and then waits for the bus to serve the API.
async fn wait_for_the_bus(
    config: &Config,
    shared: &Arc<Shared>,
    first: &zbus::Error,
) -> Result<zbus::Connection, Error> {
    warn!(%first, "the system bus is not up yet: the table is in force; serving the API once it is");
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("enforcing; waiting for the system bus"),
    ]);
    let start = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(BUS_RETRY).await;
        match connect(config, shared).await {
            Ok(conn) => return Ok(conn),
            Err(e) if bus_not_up(&e) && start.elapsed() < BUS_WAIT => {}
            Err(e) => return Err(Error::Bus(e)),
        }
    }
}

async fn serve(
    conn: &zbus::Connection,
    shared: &Arc<Shared>,
    watcher: &mut LinkWatcher,
    mut monitor: AsyncFd<Monitor>,
) -> Result<(), Error> {
    let mut term = signal(SignalKind::terminate()).map_err(Error::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Runtime)?;
    let mut hup = signal(SignalKind::hangup()).map_err(Error::Runtime)?;
    // A repair follows a gap the monitor did not watch (or a lost burst): other tables may
    // have changed unseen too.
    let mut kernel = shared.writer().watch_status();
    let mut repairs = kernel.borrow_and_update().repairs;
    loop {
        tokio::select! {
            event = watcher.next() => match event {
                Ok(event) => on_link_event(conn, shared, event).await,
                // A watcher that failed is finished: start a new one (at most once a second)
                // and treat its dump as a resync.
                Err(e) => {
                    warn!(%e, "the link watcher failed; starting a new one");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    match LinkWatcher::new().await {
                        Ok((fresh, links)) => {
                            *watcher = fresh;
                            on_link_event(conn, shared, LinkEvent::Resynced(links)).await;
                        }
                        Err(e) => error!(%e, "cannot watch network links"),
                    }
                }
            },
            ready = monitor.readable_mut() => {
                let mut guard = ready.map_err(Error::Runtime)?;
                let drained = guard.get_inner_mut().drain();
                if let Some(generation) = guard.get_inner().generation() {
                    shared.writer().observe_generation(generation);
                }
                if guard.get_inner_mut().take_other_changes() {
                    shared.others().refresh();
                }
                guard.clear_ready();
                match drained {
                    Ok(0) => {}
                    Ok(n) => shared.writer().repair(format!(
                        "{n} change(s) to table {} by another program",
                        fw6_model::plan::TABLE_FAMILY.table()
                    )),
                    Err(e) => shared.writer().repair(format!("the nftables monitor failed: {e}")),
                }
            }
            Ok(()) = kernel.changed() => {
                let now = kernel.borrow_and_update().repairs;
                if now != repairs {
                    repairs = now;
                    shared.others().refresh();
                }
            }
            _ = hup.recv() => shared.log_counters().request_reopen(),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    info!("fw6d stopping; the ruleset stays in the kernel");
    Ok(())
}

async fn on_link_event(conn: &zbus::Connection, shared: &Arc<Shared>, event: LinkEvent) {
    match event {
        LinkEvent::Added(link) | LinkEvent::Changed(link) => {
            link_up(conn, shared, &link, true).await;
        }
        LinkEvent::Removed { index, .. } => {
            for name in shared.registry(|r| r.remove_index(index)) {
                link_gone(conn, shared, &name).await;
            }
        }
        LinkEvent::Resynced(links) => {
            let present: Vec<u32> = links.iter().map(|l| l.index).collect();
            let stale: Vec<IfName> = shared.registry(|r| {
                r.rows(&shared.state())
                    .into_iter()
                    .filter(|row| row.present && !present.contains(&row.index))
                    .flat_map(|row| r.remove_index(row.index))
                    .collect()
            });
            for name in stale {
                link_gone(conn, shared, &name).await;
            }
            for link in links {
                link_up(conn, shared, &link, true).await;
            }
        }
    }
}

/// A link exists: if it is a connection (not loopback, and IPv6 on or IPv4 filtered too),
/// register it, apply the new-connection default, export its object and announce it.
async fn link_up(conn: &zbus::Connection, shared: &Arc<Shared>, link: &Link, announce: bool) {
    let Ok(name) = IfName::try_from(link.name.as_str()) else {
        return;
    };
    // A rename shows up as a known index with a new name; IPv6 switched off as a known index
    // that no longer qualifies, unless IPv4 is filtered: every interface speaks IPv4, and the
    // rules filter its IPv4 by name whether or not it has IPv6 (docs/design.md §4).
    let previous = shared.registry(|r| r.remove_index(link.index));
    let qualifies = !link.loopback && (link.ipv6 || shared.config().filters_ipv4());
    for old in &previous {
        if *old != name || !qualifies {
            link_gone(conn, shared, old).await;
        }
    }
    if !qualifies {
        return;
    }
    let present = Present {
        index: link.index,
        alias: link.alias.clone().filter(|a| !a.is_empty()),
    };
    shared.registry(|r| r.insert(name.clone(), present));
    if previous.contains(&name) {
        return;
    }
    shared
        .writer()
        .adopt(name.clone(), shared.config().firewalled_by_default);
    service::export_connection(conn, shared, &name).await;
    if announce {
        info!(interface = %name, index = link.index, "connection appeared");
        emit(conn, &name, true).await;
    }
}

async fn link_gone(conn: &zbus::Connection, shared: &Shared, name: &IfName) {
    info!(interface = %name, "connection went away; its configuration is kept");
    // Configured connections keep their object (with Present = false); others disappear.
    if !shared.state().connections().any(|(n, _)| n == name) {
        let path = connection_path(name);
        let _ = conn
            .object_server()
            .remove::<ConnectionIface, _>(path.as_ref())
            .await;
    }
    emit(conn, name, false).await;
}

async fn emit(conn: &zbus::Connection, name: &IfName, added: bool) {
    let Ok(emitter) = SignalEmitter::new(conn, MANAGER_PATH) else {
        return;
    };
    let id = ConnectionId::for_interface(name).to_string();
    let path = connection_path(name);
    let sent = if added {
        ManagerIface::connection_added(&emitter, path, &id, name.as_str()).await
    } else {
        ManagerIface::connection_removed(&emitter, path, &id, name.as_str()).await
    };
    if let Err(e) = sent {
        warn!(%e, "could not emit a connection signal");
    }
}
