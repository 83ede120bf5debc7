//! The reader and writer threads and the bounded queue between them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use fw6_kernel::Nft;
use fw6_kernel::conntrack::{ConntrackEvents, CtEvent, CtEventKind};
use fw6_kernel::nflog::{InterfaceNames, NflogError, Reader, ReaderOptions, Record};
use fw6_model::State;
use fw6_model::plan::{CONNECTION_LABEL_IN, CONNECTION_LABEL_OUT, LogKind};
use tokio::sync::watch;
use tracing::{info, warn};

use super::LogCounters;
use super::file::LogFile;
use super::line;
use crate::engine::LogSwitch;

/// How often the writer wakes without events, to follow settings and SIGHUP.
const TICK: Duration = Duration::from_millis(200);
/// Losses are written to the file at most this often.
const LOST_EVERY: Duration = Duration::from_secs(2);
/// The log threads' nice value.
const LOG_NICE: i32 = 10;
/// Events written between flushes while the queue stays full.
const BATCH: usize = 4096;

/// Connections logged OPEN whose end is awaited; past this many, new ones are not followed
/// (counted as lost): destroy events lost in a socket overrun would otherwise leave their ids
/// here for ever.
const MAX_FOLLOWED: usize = 65_536;
/// The conntrack socket's receive buffer.
const CONNTRACK_BUFFER: usize = 4 << 20;

/// One log line on its way to the file.
enum Event {
    /// A packet a log rule sent.
    Packet {
        kind: LogKind,
        record: Record,
        read_at: SystemTime,
    },
    /// The end of a connection logged OPEN; `inbound` as it was opened.
    Close {
        event: CtEvent,
        inbound: bool,
        read_at: SystemTime,
    },
}

/// Starts the writer thread, fed by a queue of `queue` events, and returns the switch that binds
/// NFLOG group `group` and runs the reader while a log setting is on (the engine drives it).
/// The file follows `state`'s logging settings. Fails only if the thread cannot start.
pub fn start(
    group: u16,
    queue: usize,
    state: watch::Receiver<Arc<State>>,
    counters: Arc<LogCounters>,
) -> Result<LogReaders, NflogError> {
    let (tx, rx) = mpsc::sync_channel(queue.max(1));
    let writer_counters = Arc::clone(&counters);
    spawn(
        "fw6d-logfile",
        Box::new(move || {
            yield_to_the_api();
            write(&rx, state, &writer_counters);
        }),
    )?;
    Ok(LogReaders {
        group,
        tx,
        counters,
        running: None,
        conntrack: None,
    })
}

fn spawn(name: &str, f: Box<dyn FnOnce() + Send>) -> Result<JoinHandle<()>, NflogError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|source| NflogError::Socket {
            step: "start a log thread",
            source,
        })
}

/// The NFLOG reader, present only while a log switch is on: fw6d holds the group exactly then,
/// so another program may use it while fw6's log is off, and a conflict shows at the moment
/// logging is switched on, as that call's error.
pub struct LogReaders {
    group: u16,
    tx: SyncSender<Event>,
    counters: Arc<LogCounters>,
    running: Option<Running>,
    /// The conntrack follower, while `LogConnections` is on.
    conntrack: Option<Running>,
}

/// A reader thread and its stop flag. The thread checks the flag after every read (at most a
/// poll period) and then drops its socket, which unbinds the group.
struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl LogReaders {
    /// Binds the group (in the calling thread's network namespace) and starts the reader while
    /// `packets` (any log switch) is on, and follows conntrack while `connections` is on; stops
    /// what is off. Idempotent.
    pub fn turn(&mut self, packets: bool, connections: bool) -> Result<(), NflogError> {
        if !packets {
            stop(self.running.as_ref());
        } else if !started(&mut self.running) {
            let reader = Reader::bind(self.group, &ReaderOptions::default())?;
            let (tx, counters) = (self.tx.clone(), Arc::clone(&self.counters));
            self.running = Some(Running::spawn("fw6d-nflog", move |flag| {
                read(reader, &tx, &counters, flag);
            })?);
            info!(
                group = self.group,
                "reading the NFLOG group for the firewall log"
            );
        }
        if !connections {
            stop(self.conntrack.as_ref());
        } else if !started(&mut self.conntrack) {
            let events =
                ConntrackEvents::subscribe(ReaderOptions::default().poll, CONNTRACK_BUFFER)
                    .map_err(|source| NflogError::Socket {
                        step: "join the conntrack event groups",
                        source,
                    })?;
            let (tx, counters) = (self.tx.clone(), Arc::clone(&self.counters));
            self.conntrack = Some(Running::spawn("fw6d-conntrack", move |flag| {
                follow(events, &tx, &counters, flag);
            })?);
            info!("following conntrack events for the connection log");
        }
        Ok(())
    }
}

