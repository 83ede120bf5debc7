//! The single writer (docs/design.md §5). Every mutation goes through [`Engine::submit`]: apply to
//! a scratch copy of the state (validation, all or nothing) → one store transaction → one kernel
//! batch → commit → publish the new state for readers. A kernel refusal rolls the store back; a
//! store failure after the kernel accepted sends the inverse batch. So kernel, store and memory
//! never disagree for longer than one call.
//!
//! For a large batch the store's rows and the kernel's batch are written at the same time, on
//! two threads: they are independent until the commit, and each takes about as long as the
//! other (BENCHMARKS.md, "Figures behind design choices").

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use fw6_model::plan::{self, Options, Update};
use fw6_model::{
    BatchChanges, Change, Error, ErrorKind, IfName, Lease, MAX_LIFETIME_SECONDS, Mutation,
    PortEntry, State,
};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use fw6_kernel::{Applied, TableState};

use crate::kernel::{Kernel, Refusal};
use crate::logging::confine::Confinement;
use crate::service::now_millis;
use crate::store::{AuditRecord, PendingRecord, Provenance, Store, StoreError, StoreTx};

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
    /// Whether the kernel must be told: not for expired leases, which the kernel's element
    /// timeouts already removed (a delete of an absent element would fail the commit).
    enforce: bool,
    /// Let in without confirmation because it changed nothing when it was authorized
    /// (docs/icf-api.md §6.4): if another commit makes it a change before this one is made, it
    /// is refused rather than made unconfirmed.
    noop_only: bool,
}

impl Validated {
    /// Applies `mutations` to a copy of `base` (O(1) to copy), all or nothing. A
    /// `LogfilePath` must also pass the confinement's text rules here (before authorization;
    /// the file-system rules wait for the commit, so an unauthorized caller learns nothing
    /// about the disk).
    pub fn new(base: Arc<State>, mutations: &[Mutation]) -> Result<Self, Error> {
        let rules = Confinement::current();
        for (index, mutation) in mutations.iter().enumerate() {
            if let Mutation::SetLogfilePath { path } = mutation {
                rules.check_syntax(path).map_err(|e| {
                    e.context(format_args!(
                        "batch item {} ({})",
                        index + 1,
                        mutation.member()
                    ))
                })?;
            }
        }
        let mut next = (*base).clone();
        let BatchChanges { changes, members } = next.apply_members(mutations)?;
        Ok(Self {
            base,
            next,
            changes,
            members,
            enforce: true,
            noop_only: false,
        })
    }

    /// Marks a batch authorized only as a no-op (no confirmation was asked): it must still
    /// change nothing when it is committed.
    #[must_use]
    pub fn admitted_as_noop(self) -> Self {
        self.marked(true)
    }

    /// The same batch validated again keeps how it was admitted.
    fn marked(mut self, noop_only: bool) -> Self {
        self.noop_only = noop_only;
        self
    }

    /// Changes the daemon makes itself (a lease ends), replayed on a copy of `base` and audited
    /// under `member`.
    fn internal(
        base: Arc<State>,
        changes: Vec<Change>,
        member: &'static str,
        enforce: bool,
    ) -> Self {
        let mut next = (*base).clone();
        for change in &changes {
            next.replay(change);
        }
        let members = vec![(member, 0..changes.len())];
        Self {
            base,
            next,
            changes,
            members,
            enforce,
            noop_only: false,
        }
    }

    /// The effective changes, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Records every change under `member` in the audit trail instead of the member that made
    /// it (a revert is audited as `Revert`, whichever members undid the change).
    pub fn relabel(&mut self, member: &'static str) {
        for (name, _) in &mut self.members {
            *name = member;
        }
    }
}

/// What a commit also writes about the pending confirmable change, in its own transaction
/// (crate::pending): nothing, the new pending change, or its removal (with its revert).
#[derive(Debug, Clone, Copy)]
pub enum PendingStep<'a> {
    /// Leave it as it is.
    Keep,
    /// Store this pending change.
    Set(&'a PendingRecord),
    /// Remove the pending change.
    Clear,
}

