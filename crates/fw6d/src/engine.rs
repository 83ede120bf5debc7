//! The single writer (DESIGN §5). Every mutation goes through [`Engine::submit`]: apply to a
//! scratch copy of the state (validation, all or nothing) → one store transaction → one kernel
//! batch → commit → publish the new state for readers. A kernel refusal rolls the store back; a
//! store failure after the kernel accepted sends the inverse batch. So kernel, store and memory
//! never disagree for longer than one call.
//!
//! For a large batch the store's rows and the kernel's batch are written at the same time, on
//! two threads: they are independent until the commit, and each takes about as long as the
//! other (10,000 pairs: ~20 ms and ~15 ms).

use std::ops::Range;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fw6_model::plan::{self, ElementOp, Options, Update};
use fw6_model::{BatchChanges, Change, Error, IfName, Mutation, State};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::kernel::{Committed, Kernel};
use crate::store::{Provenance, Store, StoreTx};

/// Changes above which the store and the kernel are written in parallel (a thread costs tens of
/// microseconds, which a single `OpenPort` should not pay).
const PARALLEL_ABOVE: usize = 256;

/// A batch checked against one state: the state it leads to and its effective changes, with
/// the range of them each member call made (the audit names the member). Computing it is the
/// validation, so the service does it before asking polkit, and the engine reuses it when no
/// commit came in between.
#[derive(Debug)]
pub struct Validated {
    base: Arc<State>,
    next: State,
    changes: Vec<Change>,
    members: Vec<(&'static str, Range<usize>)>,
}

impl Validated {
    /// Applies `mutations` to a copy of `base` (O(1) to copy), all or nothing.
    pub fn new(base: Arc<State>, mutations: &[Mutation]) -> Result<Self, Error> {
        let mut next = (*base).clone();
        let BatchChanges { changes, members } = next.apply_members(mutations)?;
        Ok(Self {
            base,
            next,
            changes,
            members,
        })
    }

    /// The effective changes, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }
}

/// What turns the firewall log's reader on and off. The engine calls it when a commit switches
/// logging (`LogDroppedPackets` or `LogConnections`) on or off, so the NFLOG group is held
/// exactly while the ruleset logs, and a group another program holds fails the switching call.
pub trait LogSwitch: Send {
    /// Reads the NFLOG group while `packets` is on (may fail: the group is taken) and follows
    /// conntrack events while `connections` is on; stops what is off. Idempotent.
    fn turn(&mut self, packets: bool, connections: bool) -> Result<(), String>;
}

/// What `state`'s ruleset logs: any packets (NFLOG), connections (their end from conntrack).
fn logs(state: &State) -> (bool, bool) {
    let logging = state.logging();
    (
        logging.log_dropped_packets || logging.log_connections,
        logging.log_connections,
    )
}

/// The writer: owns the state, the store and the kernel handle.
pub struct Engine {
    /// The state of the last commit, exactly as published (so a [`Validated`] can tell whether
    /// it was computed against it).
    state: Arc<State>,
    store: Store,
    kernel: Box<dyn Kernel>,
    options: Options,
    published: watch::Sender<Arc<State>>,
    repairs: u32,
    /// A change by someone else that could not be repaired yet.
    unrepaired: Option<String>,
    /// The log reader's switch, once the daemon installed it.
    log_switch: Option<Box<dyn LogSwitch>>,
}

/// How the kernel's table stands, for `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableState {
    /// Present, and every outside change seen so far was repaired.
    InSync,
    /// Someone else changed it and the repair failed (see the log).
    Changed,
    /// Absent.
    Missing,
}

impl TableState {
    /// The token `Status` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in-sync",
            Self::Changed => "changed",
            Self::Missing => "missing",
        }
    }
}

impl Engine {
    /// Takes over `state` (as loaded from `store`), writes the whole table to the kernel and
    /// publishes the state. Fails if the kernel refuses the table: the daemon must not claim to
    /// enforce what the kernel does not hold.
    pub fn start(
        state: State,
        store: Store,
        mut kernel: Box<dyn Kernel>,
        options: Options,
    ) -> Result<Self, Error> {
        let committed = kernel
            .apply_full(&plan::full(&state, &options))
            .map_err(|e| Error::fail(format!("cannot load the ruleset: {e}")))?;
        let state = Arc::new(state);
        let (published, _) = watch::channel(Arc::clone(&state));
        let mut engine = Self {
            state,
            store,
            kernel,
            options,
            published,
            repairs: 0,
            unrepaired: None,
            log_switch: None,
        };
        engine.check(committed);
        Ok(engine)
    }

