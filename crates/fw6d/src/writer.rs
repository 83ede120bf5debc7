//! The engine on its own thread. Store fsyncs and netlink round trips are blocking I/O; keeping
//! them off the async runtime means D-Bus reads are answered while a write is in flight, and a
//! channel makes "one writer" a property of the program's shape rather than of a lock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use fw6_model::pending::{ConfirmWithin, Token};
use fw6_model::{Change, Error, ErrorKind, IfName, Mutation};
use tokio::sync::{oneshot, watch};

use crate::engine::{Engine, KernelStatus, LogSwitch, Validated};
use crate::pending::{Pending, Why};
use crate::service::now_millis;
use crate::store::{AuditRecord, PendingRecord, Provenance};

/// A pending change as the writer publishes it (`None`: none pending).
pub type PendingWatch = watch::Receiver<Option<Arc<PendingRecord>>>;

/// The outcome of a confirmable submit: the effective changes, and the pending change (none
/// for a batch that changed nothing).
pub type Confirmable = (Vec<Change>, Option<Arc<PendingRecord>>);

/// Calls waiting for the writer past which a new one is refused at once: each holds a validated
/// batch (up to `max_batch` changes) in memory, and a caller who floods the queue must not make
/// every later call, root's included, wait behind all of it.
pub const QUEUE_LIMIT: usize = 256;

enum Request {
    Submit {
        mutations: Vec<Mutation>,
        // Boxed: a whole state and its changes, in a channel of mostly small requests.
        validated: Box<Validated>,
        who: Provenance,
        reply: oneshot::Sender<Result<Vec<Change>, Error>>,
    },
    Adopt {
        connection: IfName,
        firewalled_by_default: bool,
    },
    Repair {
        why: String,
    },
    Audit {
        since: i64,
        limit: usize,
        reply: oneshot::Sender<Result<Vec<AuditRecord>, Error>>,
    },
    LogSwitch(Box<dyn LogSwitch>),
    SubmitConfirmable {
        mutations: Vec<Mutation>,
        validated: Box<Validated>,
        who: Provenance,
        within: ConfirmWithin,
        reply: oneshot::Sender<Result<Confirmable, Error>>,
    },
    Confirm {
        token: Token,
        who: Provenance,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Revert {
        token: Token,
        who: Provenance,
        why: Why,
        reply: oneshot::Sender<Result<Vec<Change>, Error>>,
    },
    /// Leases ending: expired by `now`, an owner gone, or the wall clock jumped.
    Lease {
        end: LeaseEnd,
        now: u64,
        reply: oneshot::Sender<Result<Vec<Change>, Error>>,
    },
}

impl Request {
    /// Whether the request may commit a change made by a caller (a lease due is closed first).
    const fn commits(&self) -> bool {
        matches!(
            self,
            Self::Submit { .. }
                | Self::SubmitConfirmable { .. }
                | Self::Confirm { .. }
                | Self::Revert { .. }
        )
    }
}

/// Why leases may end (see the engine's `expire`, `release` and `clock_jumped`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEnd {
    /// Time passed.
    Expired,
    /// The unique name `name` left the bus whose id is `bus`.
    OwnerGone {
        /// The bus's id.
        bus: String,
        /// The unique name.
        name: String,
    },
    /// The wall clock jumped against the monotonic one.
    ClockJumped,
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    requests: mpsc::Sender<Request>,
    /// `Submit` requests sent and not yet taken by the writer thread.
    queued: Arc<AtomicUsize>,
    status: watch::Receiver<KernelStatus>,
    status_publisher: watch::Sender<KernelStatus>,
    pending: PendingWatch,
    /// Set while leases the writer closed before a commit wait to be announced.
    unannounced: Arc<AtomicBool>,
}