/// What turns the firewall log's reader on and off. The engine calls it when a commit switches
/// logging (`LogDroppedPackets` or `LogConnections`) on or off, so the NFLOG group is held
/// exactly while the ruleset logs, and a group another program holds fails the switching call.
pub trait LogSwitch: Send {
    /// Reads the NFLOG group while `packets` is on (may fail: the group is taken) and follows
    /// conntrack events while `connections` is on; stops what is off. Idempotent.
    fn turn(&mut self, packets: bool, connections: bool) -> Result<(), LogSwitchError>;
}

/// Why the firewall log's reader could not be switched on; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LogSwitchError {
    /// Another socket holds the NFLOG group: nfnetlink_log answers `EPERM` (or `EBUSY`) when
    /// another socket holds the group's instance (and also without `CAP_NET_ADMIN`, which the
    /// daemon has).
    #[error(
        "NFLOG group {group} is already read by another program (ulogd, say; the kernel says: \
         {source}): stop it, or set another log_group in /etc/fw6/fw6d.toml and restart fw6d"
    )]
    GroupTaken {
        /// The group.
        group: u16,
        /// The kernel's refusal.
        #[source]
        source: std::io::Error,
    },
    /// Anything else that kept the reader from starting (the message carries its causes).
    #[error("cannot start the firewall log's reader: {}", error_chain(.0))]
    Start(#[source] fw6_kernel::nflog::NflogError),
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
    /// The kernel side as of the last commit or repair, published so `Status` never waits for
    /// the writer (the drift monitor also feeds it the generations of other programs' commits).
    status: watch::Sender<KernelStatus>,
    /// The log reader's switch, once the daemon installed it.
    log_switch: Option<Box<dyn LogSwitch>>,
    /// Leases the writer expired before a commit of its own ([`Engine::expire_due`]), not yet
    /// announced: the next [`Engine::expire`] returns them for the `Changed` signals.
    quietly_expired: Vec<Change>,
    /// Set while `quietly_expired` holds changes, so the lease task knows to ask for them.
    unannounced: Arc<AtomicBool>,
}

/// The kernel side of `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelStatus {
    /// The latest ruleset generation seen (ours or, through the monitor, anyone's).
    pub generation: u32,
    /// How the table stands.
    pub table: TableState,
    /// Drift repairs since start.
    pub repairs: u32,
    /// How the table is kept from other programs.
    pub protection: fw6_kernel::Protection,
}

impl KernelStatus {
    /// Records a generation seen by the drift monitor, unless a later one is already known
    /// (generations count up and wrap).
    pub fn observe(&mut self, generation: u32) -> bool {
        let later = i32::from_ne_bytes(generation.wrapping_sub(self.generation).to_ne_bytes()) > 0;
        if later {
            self.generation = generation;
        }
        later
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
        let (status, _) = watch::channel(KernelStatus {
            generation: kernel.last_generation().unwrap_or(0),
            table: TableState::InSync,
            repairs: 0,
            protection: kernel.protection(),
        });
        let mut engine = Self {
            state,
            store,
            kernel,
            options,
            published,
            status,
            log_switch: None,
            quietly_expired: Vec::new(),
            unannounced: Arc::new(AtomicBool::new(false)),
        };
        engine.check(committed);
        Ok(engine)
    }

    /// The kernel side of `Status` as last published.
    pub fn kernel_status(&self) -> watch::Receiver<KernelStatus> {
        self.status.subscribe()
    }

    /// The sender of [`Engine::kernel_status`], for the drift monitor's generations.
    pub fn kernel_status_publisher(&self) -> watch::Sender<KernelStatus> {
        self.status.clone()
    }