    /// A receiver of the state as of the last commit, for readers that must never wait for the
    /// writer.
    pub fn subscribe(&self) -> watch::Receiver<Arc<State>> {
        self.published.subscribe()
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// How many times drift was repaired since start.
    pub fn repairs(&self) -> u32 {
        self.repairs
    }

    /// The kernel's ruleset generation.
    pub fn generation(&mut self) -> Result<u32, Error> {
        self.kernel.generation().map_err(Error::fail)
    }

    /// Applies `mutations` atomically and durably, and returns the effective changes (empty for
    /// a no-op, which touches neither store nor kernel).
    pub fn submit(
        &mut self,
        mutations: &[Mutation],
        who: &Provenance,
    ) -> Result<Vec<Change>, Error> {
        let validated = Validated::new(Arc::clone(&self.state), mutations)?;
        self.commit(validated, who)
    }

    /// [`Engine::submit`] for a batch the caller already validated: reused if nothing was
    /// committed since, validated again otherwise.
    pub fn submit_validated(
        &mut self,
        mutations: &[Mutation],
        validated: Validated,
        who: &Provenance,
    ) -> Result<Vec<Change>, Error> {
        let validated = if Arc::ptr_eq(&validated.base, &self.state) {
            validated
        } else {
            Validated::new(Arc::clone(&self.state), mutations)?
        };
        self.commit(validated, who)
    }

    /// Installs the log reader's switch and turns it to the current settings. Failing to read
    /// the group at start-up does not stop the firewall: it is logged loudly, and the next call
    /// that switches logging on tries again (and fails with the reason if it still cannot).
    pub fn set_log_switch(&mut self, mut switch: Box<dyn LogSwitch>) {
        let (packets, connections) = logs(&self.state);
        if packets && let Err(e) = switch.turn(packets, connections) {
            error!(%e, "THE FIREWALL LOG IS OFF: cannot start its reader");
        }
        self.log_switch = Some(switch);
    }

    /// [`Engine::commit_switched`] with the log reader following the logging switches: turned on
    /// before anything is written (a refusal fails the call with nothing changed), back off if
    /// the commit then fails, off after a commit that switched logging off.
    fn commit(&mut self, validated: Validated, who: &Provenance) -> Result<Vec<Change>, Error> {
        let (before, after) = (logs(&self.state), logs(&validated.next));
        let Some(switch) = self.log_switch.as_mut().filter(|_| before != after) else {
            return self.commit_switched(validated, who);
        };
        if after.0 || after.1 {
            // Turn on what the new settings need, keep what the old ones had until the commit.
            let packets = after.0 || before.0;
            let connections = after.1 || before.1;
            if let Err(e) = switch.turn(packets, connections) {
                // Part of it may have started (the NFLOG reader, not the conntrack follower).
                let _ = switch.turn(before.0, before.1);
                return Err(Error::fail(format!(
                    "cannot switch the firewall log on: {e}; nothing was changed"
                )));
            }
        }
        let committed = self.commit_switched(validated, who);
        let keep_on = if committed.is_ok() { after } else { before };
        if let Some(switch) = self.log_switch.as_mut()
            && let Err(e) = switch.turn(keep_on.0, keep_on.1)
        {
            error!(%e, "THE FIREWALL LOG IS OFF: cannot start its reader");
        }
        committed
    }

    fn commit_switched(
        &mut self,
        validated: Validated,
        who: &Provenance,
    ) -> Result<Vec<Change>, Error> {
        let Validated {
            next,
            changes,
            members,
            ..
        } = validated;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let mut tx = self.store.transaction().map_err(store_fail)?;
        let update = plan::update(&changes);
        let record = |tx: &mut StoreTx<'_>| {
            let started = Instant::now();
            let recorded = member_runs(&members)
                .into_iter()
                .try_for_each(|(member, range)| tx.record(member, &changes[range], who));
            (recorded, started.elapsed())
        };
        let kernel = self.kernel.as_mut();
        let options = &self.options;
        let mut enforce = || {
            let started = Instant::now();
            (send(kernel, options, &update, &next), started.elapsed())
        };
        let ((recorded, store_took), (enforced, kernel_took)) = if changes.len() > PARALLEL_ABOVE {
            thread::scope(|scope| {
                let enforcing = scope.spawn(enforce);
                let recorded = record(&mut tx);
                let enforced = enforcing
                    .join()
                    .unwrap_or_else(|_| (Err("the kernel thread panicked".into()), Duration::ZERO));
                (recorded, enforced)
            })
        } else {
            // One at a time, store first: a full disk then costs the kernel nothing.
            let (recorded, took) = record(&mut tx);
            recorded.map_err(store_fail)?;
            ((Ok(()), took), enforce())
        };
        // On refusal `tx` is dropped here, which rolls the store back.
        let committed =
            enforced.map_err(|e| Error::fail(format!("the kernel refused the change: {e}")))?;
        let stored = Instant::now();
        if let Err(e) = recorded.and_then(|()| tx.commit()) {
            self.undo(&update);
            return Err(store_fail(e));
        }
        self.state = Arc::new(next);
        self.published.send_replace(Arc::clone(&self.state));
        self.check(committed);
        // Where a commit's time goes, for profiling without a profiler (`--log fw6d=debug`).
        debug!(
            member = members[0].0,
            changes = changes.len(),
            store_us = micros(store_took),
            kernel_us = micros(kernel_took),
            commit_us = micros(stored.elapsed()),
            total_us = micros(started.elapsed()),
            "committed"
        );
        Ok(changes)
    }

