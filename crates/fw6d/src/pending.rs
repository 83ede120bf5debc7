//! Confirm-or-revert on the writer thread (docs/design.md §5 "Confirm-or-revert"): at most one
//! pending confirmable change, stored with the change itself and published for the service
//! (`Status`, the authorization of `Confirm`) and for the timer that reverts it
//! (service/deadline.rs).
//!
//! The way back is a stored inverse batch: the change's effective changes are kept, and their
//! undo (`fw6_model::pending::undo`) is applied through the engine like any call, in one
//! transaction that also removes the pending row. So a revert is atomic and durable as every
//! change is, shows up in the audit trail (as member `Revert`) and survives a crash at any point:
//! before its commit the change and its way back are both stored, after it neither is.
//!
//! While a change is pending every other change from the bus is refused: the revert restores
//! exactly the configuration before the change, which a change made in the window would make
//! untrue (it would be undone with it, or left half in place). Changes the daemon makes itself
//! (a new connection's default) go on; the undo is made of idempotent ICF members, so it copes.

use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fw6_model::pending::{ConfirmWithin, Token, undo};
use fw6_model::{Change, Error, ErrorKind, Mutation};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::engine::{Engine, PendingStep, Validated};
use crate::store::{PendingRecord, Provenance};

/// The member name a revert's changes are audited under.
pub const REVERT_MEMBER: &str = "Revert";

/// Why a pending change was taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its deadline passed with no `Confirm`.
    Deadline,
    /// A caller asked (`Revert`).
    Asked,
}

impl Why {
    /// The word the `Reverted` signal carries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Deadline => "deadline",
            Self::Asked => "asked",
        }
    }
}

/// The pending change, if any, as the writer holds it and as it is published.
pub struct Pending {
    current: Option<Arc<PendingRecord>>,
    /// A revert of `current` failed (it stays pending and is tried again): `Confirm` is then
    /// accepted past the deadline too, the one way to end a change that cannot be undone.
    revert_failed: bool,
    published: watch::Sender<Option<Arc<PendingRecord>>>,
}

impl Pending {
    /// Takes over the pending change `engine`'s store holds. One whose deadline has passed
    /// (fw6d was down, or dead, when it came) is reverted here, before fw6d serves anything; one
    /// that could not be reverted stays pending and the timer tries again once fw6d runs.
    pub fn start(engine: &mut Engine) -> Self {
        let stored = match engine.stored_pending() {
            Ok(stored) => stored,
            Err(e) => {
                error!(%e, "THE PENDING CHANGE CANNOT BE READ: it is kept as applied, and fw6d \
                            cannot revert it; check the configuration (fw6 show)");
                if let Err(e) = engine.clear_pending() {
                    error!(%e, "cannot remove the unreadable pending change");
                }
                None
            }
        };
        let current = stored.map(Arc::new);
        let (published, _) = watch::channel(current.clone());
        let mut pending = Self {
            current,
            published,
            revert_failed: false,
        };
        if let Some(record) = pending.current.clone() {
            if SystemTime::now() >= record.deadline {
                info!(token = %record.token, "the pending change's deadline passed while fw6d \
                                               was not running: reverting it before serving");
                if let Err(e) =
                    pending.revert(engine, &record.token, &Provenance::daemon(), Why::Deadline)
                {
                    error!(%e, token = %record.token, "could not revert the pending change at start; retrying once serving");
                }
            } else {
                info!(token = %record.token, left_s = remaining(&record).as_secs(),
                      "a change is pending confirmation: its revert is armed again");
            }
        }
        pending
    }

    /// Every published pending change (`None`: none pending).
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<PendingRecord>>> {
        self.published.subscribe()
    }

    /// Refuses a change from the bus while one is pending (`Fail`, saying how to end it).
    pub fn refuse_while_pending(&self) -> Result<(), Error> {
        match &self.current {
            None => Ok(()),
            Some(record) => Err(busy(record)),
        }
    }

    /// Applies `validated` (from `mutations`) and makes it pending for `within`: stored with
    /// the change in one transaction. A batch that changes nothing is not made pending (no
    /// token). Refused while another change is pending.
    pub fn submit(
        &mut self,
        engine: &mut Engine,
        mutations: &[Mutation],
        validated: Validated,
        who: &Provenance,
        within: ConfirmWithin,
    ) -> Result<(Vec<Change>, Option<Arc<PendingRecord>>), Error> {
        self.refuse_while_pending()?;
        let validated = engine.revalidated(mutations, validated)?;
        if validated.changes().is_empty() {
            return Ok((Vec::new(), None));
        }
        let record = Arc::new(PendingRecord {
            token: new_token()?,
            deadline: SystemTime::now() + Duration::from_secs(u64::from(within.seconds())),
            uid: who.uid,
            changes: validated.changes().to_vec(),
        });
        let changes = engine.commit_with_pending(validated, who, PendingStep::Set(&record))?;
        info!(token = %record.token, uid = who.uid, changes = changes.len(),
              within_s = within.seconds(), "a change is pending confirmation");
        self.set(Some(Arc::clone(&record)));
        Ok((changes, Some(record)))
    }