    /// Publishes the generation of our last commit and how the table stands.
    fn publish_kernel(&self, table: TableState) {
        let generation = self.kernel.last_generation();
        let protection = self.kernel.protection();
        self.status.send_modify(|status| {
            if let Some(generation) = generation {
                status.observe(generation);
            }
            status.table = table;
            status.protection = protection;
        });
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

    /// The newest `limit` audit rows recorded at or after `since` (ms since the Unix epoch),
    /// newest first, for `ReadAudit`.
    pub fn audit(&self, since: i64, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        self.store
            .audit_since(since, limit)
            .map_err(|e| Error::fail(format!("cannot read the audit trail: {e}")))
    }

    /// How many times drift was repaired since start.
    pub fn repairs(&self) -> u32 {
        self.status.borrow().repairs
    }

    /// Applies `mutations` atomically and durably, and returns the effective changes (empty for
    /// a no-op, which touches neither store nor kernel).
    pub fn submit(
        &mut self,
        mutations: &[Mutation],
        who: &Provenance,
    ) -> Result<Vec<Change>, Error> {
        let validated = Validated::new(Arc::clone(&self.state), mutations)?;
        self.commit(validated, who, PendingStep::Keep)
    }

    /// [`Engine::submit`] for a batch the caller already validated: reused if nothing was
    /// committed since, validated again otherwise.
    pub fn submit_validated(
        &mut self,
        mutations: &[Mutation],
        validated: Validated,
        who: &Provenance,
    ) -> Result<Vec<Change>, Error> {
        let validated = self.revalidated(mutations, validated)?;
        let validated_noop = validated.noop_only;
        // A delete of an element whose lease runs out in these few milliseconds may reach the
        // kernel just after the kernel dropped it, which refuses the whole batch (ENOENT). Then
        // the lease is let run out, closed like any expiry, and the batch tried once more.
        let due = closes_due(validated.changes(), now_millis() + EXPIRY_MARGIN_MS);
        match self.commit(validated, who, PendingStep::Keep) {
            Err(refused) => match due {
                Some(at) => {
                    thread::sleep(Duration::from_millis(
                        at.saturating_sub(now_millis()).saturating_add(1),
                    ));
                    self.expire_due(now_millis());
                    let again =
                        Validated::new(Arc::clone(&self.state), mutations)?.marked(validated_noop);
                    self.commit(again, who, PendingStep::Keep)
                        .map_err(|_| refused)
                }
                None => Err(refused),
            },
            committed => committed,
        }
    }

    /// `mutations` validated against the current state.
    pub fn validate(&self, mutations: &[Mutation]) -> Result<Validated, Error> {
        Validated::new(Arc::clone(&self.state), mutations)
    }

    /// `validated` if nothing was committed since it was computed, else `mutations` validated
    /// again against the current state.
    pub fn revalidated(
        &self,
        mutations: &[Mutation],
        validated: Validated,
    ) -> Result<Validated, Error> {
        if Arc::ptr_eq(&validated.base, &self.state) {
            Ok(validated)
        } else {
            Ok(Validated::new(Arc::clone(&self.state), mutations)?.marked(validated.noop_only))
        }
    }

    /// Commits `validated` (computed against the current state: see
    /// [`Engine::revalidated`]) and writes `pending` in the same store transaction, so the
    /// change and its way back are durable together (crate::pending). A batch without effective
    /// changes writes nothing, `pending` included.
    pub fn commit_with_pending(
        &mut self,
        validated: Validated,
        who: &Provenance,
        pending: PendingStep<'_>,
    ) -> Result<Vec<Change>, Error> {
        self.commit(validated, who, pending)
    }

    /// Removes the stored pending change in a transaction of its own (a confirm, or a revert
    /// that found nothing left to undo).
    pub fn clear_pending(&mut self) -> Result<(), Error> {
        let mut tx = self.store.transaction().map_err(store_fail)?;
        tx.clear_pending()
            .and_then(|()| tx.commit())
            .map_err(store_fail)
    }

    /// The pending change the store holds (read once, at start).
    pub fn stored_pending(&self) -> Result<Option<PendingRecord>, StoreError> {
        self.store.pending()
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
    fn commit(
        &mut self,
        validated: Validated,
        who: &Provenance,
        pending: PendingStep<'_>,
    ) -> Result<Vec<Change>, Error> {
        if validated.noop_only && !validated.changes.is_empty() {
            return Err(no_longer_a_noop());
        }
        let (before, after) = (logs(&self.state), logs(&validated.next));
        let Some(switch) = self.log_switch.as_mut().filter(|_| before != after) else {
            return self.commit_switched(validated, who, pending);
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
        let committed = self.commit_switched(validated, who, pending);
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
        pending: PendingStep<'_>,
    ) -> Result<Vec<Change>, Error> {
        let Validated {
            next,
            changes,
            members,
            enforce: tell_kernel,
            ..
        } = validated;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        check_new_logfile_path(&changes)?;
        let started = Instant::now();
        let mut tx = self.store.transaction().map_err(store_fail)?;
        let update = if tell_kernel {
            plan::update(&changes)
        } else {
            Update::Elements(Vec::new())
        };
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
                    .unwrap_or((Err(Refusal::Panicked), Duration::ZERO));
                (recorded, enforced)
            })
        } else {
            // One at a time, store first: a full disk then costs the kernel nothing.
            let (recorded, took) = record(&mut tx);
            recorded.map_err(store_fail)?;
            ((Ok(()), took), enforce())
        };
        let committed = match enforced {
            Ok(committed) => committed,
            Err(refusal) => {
                drop(tx); // rolls the store back
                return Err(self.refused(&refusal));
            }
        };
        let stored = Instant::now();
        let pending = match pending {
            PendingStep::Keep => Ok(()),
            PendingStep::Set(record) => tx.set_pending(record),
            PendingStep::Clear => tx.clear_pending(),
        };
        if let Err(e) = recorded.and(pending).and_then(|()| tx.commit()) {
            if tell_kernel {
                self.undo(&changes);
            }
            return Err(store_fail(e));
        }
        self.state = Arc::new(next);
        self.published.send_replace(Arc::clone(&self.state));
        self.publish_kernel(TableState::InSync);
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

    /// The error for a refused commit (the store is already rolled back). A refusal whose
    /// outcome is unknown may have changed the kernel all the same, so the table is rebuilt from
    /// the state, which the store still agrees with.
    fn refused(&mut self, refusal: &Refusal) -> Error {
        if !refusal.outcome_unknown() {
            return Error::fail(format!("the kernel refused the change: {refusal}"));
        }
        self.rebuild("the kernel's answer to a batch was lost");
        Error::fail(format!(
            "the kernel did not confirm the change ({refusal}); nothing was saved, and fw6d \
             rebuilt its table from the saved configuration; retry, or split the batch"
        ))
    }

    /// Takes back a change the kernel accepted but the store did not: the kernel work of the
    /// inverse changes, in reverse order (a closed lease comes back with its expiry).
    fn undo(&mut self, changes: &[Change]) {
        let inverse: Vec<Change> = changes.iter().rev().map(Change::inverse).collect();
        let undone = match plan::update(&inverse) {
            Update::Elements(ops) => self.kernel.apply_changes(&ops),
            Update::Rebuild => self
                .kernel
                .apply_full(&plan::full(&self.state, &self.options)),
        };
        match undone {
            Ok(committed) => {
                self.publish_kernel(TableState::InSync);
                self.check(committed);
            }
            Err(undo) => {
                error!(%undo, "could not undo a kernel change after the store failed; rebuilding");
                self.rebuild("undo failed");
            }
        }
    }

    /// Closes every opening whose lease expired by `now` (ms since the Unix epoch), with an
    /// audit row each (member `LeaseExpired`). The kernel removed them already by their element
    /// timeouts, whether or not fw6d ran, so this commit writes the store and publishes the state,
    /// and sends the kernel nothing.
    ///
    /// Also returns the expiries [`Engine::expire_due`] made before other commits, so that every
    /// closed lease is announced once.
    pub fn expire(&mut self, now: u64) -> Result<Vec<Change>, Error> {
        let expired = self.expire_now(now)?;
        let mut changes = std::mem::take(&mut self.quietly_expired);
        self.unannounced.store(false, Ordering::Release);
        changes.extend(expired);
        Ok(changes)
    }

    fn expire_now(&mut self, now: u64) -> Result<Vec<Change>, Error> {
        let changes = self.state.expired(now);
        if changes.is_empty() {
            return Ok(changes);
        }
        let validated = Validated::internal(Arc::clone(&self.state), changes, EXPIRED, false);
        self.commit(validated, &Provenance::daemon(), PendingStep::Keep)
    }

    /// Closes, before a commit, the leases expired by `now` that the lease task has not closed
    /// yet (a busy writer delays it): a close or renewal of such a pair would otherwise send the
    /// kernel a delete of an element it already dropped, refusing the whole batch. The changes
    /// wait for the next [`Engine::expire`] to be announced ([`Engine::unannounced`] says so).
    pub fn expire_due(&mut self, now: u64) {
        if self.state.next_expiry().is_none_or(|at| at > now) {
            return;
        }
        // Set before the commit publishes the state, which wakes the lease task: it then asks
        // the writer, which answers after this request.
        self.unannounced.store(true, Ordering::Release);
        match self.expire_now(now) {
            Ok(changes) => self.quietly_expired.extend(changes),
            Err(e) => warn!(%e, "could not close expired leases before a commit"),
        }
        if self.quietly_expired.is_empty() {
            self.unannounced.store(false, Ordering::Release);
        }
    }

    /// Set while leases closed by [`Engine::expire_due`] wait to be announced.
    pub fn unannounced(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unannounced)
    }