    /// Takes back a change the kernel accepted but the store did not.
    fn undo(&mut self, update: &Update) {
        let undone = match update {
            Update::Elements(ops) => self.kernel.apply_changes(&inverse(ops)),
            Update::Rebuild => self
                .kernel
                .apply_full(&plan::full(&self.state, &self.options)),
        };
        match undone {
            Ok(committed) => self.check(committed),
            Err(undo) => {
                error!(%undo, "could not undo a kernel change after the store failed; rebuilding");
                self.rebuild("undo failed");
            }
        }
    }

    /// A connection appeared: apply the configured default for never-seen connections.
    pub fn adopt(&mut self, connection: &IfName, firewalled_by_default: bool, who: &Provenance) {
        if firewalled_by_default || self.state.connections().any(|(name, _)| name == connection) {
            return;
        }
        let disable = [Mutation::DisableFirewall {
            connection: connection.clone(),
        }];
        match self.submit(&disable, who) {
            Ok(_) => {
                info!(%connection, "new connection is not firewalled (firewalled_by_default = false)");
            }
            Err(e) => error!(%connection, %e, "could not apply the default to a new connection"),
        }
    }

    /// Someone else changed our table (the monitor saw it): rebuild it from the state.
    pub fn repair(&mut self, why: &str) {
        self.rebuild(why);
    }

    /// How the table stands. A missing table is rebuilt on the way (the monitor normally does
    /// that first).
    pub fn table_state(&mut self) -> Result<TableState, Error> {
        let exists = self
            .kernel
            .table_exists()
            .map_err(|e| Error::fail(format!("cannot look up the fw6 table: {e}")))?;
        if !exists {
            self.rebuild("our table is missing");
            return Ok(TableState::Missing);
        }
        Ok(if self.unrepaired.is_some() {
            TableState::Changed
        } else {
            TableState::InSync
        })
    }

    /// Rebuilds the table if the monitor may have missed someone else's change during a commit.
    fn check(&mut self, committed: Committed) {
        if committed == Committed::Unwatched {
            self.rebuild("another program committed while fw6d's monitor was not listening");
        }
    }

    fn rebuild(&mut self, why: &str) {
        // A rebuild is itself a large commit made without listening; if yet another commit
        // lands in that gap, try again, a bounded number of times.
        for _ in 0..REBUILD_ATTEMPTS {
            match self
                .kernel
                .apply_full(&plan::full(&self.state, &self.options))
            {
                Ok(committed) => {
                    self.repairs += 1;
                    warn!(why, "rebuilt the fw6 table");
                    if committed == Committed::Watched {
                        return;
                    }
                }
                Err(e) => {
                    error!(why, %e, "could not rebuild the fw6 table");
                    return;
                }
            }
        }
    }
}

/// Rebuilds in a row after which an unwatched gap is left to the next outside change.
const REBUILD_ATTEMPTS: usize = 3;

/// Sends the kernel work of one call.
fn send(
    kernel: &mut dyn Kernel,
    options: &Options,
    update: &Update,
    next: &State,
) -> Result<Committed, String> {
    match update {
        Update::Elements(ops) if ops.is_empty() => Ok(Committed::Watched),
        Update::Elements(ops) => kernel.apply_changes(ops),
        Update::Rebuild => kernel.apply_full(&plan::full(next, options)),
    }
}

/// The batch that undoes `ops`: reversed, adds and deletes swapped.
fn inverse(ops: &[ElementOp]) -> Vec<ElementOp> {
    ops.iter()
        .rev()
        .map(|op| match op.clone() {
            ElementOp::Add(set, element) => ElementOp::Delete(set, element),
            ElementOp::Delete(set, element) => ElementOp::Add(set, element),
        })
        .collect()
}

fn store_fail(e: impl std::fmt::Display) -> Error {
    Error::fail(format!("the store refused the change: {e}"))
}

/// Adjacent calls of the same member as one range: the store writes a run of changes many rows
/// per statement (a 10,000-item `Apply` is 10,000 `OpenPort` calls of one change each), and the
/// audit names the member either way.
fn member_runs(members: &[(&'static str, Range<usize>)]) -> Vec<(&'static str, Range<usize>)> {
    let mut runs: Vec<(&'static str, Range<usize>)> = Vec::new();
    for (member, range) in members {
        match runs.last_mut() {
            Some((last, run)) if last == member && run.end == range.start => run.end = range.end,
            _ => runs.push((member, range.clone())),
        }
    }
    runs
}

/// Whole microseconds, for the phase timings of the debug log.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::member_runs;

    #[test]
    fn adjacent_calls_of_one_member_merge() {
        let members = [
            ("OpenPort", 0..1),
            ("OpenPort", 1..2),
            ("ClosePort", 2..3),
            ("OpenPort", 3..3),
            ("OpenPort", 3..5),
            ("ClosePort", 5..6),
        ];
        assert_eq!(
            member_runs(&members),
            [
                ("OpenPort", 0..2),
                ("ClosePort", 2..3),
                ("OpenPort", 3..5),
                ("ClosePort", 5..6)
            ]
        );
    }
}
