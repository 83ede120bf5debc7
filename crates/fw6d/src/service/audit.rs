//! `ReadAudit`: the audit trail over D-Bus (issue 14 item 6). Its rows name administrators'
//! uids, pids, programs and bus names, so unlike every other read it is restricted: root, or a
//! caller polkit grants `org.fw6.firewall1.audit` (default `auth_admin`). The policy switch
//! `allow_configuration` does not apply: reading changes nothing.

use std::time::UNIX_EPOCH;

use fw6_model::wire::WireAudit;
use zbus::message::Header;

use super::{FwResult, Shared, auth};
use crate::store::AuditRecord;

/// Rows returned by one call at most (a `limit` of 0 means this many).
pub const MAX_ROWS: u32 = 10_000;

/// The newest `limit` rows at or after `since` (seconds since the Unix epoch), oldest first,
/// for a caller that may read them.
pub async fn read(
    conn: &zbus::Connection,
    hdr: &Header<'_>,
    shared: &Shared,
    since: u64,
    limit: u32,
) -> FwResult<Vec<WireAudit>> {
    // Admitted like a change (bounded per caller, credentials with a timeout): the check may
    // wait for a person at an authentication dialog.
    let admitted = shared.admit(conn, hdr, 1).await?;
    let caller = shared.caller(conn, hdr, &admitted.who);
    auth::authorize_read(&caller, auth::Action::Audit, "ReadAudit").await?;
    let limit = if limit == 0 {
        MAX_ROWS
    } else {
        limit.min(MAX_ROWS)
    };
    let since = i64::try_from(since.saturating_mul(1000)).unwrap_or(i64::MAX);
    let mut rows = shared.writer().audit(since, limit as usize).await?;
    rows.reverse();
    Ok(rows.into_iter().map(wire).collect())
}

fn wire(r: AuditRecord) -> WireAudit {
    let millis = r
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    (
        millis,
        r.who.uid,
        r.who.pid.unwrap_or(0),
        r.who.executable.unwrap_or_default(),
        r.who.sender.unwrap_or_default(),
        r.member,
        r.what,
        r.connection.unwrap_or_default(),
        r.key.map_or(0, |k| k.port.get()),
        r.key.map_or(0, |k| k.protocol.number().into()),
        r.old.into_iter().collect(),
        r.new.into_iter().collect(),
    )
}