    /// Closes the openings bound to `name` on bus `bus` (it left the bus), with an audit row
    /// each (member `OwnerGone`), except those that expire within [`EXPIRY_MARGIN_MS`] of `now`:
    /// the kernel removes those by itself, and a delete racing it would fail the whole commit.
    pub fn release(&mut self, bus: &str, name: &str, now: u64) -> Result<Vec<Change>, Error> {
        let changes: Vec<Change> = self
            .state
            .owner_gone(bus, name)
            .into_iter()
            .filter(|change| !expires_by(change, now + EXPIRY_MARGIN_MS))
            .collect();
        if changes.is_empty() {
            return Ok(changes);
        }
        let validated = Validated::internal(Arc::clone(&self.state), changes, OWNER_GONE, true);
        self.commit(validated, &Provenance::daemon(), PendingStep::Keep)
    }

    /// The wall clock jumped (or the machine slept): element timeouts count monotonic time, so
    /// the kernel's expiries no longer match the wall-clock ones. Closes what expired by the
    /// wall clock, then rebuilds the table, which sends every remaining lease with the time it
    /// has left by the wall clock (docs/dbus-api.md, "Leases").
    ///
    /// The rebuild follows whenever a lease existed before the expiry, even if none is left: the
    /// kernel counts monotonic time, so it may still hold the elements the wall clock expired.
    ///
    /// A clock stepped back would lengthen every lease by the step: each expiry is first brought
    /// back to at most the longest lifetime from `now` ([`Engine::clamp_leases`]).
    pub fn clock_jumped(&mut self, now: u64) -> Result<Vec<Change>, Error> {
        let had_leases = self.state.lease_count() > 0;
        let mut changes = self.expire(now)?;
        changes.extend(self.clamp_leases(now)?);
        if had_leases {
            self.rebuild("the wall clock jumped: lease timeouts re-armed");
        }
        Ok(changes)
    }