impl Writer {
    /// Moves `engine` onto a new thread that serves requests until every handle is dropped.
    /// A stored pending change whose deadline has passed is reverted first, before this
    /// returns (so before fw6d serves the bus).
    pub fn spawn(mut engine: Engine) -> Self {
        let mut confirmable = Pending::start(&mut engine);
        let pending = confirmable.subscribe();
        let (requests, inbox) = mpsc::channel::<Request>();
        let queued = Arc::new(AtomicUsize::new(0));
        let status = engine.kernel_status();
        let status_publisher = engine.kernel_status_publisher();
        let unannounced = engine.unannounced();
        let taken = Arc::clone(&queued);
        thread::Builder::new()
            .name("fw6d-writer".into())
            .spawn(move || {
                let daemon = Provenance::daemon();
                for request in inbox {
                    if request.commits() {
                        engine.expire_due(now_millis());
                    }
                    match request {
                        Request::Submit {
                            mutations,
                            validated,
                            who,
                            reply,
                        } => {
                            taken.fetch_sub(1, Ordering::AcqRel);
                            let _ = reply.send(confirmable.refuse_while_pending().and_then(|()| {
                                engine.submit_validated(&mutations, *validated, &who)
                            }));
                        }
                        Request::SubmitConfirmable {
                            mutations,
                            validated,
                            who,
                            within,
                            reply,
                        } => {
                            taken.fetch_sub(1, Ordering::AcqRel);
                            let _ = reply.send(confirmable.submit(
                                &mut engine,
                                &mutations,
                                *validated,
                                &who,
                                within,
                            ));
                        }
                        Request::Confirm { token, who, reply } => {
                            let _ = reply.send(confirmable.confirm(&mut engine, &token, &who));
                        }
                        Request::Revert {
                            token,
                            who,
                            why,
                            reply,
                        } => {
                            let _ = reply.send(confirmable.revert(&mut engine, &token, &who, why));
                        }
                        Request::Adopt {
                            connection,
                            firewalled_by_default,
                        } => engine.adopt(&connection, firewalled_by_default, &daemon),
                        Request::Repair { why } => engine.repair(&why),
                        Request::LogSwitch(switch) => engine.set_log_switch(switch),
                        Request::Audit {
                            since,
                            limit,
                            reply,
                        } => {
                            let _ = reply.send(engine.audit(since, limit));
                        }
                        Request::Lease { end, now, reply } => {
                            let ended = match end {
                                LeaseEnd::Expired => engine.expire(now),
                                LeaseEnd::OwnerGone { bus, name } => {
                                    engine.release(&bus, &name, now)
                                }
                                LeaseEnd::ClockJumped => engine.clock_jumped(now),
                            };
                            let _ = reply.send(ended);
                        }
                    }
                }
            })
            .expect("spawning the writer thread");
        Self {
            requests,
            queued,
            status,
            status_publisher,
            pending,
            unannounced,
        }
    }

    /// The pending confirmable change as last published (`Status`, `Confirm`'s authorization,
    /// the revert timer), answered without waiting for the writer.
    pub fn pending(&self) -> PendingWatch {
        self.pending.clone()
    }

