//! `ApplyConfirmable`, `Confirm` and `Revert` (docs/dbus-api.md, "Confirm-or-revert"): a batch
//! applied at once and taken back unless confirmed in time; the writer keeps the pending change
//! (crate::pending), the timer in service/deadline.rs reverts it at its deadline.
//!
//! Who may end a pending change: root, or a caller authorized for every item of it, each
//! exactly as `Apply` would authorize it (the same action and details). Such a caller could have
//! made or undone the change itself, so confirming or reverting gives it nothing new, and
//! whoever made the change cannot keep it beyond what its own rights allow.

use std::sync::Arc;
use std::time::Instant;

use fw6_model::pending::{CONFIRM_WITHIN, ConfirmWithin, Token, forward, undo};
use fw6_model::{Change, Error, Mutation, wire};
use tracing::{debug, info, warn};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;

use super::options::WireOptions;
use super::variant::Scalar;
use super::{Admitted, FwResult, ManagerIface, Origin, Shared, auth};
use crate::engine::{Validated, micros};
use crate::pending::Why;
use crate::store::{PendingRecord, Provenance};

/// `ApplyConfirmable`'s reply: (effective changes, token or "" for a batch that changed
/// nothing, deadline in ms since the Unix epoch or 0).
pub type Reply = (u32, String, u64);

/// The options of `ApplyConfirmable`, checked before anything else is done with the call: every
/// key known and of its type. `confirm_within` is required (a plain batch is `Apply`).
pub fn options(options: &WireOptions<'_>) -> Result<ConfirmWithin, Error> {
    let mut within = None;
    for (key, value) in &options.first {
        match *key {
            CONFIRM_WITHIN => match value.value {
                Scalar::Int(seconds) if value.signature == "u" => {
                    within = Some(ConfirmWithin::try_from(
                        u32::try_from(seconds).unwrap_or(u32::MAX),
                    )?);
                }
                _ => {
                    return Err(Error::invalid_arg(format!(
                        "option {CONFIRM_WITHIN} must be a u (seconds), not a {}; nothing was \
                         changed",
                        value.signature
                    )));
                }
            },
            unknown => {
                let shown: String = unknown.chars().take(64).collect();
                return Err(Error::invalid_arg(format!(
                    "unknown option {shown:?}: ApplyConfirmable takes {CONFIRM_WITHIN} (u \
                     seconds); nothing was changed"
                )));
            }
        }
    }
    if options.total > 1 {
        return Err(Error::invalid_arg(format!(
            "{} options: ApplyConfirmable takes one, {CONFIRM_WITHIN} (u seconds); nothing was \
             changed",
            options.total
        )));
    }
    within.ok_or_else(|| {
        Error::invalid_arg(format!(
            "option {CONFIRM_WITHIN} (u seconds, 1-{}) is required: a change that needs no \
             confirmation is Apply; nothing was changed",
            fw6_model::pending::CONFIRM_WITHIN_MAX
        ))
    })
}

