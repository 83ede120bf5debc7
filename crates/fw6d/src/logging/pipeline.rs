//! The reader and writer threads and the bounded queue between them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use fw6_kernel::nflog::{InterfaceNames, NflogError, Reader, ReaderOptions, Record};
use fw6_model::State;
use tokio::sync::watch;
use tracing::{info, warn};

use super::LogCounters;
use super::file::LogFile;
use super::line::{self, Action};

/// How often the writer wakes without events, to follow settings and SIGHUP.
const TICK: Duration = Duration::from_millis(200);
/// Losses are written to the file at most this often.
const LOST_EVERY: Duration = Duration::from_secs(2);
/// The log threads' nice value.
const LOG_NICE: i32 = 10;
/// Events written between flushes while the queue stays full.
const BATCH: usize = 4096;

/// One logged packet on its way to the file.
struct Event {
    action: Action,
    record: Record,
    read_at: SystemTime,
}

/// Binds NFLOG group `group` in the calling thread's network namespace and starts the reader
/// and writer threads, joined by a queue of `queue` events. The file follows `state`'s logging
/// settings. Fails only if the group cannot be bound (another program reads it, no privilege).
pub fn start(
    group: u16,
    queue: usize,
    state: watch::Receiver<Arc<State>>,
    counters: Arc<LogCounters>,
) -> Result<(), NflogError> {
    let reader = Reader::bind(group, &ReaderOptions::default())?;
    let (tx, rx) = mpsc::sync_channel(queue.max(1));
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .map(drop)
            .map_err(|source| NflogError::Socket {
                step: "start a log thread",
                source,
            })
    };
    let reader_counters = Arc::clone(&counters);
    spawn(
        "fw6d-nflog",
        Box::new(move || {
            yield_to_the_api();
            read(reader, &tx, &reader_counters);
        }),
    )?;
    spawn(
        "fw6d-logfile",
        Box::new(move || {
            yield_to_the_api();
            write(&rx, state, &counters);
        }),
    )?;
    info!(group, queue, "reading the NFLOG group for the firewall log");
    Ok(())
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

/// The reader: never waits for the writer. Ends when the writer is gone.
fn read(mut reader: Reader, tx: &SyncSender<Event>, counters: &LogCounters) {
    let mut batch = Vec::with_capacity(256);
    loop {
        if let Err(e) = reader.read(&mut batch) {
            warn!(%e, "reading the NFLOG group failed; retrying in a second");
            std::thread::sleep(Duration::from_secs(1));
        }
        let read_at = SystemTime::now();
        for record in batch.drain(..) {
            let Some(action) = Action::from_prefix(&record.prefix) else {
                continue;
            };
            match tx.try_send(Event {
                action,
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
        counters.kernel.store(reader.lost(), Ordering::Relaxed);
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
            w.report_lost();
        }
        let result = w.file.flush();
        w.check(result);
    }
}

impl Writer<'_> {
    fn event(&mut self, event: &Event) {
        let interface = event.record.indev.map_or("", |i| self.names.name(i));
        let text = line::packet(event.action, &event.record, event.read_at, interface);
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