    /// Keeps the pending change named `token`: its revert is dropped. After its deadline (by
    /// the wall clock) it is refused as expired.
    pub fn confirm(
        &mut self,
        engine: &mut Engine,
        token: &Token,
        who: &Provenance,
    ) -> Result<(), Error> {
        let record = self.named(token)?;
        // Late is late, even if the timer has not run yet: the revert is on its way.
        if SystemTime::now() >= record.deadline && !self.revert_failed {
            return Err(Error::invalid_arg(format!(
                "the pending change {token} expired: its deadline passed, and fw6d is reverting it; make the change again if it is still wanted"
            )));
        }
        engine.clear_pending()?;
        info!(%token, uid = who.uid, "the pending change was confirmed: it is kept");
        self.set(None);
        Ok(())
    }

    /// Takes back the pending change named `token` by applying its inverse batch, audited as
    /// `Revert` by `who`, in the transaction that removes it. On failure it stays pending (the
    /// timer tries again).
    pub fn revert(
        &mut self,
        engine: &mut Engine,
        token: &Token,
        who: &Provenance,
        why: Why,
    ) -> Result<Vec<Change>, Error> {
        let record = self.named(token)?;
        let reverted = Self::undo(engine, &record, who);
        self.revert_failed = reverted.is_err();
        let changes = reverted?;
        warn!(%token, why = why.as_str(), uid = who.uid, changes = changes.len(),
              "the pending change was reverted: the configuration before it is back");
        self.set(None);
        Ok(changes)
    }

    /// Applies `record`'s inverse batch and removes it, in one transaction.
    fn undo(
        engine: &mut Engine,
        record: &PendingRecord,
        who: &Provenance,
    ) -> Result<Vec<Change>, Error> {
        let inverse = undo(&record.changes, crate::service::options::now_millis());
        let mut validated = engine
            .validate(&inverse)
            .map_err(|e| e.context("reverting the pending change"))?;
        validated.relabel(REVERT_MEMBER);
        let changes = if validated.changes().is_empty() {
            // Nothing left to undo (the daemon's own changes got there first).
            engine.clear_pending()?;
            Vec::new()
        } else {
            engine.commit_with_pending(validated, who, PendingStep::Clear)?
        };
        Ok(changes)
    }

    /// The pending change if `token` names it; InvalidArg otherwise.
    fn named(&self, token: &Token) -> Result<Arc<PendingRecord>, Error> {
        self.current
            .as_ref()
            .filter(|r| r.token == *token)
            .cloned()
            .ok_or_else(|| {
                Error::invalid_arg(format!(
                    "no pending change has token {token}: it was confirmed or reverted already, \
                     or never existed (`fw6 status` shows the pending change); nothing was \
                     changed"
                ))
            })
    }

    fn set(&mut self, current: Option<Arc<PendingRecord>>) {
        self.revert_failed = false;
        self.current.clone_from(&current);
        self.published.send_replace(current);
    }
}

/// Time left until `record`'s deadline by the wall clock (zero once passed).
///
/// At most the longest window: a wall clock stepped back (or behind at boot) must not put the
/// revert off by the step.
pub fn remaining(record: &PendingRecord) -> Duration {
    record
        .deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .min(Duration::from_secs(u64::from(
            fw6_model::pending::CONFIRM_WITHIN_MAX,
        )))
}

/// The refusal of a change while `record` is pending (`Fail`, saying how to end it).
pub fn busy(record: &PendingRecord) -> Error {
    Error::new(
        ErrorKind::Fail,
        format!(
            "a confirmable change (token {}, by uid {}) is pending for another {} s: no other \
             change is made until it is confirmed (`fw6 confirm {0}`) or reverted (`fw6 revert \
             {0}`, or its deadline); nothing was changed; retry then",
            record.token,
            record.uid,
            remaining(record).as_secs().max(1),
        ),
    )
}

/// 128 random bits from the kernel.
fn new_token() -> Result<Token, Error> {
    let mut bytes = [0_u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Error::fail(format!(
                "cannot read /dev/urandom for a token: {e}; nothing was changed"
            ))
        })?;
    Ok(Token::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use fw6_model::pending::{CONFIRM_WITHIN_MAX, Token};

    use super::remaining;
    use crate::store::PendingRecord;

    /// Review of issue 19, finding 13: a deadline far ahead by the wall clock (the clock was
    /// stepped back, or is behind at boot) waits no longer than the longest window.
    #[test]
    fn the_time_left_is_never_more_than_the_longest_window() {
        let record = |ahead: Duration| PendingRecord {
            token: Token::from_bytes([1; 16]),
            deadline: SystemTime::now() + ahead,
            uid: 0,
            changes: Vec::new(),
        };
        let longest = Duration::from_secs(u64::from(CONFIRM_WITHIN_MAX));
        assert_eq!(remaining(&record(longest * 24)), longest);
        assert!(remaining(&record(Duration::from_secs(60))) <= Duration::from_secs(60));
    }
}