/// Milliseconds since the Unix epoch, as the wire carries times.
fn millis(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The pending change as `Status` shows it.
pub fn status(record: &PendingRecord) -> wire::WirePending {
    (
        record.token.to_string(),
        millis(record.deadline),
        record.uid,
        u32::try_from(record.changes.len()).unwrap_or(u32::MAX),
    )
}

impl Shared {
    /// Refuses a change from the bus while a confirmable change is pending, before polkit is
    /// asked (the writer checks again, race-free).
    pub(crate) fn refuse_while_pending(&self) -> Result<(), Error> {
        let pending = self.writer.pending();
        let current = pending.borrow();
        current
            .as_ref()
            .map_or(Ok(()), |record| Err(crate::pending::busy(record)))
    }

    /// `ApplyConfirmable` for an admitted call whose batch is converted and its first item
    /// settled (`auth::probe`): may the caller make a change wait for confirmation at all
    /// (`Action::Confirmable`), then authorize item by item, validate, apply and make
    /// pending in one commit, reply, signal.
    pub(crate) async fn apply_confirmable(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        admitted: &Admitted<'_>,
        mut mutations: Vec<Mutation>,
        settled: auth::Probed,
        within: ConfirmWithin,
    ) -> FwResult<Reply> {
        let started = Instant::now();
        let who = &admitted.who;
        self.refuse_while_pending()?;
        let caller = self.caller(conn, hdr, who);
        auth::authorize_read(&caller, auth::Action::Confirmable, "ApplyConfirmable").await?;
        let state = self.state();
        let admission = auth::authorize(&caller, &mutations, &state, settled).await?;
        super::leases_start_now(&mut mutations, started.elapsed());
        let validated = super::admit_as(Validated::new(self.state(), &mutations)?, admission);
        let (changes, record) = self
            .writer
            .submit_confirmable(mutations, validated, who.clone(), within)
            .await?;
        if !changes.is_empty() {
            info!(uid = who.uid, sender = ?who.sender, changes = changes.len(), "changed, pending confirmation");
            self.after_change(conn, &changes, Origin::Method).await;
        }
        debug!(
            changes = changes.len(),
            total_us = micros(started.elapsed()),
            "served a confirmable change"
        );
        let count = u32::try_from(changes.len()).unwrap_or(u32::MAX);
        Ok(match record {
            Some(r) => (count, r.token.to_string(), millis(r.deadline)),
            None => (count, String::new(), 0),
        })
    }

    /// `Confirm` or `Revert`: the token must name the pending change, and the caller must be
    /// authorized for every item of it (`Confirm`) or of its inverse (`Revert`).
    pub(crate) async fn end_pending(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        token: &str,
        keep: bool,
    ) -> FwResult<()> {
        let admitted = self.admit(conn, hdr, 1).await?;
        let token = Token::try_from(token)?;
        let record = self
            .writer
            .pending()
            .borrow()
            .clone()
            .filter(|r| r.token == token)
            .ok_or_else(|| {
                Error::invalid_arg(format!(
                    "no pending change has token {token}: it was confirmed or reverted already, \
                     or never existed (`fw6 status` shows the pending change); nothing was \
                     changed"
                ))
            })?;
        // Confirm is authorized as the change's own items, against the state before it; Revert
        // as what it does, the inverse items, against the state now. Neither is a no-op where it
        // is checked, so a caller polkit would challenge is asked, not waved through, and a rule
        // scoped by member (only ClosePort, say) cannot revert a close into an open.
        let (items, state) = if keep {
            let mut before = (*self.state()).clone();
            let _ = before.apply_batch(&undo(&record.changes, 0));
            (forward(&record.changes), before)
        } else {
            (
                undo(&record.changes, super::options::now_millis()),
                (*self.state()).clone(),
            )
        };
        // A revert or confirm admitted as a no-op changes nothing at its authorization; the
        // pending change it acts on is fw6d's own, so it is not re-checked at commit.
        let _ = auth::authorize(
            &self.caller(conn, hdr, &admitted.who),
            &items,
            &state,
            auth::Probed::default(),
        )
        .await?;
        if keep {
            self.writer
                .confirm(token.clone(), admitted.who.clone())
                .await?;
            emit_confirmed(conn, &token).await;
        } else {
            let changes = self
                .writer
                .revert(token.clone(), admitted.who.clone(), Why::Asked)
                .await?;
            self.announce_revert(conn, &token, Why::Asked, &changes)
                .await;
        }
        Ok(())
    }

    /// The signals of a revert: one `Changed` per change it made, and `Reverted`.
    pub(crate) async fn announce_revert(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        token: &Token,
        why: Why,
        changes: &[Change],
    ) {
        if !changes.is_empty() {
            self.after_change(conn, changes, Origin::Method).await;
        }
        let Ok(emitter) = SignalEmitter::new(conn, wire::MANAGER_PATH) else {
            return;
        };
        let count = u32::try_from(changes.len()).unwrap_or(u32::MAX);
        if let Err(e) = ManagerIface::reverted(&emitter, token.as_str(), why.as_str(), count).await
        {
            warn!(%e, "could not emit Reverted");
        }
    }
}

async fn emit_confirmed(conn: &zbus::Connection, token: &Token) {
    let Ok(emitter) = SignalEmitter::new(conn, wire::MANAGER_PATH) else {
        return;
    };
    if let Err(e) = ManagerIface::confirmed(&emitter, token.as_str()).await {
        warn!(%e, "could not emit Confirmed");
    }
}

/// The daemon's own revert at the deadline, for the timer.
pub(crate) async fn revert_at_deadline(
    conn: &zbus::Connection,
    shared: &Arc<Shared>,
    token: &Token,
) -> Result<(), Error> {
    let changes = shared
        .writer
        .revert(token.clone(), Provenance::daemon(), Why::Deadline)
        .await?;
    shared
        .announce_revert(conn, token, Why::Deadline, &changes)
        .await;
    Ok(())
}