    /// Brings every lease expiry later than the longest lifetime from `now` back to it (audit
    /// member `LeaseClamped`): after the wall clock stepped back, or a boot with the clock
    /// behind, an expiry made by the right clock lies further away than any lease may last.
    /// The lifetime itself is not stored, so the bound is the longest one, not the lease's own.
    pub fn clamp_leases(&mut self, now: u64) -> Result<Vec<Change>, Error> {
        let limit = now.saturating_add(u64::from(MAX_LIFETIME_SECONDS) * 1000);
        let mut changes = Vec::new();
        for (connection, entry) in self.state.leased() {
            let Some(lease) = entry
                .lease
                .clone()
                .filter(|l| l.expires.is_some_and(|at| at > limit))
            else {
                continue;
            };
            let clamped = PortEntry {
                lease: Some(Lease {
                    expires: Some(limit),
                    ..lease
                }),
                ..entry.clone()
            };
            if let Some(connection) = connection {
                changes.push(Change::PortClosed {
                    connection: connection.clone(),
                    entry,
                });
                changes.push(Change::PortOpened {
                    connection,
                    entry: clamped,
                });
            } else {
                changes.push(Change::GlobalClosed { entry });
                changes.push(Change::GlobalOpened { entry: clamped });
            }
        }
        if changes.is_empty() {
            return Ok(changes);
        }
        warn!(
            leases = changes.len() / 2,
            "lease expiries lay beyond the longest lifetime (the wall clock is behind?): brought back to it"
        );
        let validated = Validated::internal(Arc::clone(&self.state), changes, CLAMPED, true);
        self.commit(validated, &Provenance::daemon(), PendingStep::Keep)
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

    /// How the table stands after a failed rebuild: present but not as we wrote it, or gone.
    fn table_state_after_failure(&mut self) -> TableState {
        match self.kernel.table_exists() {
            Ok(false) => TableState::Missing,
            Ok(true) | Err(_) => TableState::Changed,
        }
    }

    /// Rebuilds the table if the monitor may have missed someone else's change during a commit.
    fn check(&mut self, committed: Applied) {
        if committed.unwatched {
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
                    self.status.send_modify(|status| status.repairs += 1);
                    self.publish_kernel(TableState::InSync);
                    warn!(why, "rebuilt the fw6 table");
                    if !committed.unwatched {
                        return;
                    }
                }
                Err(e) => {
                    error!(why, %e, "could not rebuild the fw6 table");
                    let table = self.table_state_after_failure();
                    self.publish_kernel(table);
                    return;
                }
            }
        }
    }
}

