//! The threads that read what the kernel reports for the log, each present only while a log
//! switch needs it: the NFLOG reader (packets of the log rules) and the conntrack follower (the
//! end of the connections fw6 logged OPEN). Both offer events to the writer's queue without
//! waiting; a full queue drops the event and counts it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use fw6_kernel::conntrack::{ConntrackEvents, CtEventKind};
use fw6_kernel::nflog::{NflogError, Reader, ReaderOptions};
use fw6_model::plan::{CONNECTION_LABEL_IN, CONNECTION_LABEL_OUT, LogKind};
use tracing::{info, warn};

use super::LogCounters;
use super::pipeline::{Event, spawn, yield_to_the_api};
use crate::engine::{LogSwitch, LogSwitchError};

/// Connections logged OPEN whose end is awaited; past this many, new ones are not followed
/// (counted as lost): destroy events lost in a socket overrun would otherwise leave their ids
/// here for ever.
const MAX_FOLLOWED: usize = 65_536;
/// The conntrack socket's receive buffer.
const CONNTRACK_BUFFER: usize = 4 << 20;

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
    pub(super) fn new(group: u16, tx: SyncSender<Event>, counters: Arc<LogCounters>) -> Self {
        Self {
            group,
            tx,
            counters,
            running: None,
            conntrack: None,
        }
    }

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
    fn turn(&mut self, packets: bool, connections: bool) -> Result<(), LogSwitchError> {
        let group = self.group;
        LogReaders::turn(self, packets, connections).map_err(|e| match e {
            NflogError::Refused {
                step: "bind the group",
                source,
                ..
            } if [rustix::io::Errno::PERM, rustix::io::Errno::BUSY]
                .iter()
                .any(|e| source.raw_os_error() == Some(e.raw_os_error())) =>
            {
                LogSwitchError::GroupTaken { group, source }
            }
            e => LogSwitchError::Start(e),
        })
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