/// Asks a running thread to stop.
fn stop(running: Option<&Running>) {
    if let Some(running) = running {
        running.stop.store(true, Ordering::Relaxed);
    }
}

/// Whether a thread is running and not stopping. A stopping one is waited for (at most one
/// poll period), so that its socket is closed before a new one binds the group.
fn started(slot: &mut Option<Running>) -> bool {
    match slot.take() {
        Some(running) if !running.stop.load(Ordering::Relaxed) => {
            *slot = Some(running);
            true
        }
        Some(stopping) => {
            let _ = stopping.thread.join();
            false
        }
        None => false,
    }
}

impl Running {
    fn spawn(name: &str, f: impl FnOnce(&AtomicBool) + Send + 'static) -> Result<Self, NflogError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = spawn(
            name,
            Box::new(move || {
                yield_to_the_api();
                f(&flag);
            }),
        )?;
        Ok(Self { stop, thread })
    }
}

impl LogSwitch for LogReaders {
    fn turn(&mut self, packets: bool, connections: bool) -> Result<(), String> {
        let group = self.group;
        LogReaders::turn(self, packets, connections).map_err(|e| match e {
            // nfnetlink_log answers EPERM when another socket holds the group's instance
            // (and also without CAP_NET_ADMIN, which the daemon has).
            NflogError::Refused {
                step: "bind the group",
                source,
                ..
            } if [rustix::io::Errno::PERM, rustix::io::Errno::BUSY]
                .iter()
                .any(|e| source.raw_os_error() == Some(e.raw_os_error())) =>
            {
                format!(
                    "NFLOG group {group} is already read by another program (ulogd, say; \
                     the kernel says: {source}): stop it, or set another log_group in \
                     /etc/fw6/fw6d.toml and restart fw6d"
                )
            }
            e => format!(
                "cannot start the firewall log's reader: {}",
                error_chain(&e)
            ),
        })
    }
}

/// An error with its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Lowers the calling thread's CPU priority (nice 10). On a busy machine a flood then costs
/// log lines — dropped and counted — rather than API latency: the D-Bus service and the engine
/// run at the daemon's normal priority and win every contended CPU slice. Failure (a seccomp
/// filter, say) only means the thread keeps the normal priority.
fn yield_to_the_api() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), LOG_NICE) {
        warn!(%e, "cannot lower a log thread's priority");
    }
}

/// The reader: never waits for the writer. Ends when told to stop or the writer is gone, and
/// closes the socket (unbinding the group) as it ends.
fn read(mut reader: Reader, tx: &SyncSender<Event>, counters: &LogCounters, stop: &AtomicBool) {
    let mut batch = Vec::with_capacity(256);
    let mut lost = 0;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = reader.read(&mut batch) {
            warn!(%e, "reading the NFLOG group failed; retrying in a second");
            std::thread::sleep(Duration::from_secs(1));
        }
        let read_at = SystemTime::now();
        for record in batch.drain(..) {
            let Some(kind) = LogKind::from_prefix(&record.prefix) else {
                continue;
            };
            match tx.try_send(Event::Packet {
                kind,
                record,
                read_at,
            }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    counters.queue_full.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        counters
            .kernel
            .fetch_add(reader.lost() - lost, Ordering::Relaxed);
        lost = reader.lost();
    }
}

/// The conntrack follower: remembers the ids of new connections carrying one of fw6's labels
/// and sends a CLOSE event when one of them is destroyed. Never waits for the writer.
fn follow(
    mut events: ConntrackEvents,
    tx: &SyncSender<Event>,
    counters: &LogCounters,
    stop: &AtomicBool,
) {
    let mut followed: HashMap<u32, bool> = HashMap::new();
    let mut batch = Vec::with_capacity(256);
    let mut overruns = 0;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = events.read(&mut batch) {
            warn!(%e, "reading conntrack events failed; retrying in a second");
            std::thread::sleep(Duration::from_secs(1));
        }
        let read_at = SystemTime::now();
        for event in batch.drain(..) {
            let Some(id) = event.id else { continue };
            match event.kind {
                CtEventKind::New => {
                    let inbound = event.has_label(CONNECTION_LABEL_IN);
                    if !inbound && !event.has_label(CONNECTION_LABEL_OUT) {
                        continue;
                    }
                    if followed.len() < MAX_FOLLOWED {
                        followed.insert(id, inbound);
                    } else {
                        counters.kernel.fetch_add(1, Ordering::Relaxed);
                    }
                }
                CtEventKind::Destroy => {
                    let Some(inbound) = followed.remove(&id) else {
                        continue;
                    };
                    match tx.try_send(Event::Close {
                        event,
                        inbound,
                        read_at,
                    }) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            counters.queue_full.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
            }
        }
        counters
            .kernel
            .fetch_add(events.overruns() - overruns, Ordering::Relaxed);
        overruns = events.overruns();
    }
}

/// The writer's state between events.
struct Writer<'a> {
    file: LogFile,
    names: InterfaceNames,
    counters: &'a LogCounters,
    /// The last write failed (warn once per failing stretch, not once per packet).
    failing: bool,
    reported: u64,
    last_report: Instant,
    /// The log rules' counters, read every [`LOST_EVERY`] while a log switch is on.
    suppressed: Suppressed,
    suppressed_reported: u64,
}

