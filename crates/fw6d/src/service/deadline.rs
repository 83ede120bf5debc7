//! The timer that reverts a pending change at its deadline (crate::pending).
//!
//! The deadline is wall-clock time, so that it means the same after a restart. Within one run
//! the timer also counts the same span on the monotonic clock from when it first saw the
//! change, and reverts at whichever comes first: a clock set back cannot keep a change longer
//! than it was given, and a clock set forward reverts it early (within a second of the jump),
//! which errs on the side of the configuration that was known to work.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::error;

use super::Shared;
use super::confirm::revert_at_deadline;
use crate::pending::remaining;

/// How often the wall clock is read again while a change is pending (a jump is noticed within
/// this).
const TICK: Duration = Duration::from_secs(1);

/// How long to wait before trying again a revert that failed (the store or the kernel refused).
const RETRY: Duration = Duration::from_secs(5);

/// Runs until the writer stops: reverts each pending change at its deadline.
pub async fn run(conn: zbus::Connection, shared: Arc<Shared>) {
    let mut pending = shared.writer().pending();
    'changes: loop {
        let Some(record) = pending.borrow_and_update().clone() else {
            if pending.changed().await.is_err() {
                return;
            }
            continue;
        };
        let monotonic = Instant::now() + remaining(&record);
        loop {
            let left = remaining(&record).min(monotonic.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(left.min(TICK)) => {}
                changed = pending.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue 'changes;
                }
            }
        }
        if let Err(e) = revert_at_deadline(&conn, &shared, &record.token).await {
            // Confirmed or reverted by a caller just before: nothing left to do. Still pending:
            // the store, the kernel or the inverse batch's validation refused; try again later
            // (`Confirm` still ends it).
            let still = pending
                .borrow()
                .as_ref()
                .is_some_and(|r| r.token == record.token);
            if still {
                error!(%e, token = %record.token, "COULD NOT REVERT THE PENDING CHANGE at its deadline; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
