//! The writer thread and the bounded queue that feeds it; the readers are in `readers.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use fw6_kernel::conntrack::CtEvent;
use fw6_kernel::nflog::{InterfaceNames, NflogError, Record};
use fw6_model::State;
use fw6_model::plan::LogKind;
use tokio::sync::watch;
use tracing::{info, warn};

use super::LogCounters;
use super::file::LogFile;
use super::line;
use super::readers::LogReaders;
use super::suppressed::Suppressed;

/// How often the writer wakes without events, to follow settings and SIGHUP.
const TICK: Duration = Duration::from_millis(200);
/// Losses are written to the file at most this often.
const LOST_EVERY: Duration = Duration::from_secs(2);
/// The log threads' nice value.
const LOG_NICE: i32 = 10;
/// Events written between flushes while the queue stays full.
const BATCH: usize = 4096;

/// One log line on its way to the file.
pub(super) enum Event {
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
    Ok(LogReaders::new(group, tx, counters))
}

/// Starts a named log thread.
pub(super) fn spawn(name: &str, f: Box<dyn FnOnce() + Send>) -> Result<JoinHandle<()>, NflogError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|source| NflogError::Socket {
            step: "start a log thread",
            source,
        })
}

/// Lowers the calling thread's CPU priority (nice 10). On a busy machine a flood then costs
/// log lines — dropped and counted — rather than API latency: the D-Bus service and the engine
/// run at the daemon's normal priority and win every contended CPU slice. Failure (a seccomp
/// filter, say) only means the thread keeps the normal priority.
pub(super) fn yield_to_the_api() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), LOG_NICE) {
        warn!(%e, "cannot lower a log thread's priority");
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