fn write(rx: &Receiver<Event>, mut state: watch::Receiver<Arc<State>>, counters: &LogCounters) {
    let (path, max) = settings(&state.borrow_and_update());
    let mut w = Writer {
        file: LogFile::new(path, max),
        names: InterfaceNames::new(),
        counters,
        failing: false,
        reported: 0,
        last_report: Instant::now(),
        suppressed: Suppressed::default(),
        suppressed_reported: 0,
    };
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if state.has_changed().unwrap_or(false) {
            let (path, max) = settings(&state.borrow_and_update());
            let result = w.file.configure(&path, max);
            w.check(result);
        }
        if counters.reopen.swap(false, Ordering::Relaxed) {
            info!(path = %w.file.path().display(), "SIGHUP: reopening the firewall log");
            let result = w.file.close();
            w.check(result);
        }
        if let Some(event) = first {
            w.event(&event);
            for event in rx.try_iter().take(BATCH) {
                w.event(&event);
            }
        }
        if w.last_report.elapsed() >= LOST_EVERY {
            let logging = state.borrow().logging().clone();
            if logging.log_dropped_packets || logging.log_connections {
                w.suppressed.read(counters);
            }
            w.report_lost();
        }
        let result = w.file.flush();
        w.check(result);
    }
}

impl Writer<'_> {
    fn event(&mut self, event: &Event) {
        let text = match event {
            Event::Packet {
                kind,
                record,
                read_at,
            } => {
                let device = match kind {
                    LogKind::OpenOut => record.outdev,
                    _ => record.indev,
                };
                let interface = device.map_or("", |i| self.names.name(i));
                line::packet(*kind, record, *read_at, interface)
            }
            Event::Close {
                event,
                inbound,
                read_at,
            } => line::close(event, *inbound, *read_at),
        };
        let result = self.file.write(&text);
        if result.is_err() {
            self.counters.unwritable.fetch_add(1, Ordering::Relaxed);
        }
        self.check(result);
    }

    /// Writes `#Lost: N events` for the losses since the last such line.
    fn report_lost(&mut self) {
        self.last_report = Instant::now();
        let total = self.counters.lost();
        if total > self.reported {
            let result = self.file.write(&line::lost(total - self.reported));
            self.reported = total;
            self.check(result);
        }
        let suppressed = self.counters.suppressed();
        if suppressed > self.suppressed_reported {
            let result = self
                .file
                .write(&line::suppressed(suppressed - self.suppressed_reported));
            self.suppressed_reported = suppressed;
            self.check(result);
        }
    }

    fn check(&mut self, result: std::io::Result<()>) {
        match result {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                warn!(path = %self.file.path().display(), %e, "cannot write the firewall log");
            }
            Err(_) => {}
        }
    }
}

fn settings(state: &State) -> (PathBuf, u64) {
    let logging = state.logging();
    (
        PathBuf::from(&logging.logfile_path),
        logging.logfile_maximum_size.bytes(),
    )
}

/// Follows the kernel counters of the log rules (`Nft::log_suppressed`) and adds what they grew
/// by to [`LogCounters`]. They restart at 0 when the table is replaced (a logging switch, a
/// drift repair): a smaller reading is taken as a fresh start, so what was suppressed between
/// the last reading and the replacement is not counted.
#[derive(Default)]
struct Suppressed {
    nft: Option<Nft>,
    last: u64,
    failing: bool,
}

impl Suppressed {
    fn read(&mut self, counters: &LogCounters) {
        let nft = match &mut self.nft {
            Some(nft) => nft,
            None => match Nft::new() {
                Ok(nft) => self.nft.insert(nft),
                Err(e) => return self.fail(&e),
            },
        };
        match nft.log_suppressed() {
            Ok(now) => {
                let grew = if now >= self.last {
                    now - self.last
                } else {
                    now
                };
                self.last = now;
                self.failing = false;
                counters.suppressed.fetch_add(grew, Ordering::Relaxed);
            }
            Err(e) => {
                self.nft = None;
                self.fail(&e);
            }
        }
    }

    fn fail(&mut self, e: &dyn std::fmt::Display) {
        if !std::mem::replace(&mut self.failing, true) {
            warn!(%e, "cannot read the log rules' counters; the rate-limited count stalls");
        }
    }
}