/// A batch that moves the log file is checked against the confinement's file-system rules
/// (symlinks, file type, the store) before anything is written: Apply, the property setter and
/// import all commit here.
fn check_new_logfile_path(changes: &[Change]) -> Result<(), Error> {
    let moved = changes.iter().rev().find_map(|change| match change {
        Change::Logging { from, to } if from.logfile_path != to.logfile_path => {
            Some(&to.logfile_path)
        }
        _ => None,
    });
    match moved {
        Some(path) => Confinement::current().check(path),
        None => Ok(()),
    }
}

/// The audit's member for a lease that expired.
pub const EXPIRED: &str = "LeaseExpired";
/// The audit's member for a lease expiry brought back to the longest lifetime.
pub const CLAMPED: &str = "LeaseClamped";
/// The audit's member for an opening closed because its owner left the bus.
pub const OWNER_GONE: &str = "OwnerGone";
/// Openings expiring this soon are left to the kernel's timeout when their owner leaves.
const EXPIRY_MARGIN_MS: u64 = 1000;

/// Whether `change` closes a lease that expires by `at` (ms since the Unix epoch).
fn expires_by(change: &Change, at: u64) -> bool {
    closed_expiry(change).is_some_and(|e| e <= at)
}

/// The expiry of the lease `change` closes, if it closes one.
fn closed_expiry(change: &Change) -> Option<u64> {
    let (Change::PortClosed { entry, .. } | Change::GlobalClosed { entry }) = change else {
        return None;
    };
    entry.lease.as_ref().and_then(|l| l.expires)
}

/// The latest expiry by `at` among the leases `changes` close, if any does.
fn closes_due(changes: &[Change], at: u64) -> Option<u64> {
    changes
        .iter()
        .filter_map(closed_expiry)
        .filter(|&e| e <= at)
        .max()
}

/// Rebuilds in a row after which an unwatched gap is left to the next outside change.
const REBUILD_ATTEMPTS: usize = 3;

/// Sends the kernel work of one call.
fn send(
    kernel: &mut dyn Kernel,
    options: &Options,
    update: &Update,
    next: &State,
) -> Result<Applied, Refusal> {
    match update {
        Update::Elements(ops) if ops.is_empty() => Ok(Applied {
            generation: kernel.last_generation().unwrap_or(0),
            messages: 0,
            unwatched: false,
            replaced_legacy: false,
        }),
        Update::Elements(ops) => kernel.apply_changes(ops),
        Update::Rebuild => kernel.apply_full(&plan::full(next, options)),
    }
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

/// A call let in without confirmation as a no-op that another commit turned into a change.
fn no_longer_a_noop() -> Error {
    Error::new(
        ErrorKind::AccessDenied,
        "the configuration changed while this call was being authorized: it would now change \
         the firewall, which needs authentication; nothing was changed; call again",
    )
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
