//! The single writer (DESIGN §5). Every mutation goes through [`Engine::submit`]: apply to a
//! scratch copy of the state (validation, all or nothing) → one store transaction → one kernel
//! batch → commit → publish the new state for readers. A kernel refusal rolls the store back; a
//! commit failure after the kernel accepted sends the inverse batch. So kernel, store and memory
//! never disagree for longer than one call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fw6_model::plan::{self, ElementOp, Options, Update};
use fw6_model::{Change, Error, IfName, Mutation, State};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::kernel::Kernel;
use crate::store::{Provenance, Store};

/// The writer: owns the state, the store and the kernel handle.
pub struct Engine {
    state: State,
    store: Store,
    kernel: Box<dyn Kernel>,
    options: Options,
    published: watch::Sender<Arc<State>>,
    repairs: u32,
    /// A change by someone else that could not be repaired yet.
    unrepaired: Option<String>,
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
        kernel
            .apply_full(&plan::full(&state, &options))
            .map_err(|e| Error::fail(format!("cannot load the ruleset: {e}")))?;
        let (published, _) = watch::channel(Arc::new(state.clone()));
        Ok(Self {
            state,
            store,
            kernel,
            options,
            published,
            repairs: 0,
            unrepaired: None,
        })
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
        let started = Instant::now();
        let mut next = self.state.clone();
        let mut per_member = Vec::with_capacity(mutations.len());
        for (index, mutation) in mutations.iter().enumerate() {
            let changes = next.apply(mutation).map_err(|e| {
                if mutations.len() > 1 {
                    e.context(format_args!(
                        "batch item {} ({})",
                        index + 1,
                        mutation.member()
                    ))
                } else {
                    e
                }
            })?;
            if !changes.is_empty() {
                per_member.push((mutation.member(), changes));
            }
        }
        if per_member.is_empty() {
            return Ok(Vec::new());
        }
        let changes: Vec<Change> = per_member.iter().flat_map(|(_, c)| c.clone()).collect();

        let validated = Instant::now();
        let mut tx = self.store.transaction().map_err(store_fail)?;
        for (member, member_changes) in &per_member {
            tx.record(member, member_changes, who).map_err(store_fail)?;
        }
        let recorded = Instant::now();
        let update = plan::update(&changes);
        // On refusal `tx` is dropped here, which rolls the store back.
        send(self.kernel.as_mut(), &self.options, &update, &next)
            .map_err(|e| Error::fail(format!("the kernel refused the change: {e}")))?;
        let enforced = Instant::now();
        if let Err(e) = tx.commit() {
            let undone = match &update {
                Update::Elements(ops) => self.kernel.apply_changes(&inverse(ops)),
                Update::Rebuild => self
                    .kernel
                    .apply_full(&plan::full(&self.state, &self.options)),
            };
            if let Err(undo) = undone {
                error!(%undo, "could not undo a kernel change after the store failed; rebuilding");
                self.rebuild("undo failed");
            }
            return Err(store_fail(e));
        }
        self.state = next;
        self.published.send_replace(Arc::new(self.state.clone()));
        // Where a commit's time goes, for profiling without a profiler (`--log fw6d=debug`).
        debug!(
            member = per_member[0].0,
            changes = changes.len(),
            validate_us = micros(validated - started),
            store_us = micros(recorded - validated),
            kernel_us = micros(enforced - recorded),
            commit_us = micros(enforced.elapsed()),
            "committed"
        );
        Ok(changes)
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

    /// Repairs the table if anything was committed since our last commit. For the gap before
    /// the drift monitor subscribes: subscribing only after the start-up commits spares the
    /// kernel one notification per element of the whole table.
    pub fn repair_if_changed_since_commit(&mut self) -> Result<(), Error> {
        let changed = self
            .kernel
            .changed_since_commit()
            .map_err(|e| Error::fail(format!("cannot read the ruleset generation: {e}")))?;
        if changed {
            self.rebuild("the ruleset changed while fw6d was starting");
        }
        Ok(())
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

    fn rebuild(&mut self, why: &str) {
        match self
            .kernel
            .apply_full(&plan::full(&self.state, &self.options))
        {
            Ok(()) => {
                self.repairs += 1;
                warn!(why, "rebuilt the fw6 table");
            }
            Err(e) => error!(why, %e, "could not rebuild the fw6 table"),
        }
    }
}

/// Sends the kernel work of one call.
fn send(
    kernel: &mut dyn Kernel,
    options: &Options,
    update: &Update,
    next: &State,
) -> Result<(), String> {
    match update {
        Update::Elements(ops) if ops.is_empty() => Ok(()),
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

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
