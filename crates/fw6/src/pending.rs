//! Confirm-or-revert (docs/dbus-api.md, "Confirm-or-revert"): a change applied at once that
//! fw6d takes back unless it is confirmed in time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::wire::WirePending;

/// A change waiting for `Confirm`: [`crate::Manager::apply_confirmable`] returns it and
/// [`crate::Status::pending`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingChange {
    /// The token `Confirm` and `Revert` take.
    pub token: String,
    /// When fw6d reverts it unless confirmed.
    #[serde(serialize_with = "rfc3339")]
    pub deadline: SystemTime,
    /// Who made it (`None` when the reply does not say: `ApplyConfirmable`'s own caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The effective changes it made (and a revert undoes).
    pub changes: u32,
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_seconds(*time))
}

/// A time in ms since the Unix epoch, as the wire carries it.
pub(crate) fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl PendingChange {
    /// From `Status`'s `pending`.
    pub(crate) fn from_wire(raw: WirePending) -> Self {
        let (token, deadline, uid, changes) = raw;
        Self {
            token,
            deadline: from_millis(deadline),
            uid: Some(uid),
            changes,
        }
    }

    /// Time left until the deadline (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}