    /// Applies a batch and makes it pending for `within` (`ApplyConfirmable`): like
    /// [`Writer::submit`], with the pending change in the reply.
    pub async fn submit_confirmable(
        &self,
        mutations: Vec<Mutation>,
        validated: Validated,
        who: Provenance,
        within: ConfirmWithin,
    ) -> Result<Confirmable, Error> {
        self.reserve()?;
        let (reply, outcome) = oneshot::channel();
        if let Err(e) = self.send(Request::SubmitConfirmable {
            mutations,
            validated: Box::new(validated),
            who,
            within,
            reply,
        }) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(e);
        }
        outcome.await.map_err(|_| gone())?
    }

    /// Keeps the pending change named `token` (`Confirm`).
    pub async fn confirm(&self, token: Token, who: Provenance) -> Result<(), Error> {
        let (reply, outcome) = oneshot::channel();
        self.send(Request::Confirm { token, who, reply })?;
        outcome.await.map_err(|_| gone())?
    }

    /// Takes back the pending change named `token` (`Revert`, or its deadline).
    pub async fn revert(
        &self,
        token: Token,
        who: Provenance,
        why: Why,
    ) -> Result<Vec<Change>, Error> {
        let (reply, outcome) = oneshot::channel();
        self.send(Request::Revert {
            token,
            who,
            why,
            reply,
        })?;
        outcome.await.map_err(|_| gone())?
    }

    /// Takes a place in the writer's queue, or refuses at once when [`QUEUE_LIMIT`] calls wait.
    fn reserve(&self) -> Result<(), Error> {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < QUEUE_LIMIT).then_some(n + 1)
            })
            .map(drop)
            .map_err(busy)
    }

    /// Submits mutations, validated by the caller against the published state, and waits for
    /// the outcome. Refused at once with `Fail` when [`QUEUE_LIMIT`] calls are already waiting.
    pub async fn submit(
        &self,
        mutations: Vec<Mutation>,
        validated: Validated,
        who: Provenance,
    ) -> Result<Vec<Change>, Error> {
        let reserved = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < QUEUE_LIMIT).then_some(n + 1)
            });
        if let Err(n) = reserved {
            return Err(busy(n));
        }
        let (reply, outcome) = oneshot::channel();
        if let Err(e) = self.send(Request::Submit {
            mutations,
            validated: Box::new(validated),
            who,
            reply,
        }) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(e);
        }
        outcome.await.map_err(|_| gone())?
    }

    /// Applies the new-connection default; fire and forget.
    pub fn adopt(&self, connection: IfName, firewalled_by_default: bool) {
        let _ = self.send(Request::Adopt {
            connection,
            firewalled_by_default,
        });
    }

    /// Rebuilds the table after an outside change; fire and forget.
    pub fn repair(&self, why: String) {
        let _ = self.send(Request::Repair { why });
    }

    /// Whether leases the writer closed before a commit (they had expired, and the lease task
    /// had not closed them yet) wait to be announced: the lease task then asks for
    /// [`LeaseEnd::Expired`], whose answer carries them.
    pub fn unannounced_expiries(&self) -> bool {
        self.unannounced.load(Ordering::Acquire)
    }

    /// Calls waiting for the writer (not counting the one it is working on).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// The kernel side for `Status`, as the writer and the drift monitor last published it:
    /// answered without waiting for the writer or asking the kernel.
    pub fn status(&self) -> KernelStatus {
        *self.status.borrow()
    }

    /// A receiver of every published kernel side (the daemon follows its repairs).
    pub fn watch_status(&self) -> watch::Receiver<KernelStatus> {
        self.status.clone()
    }

    /// Records a ruleset generation the drift monitor saw (anyone's commit), for `Status`.
    pub fn observe_generation(&self, generation: u32) {
        self.status_publisher
            .send_if_modified(|status| status.observe(generation));
    }

    /// Hands the engine the log reader's switch (before any call can reach the writer, so
    /// every later commit drives it); fire and forget.
    pub fn set_log_switch(&self, switch: Box<dyn LogSwitch>) {
        let _ = self.send(Request::LogSwitch(switch));
    }

    /// Reads the audit trail (the store belongs to this thread): the newest `limit` rows at or
    /// after `since` (ms since the Unix epoch), newest first.
    pub async fn audit(&self, since: i64, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        let (reply, outcome) = oneshot::channel();
        self.send(Request::Audit {
            since,
            limit,
            reply,
        })?;
        outcome.await.map_err(|_| gone())?
    }

    /// Ends the leases `end` says have ended at `now` (ms since the Unix epoch), and returns the
    /// changes made, for the `Changed` signals.
    pub async fn end_leases(&self, end: LeaseEnd, now: u64) -> Result<Vec<Change>, Error> {
        let (reply, outcome) = oneshot::channel();
        self.send(Request::Lease { end, now, reply })?;
        outcome.await.map_err(|_| gone())?
    }

    fn send(&self, request: Request) -> Result<(), Error> {
        self.requests.send(request).map_err(|_| gone())
    }
}

fn busy(queued: usize) -> Error {
    Error::new(
        ErrorKind::Fail,
        format!("fw6d is busy: {queued} changes are queued; retry"),
    )
}

fn gone() -> Error {
    Error::new(
        ErrorKind::Unexpected,
        "the fw6d writer thread has stopped; restart fw6d",
    )
}
