//! `ReadAudit`: the audit trail over D-Bus (issue 14 item 6). Its rows name administrators'
//! uids, pids, programs and bus names, so unlike every other read it is restricted: root, or a
//! caller polkit grants `org.fw6.firewall1.audit` (default `auth_admin`). The policy switch
//! `allow_configuration` does not apply: reading changes nothing.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use fw6_model::{Error, ErrorKind};
use zbus::fdo::DBusProxy;
use zbus::message::Header;
use zbus::names::BusName;
use zbus_polkit::policykit1::{AuthorityProxy, CheckAuthorizationFlags, Subject};

use super::Shared;
use crate::store::AuditRecord;

/// The polkit action guarding `ReadAudit`.
pub const AUDIT_ACTION: &str = "org.fw6.firewall1.audit";
/// Rows returned by one call at most (a `limit` of 0 means this many).
pub const MAX_ROWS: u32 = 10_000;

/// One audit row on the wire: (time in ms since the Unix epoch, uid, pid or 0, executable or
/// "", bus name or "", member, what, connection or "", port or 0, protocol or 0, old, new),
/// `old`/`new` holding zero elements when the value was absent (a pair that did not exist).
pub type WireAudit = (
    u64,
    u32,
    u32,
    String,
    String,
    String,
    String,
    String,
    u16,
    u32,
    Vec<String>,
    Vec<String>,
);

/// The newest `limit` rows at or after `since` (seconds since the Unix epoch), oldest first,
/// for a caller that may read them.
pub async fn read(
    conn: &zbus::Connection,
    hdr: &Header<'_>,
    shared: &Shared,
    since: u64,
    limit: u32,
) -> Result<Vec<WireAudit>, Error> {
    authorize(conn, hdr).await?;
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

/// Root passes; anyone else needs polkit's yes for [`AUDIT_ACTION`] (an authentication agent
/// may ask for the admin password).
async fn authorize(conn: &zbus::Connection, hdr: &Header<'_>) -> Result<(), Error> {
    let denied = |why: String| Error::new(ErrorKind::AccessDenied, why);
    let sender = hdr
        .sender()
        .ok_or_else(|| denied("the call has no sender".into()))?;
    let dbus = DBusProxy::new(conn)
        .await
        .map_err(|e| denied(format!("cannot identify the caller: {e}")))?;
    let uid = dbus
        .get_connection_unix_user(BusName::from(sender.clone()))
        .await
        .map_err(|e| denied(format!("cannot identify the caller: {e}")))?;
    if uid == 0 {
        return Ok(());
    }
    let subject = Subject::new_for_message_header(hdr)
        .map_err(|e| denied(format!("cannot identify the caller: {e}")))?;
    let details = HashMap::from([("member", "ReadAudit")]);
    let unreachable = |e: zbus::Error| {
        denied(format!(
            "cannot ask polkit to authorize reading the audit trail: {e}; run as root or start \
             polkitd"
        ))
    };
    let authority = AuthorityProxy::new(conn).await.map_err(unreachable)?;
    let result = authority
        .check_authorization(
            &subject,
            AUDIT_ACTION,
            &details,
            CheckAuthorizationFlags::ALLOW_USER_INTERACTION,
            "",
        )
        .await
        .map_err(unreachable)?;
    if result.is_authorized {
        return Ok(());
    }
    Err(denied(format!(
        "uid {uid} is not authorized for {AUDIT_ACTION} (ReadAudit): the audit trail names \
         administrators' processes; run as root, or ask the administrator for a polkit rule \
         granting it"
    )))
}
