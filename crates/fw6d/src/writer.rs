//! The engine on its own thread. Store fsyncs and netlink round trips are blocking I/O; keeping
//! them off the async runtime means D-Bus reads are answered while a write is in flight, and a
//! channel makes "one writer" a property of the program's shape rather than of a lock.

use std::sync::mpsc;
use std::thread;

use fw6_model::{Change, Error, ErrorKind, IfName, Mutation};
use tokio::sync::oneshot;

use crate::engine::{Engine, LogSwitch, TableState, Validated};
use crate::store::Provenance;

/// What the writer reports for `Status`.
#[derive(Debug, Clone)]
pub struct WriterStatus {
    /// The kernel's ruleset generation after the check.
    pub generation: u32,
    /// How the table stands.
    pub table: TableState,
    /// Drift repairs since start.
    pub repairs: u32,
}

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
    Status {
        reply: oneshot::Sender<Result<WriterStatus, Error>>,
    },
    LogSwitch(Box<dyn LogSwitch>),
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    requests: mpsc::Sender<Request>,
}

impl Writer {
    /// Moves `engine` onto a new thread that serves requests until every handle is dropped.
    pub fn spawn(mut engine: Engine) -> Self {
        let (requests, inbox) = mpsc::channel::<Request>();
        thread::Builder::new()
            .name("fw6d-writer".into())
            .spawn(move || {
                let daemon = Provenance::daemon();
                for request in inbox {
                    match request {
                        Request::Submit {
                            mutations,
                            validated,
                            who,
                            reply,
                        } => {
                            let _ =
                                reply.send(engine.submit_validated(&mutations, *validated, &who));
                        }
                        Request::Adopt {
                            connection,
                            firewalled_by_default,
                        } => engine.adopt(&connection, firewalled_by_default, &daemon),
                        Request::Repair { why } => engine.repair(&why),
                        Request::LogSwitch(switch) => engine.set_log_switch(switch),
                        Request::Status { reply } => {
                            let status = engine.table_state().and_then(|table| {
                                Ok(WriterStatus {
                                    generation: engine.generation()?,
                                    table,
                                    repairs: engine.repairs(),
                                })
                            });
                            let _ = reply.send(status);
                        }
                    }
                }
            })
            .expect("spawning the writer thread");
        Self { requests }
    }

    /// Submits mutations, validated by the caller against the published state, and waits for
    /// the outcome.
    pub async fn submit(
        &self,
        mutations: Vec<Mutation>,
        validated: Validated,
        who: Provenance,
    ) -> Result<Vec<Change>, Error> {
        let (reply, outcome) = oneshot::channel();
        self.send(Request::Submit {
            mutations,
            validated: Box::new(validated),
            who,
            reply,
        })?;
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

    /// Hands the engine the log reader's switch (before any call can reach the writer, so
    /// every later commit drives it); fire and forget.
    pub fn set_log_switch(&self, switch: Box<dyn LogSwitch>) {
        let _ = self.send(Request::LogSwitch(switch));
    }

    /// Reports the kernel side for `Status`.
    pub async fn status(&self) -> Result<WriterStatus, Error> {
        let (reply, outcome) = oneshot::channel();
        self.send(Request::Status { reply })?;
        outcome.await.map_err(|_| gone())?
    }

    fn send(&self, request: Request) -> Result<(), Error> {
        self.requests.send(request).map_err(|_| gone())
    }
}

fn gone() -> Error {
    Error::new(
        ErrorKind::Unexpected,
        "the fw6d writer thread has stopped; restart fw6d",
    )
}
