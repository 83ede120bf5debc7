//! Access control and confirmation (DESIGN §5, spec §6): policy switch, then uid 0 passes, then
//! polkit with the caller's system-bus-name subject (never a pid: that is racy). polkit's
//! authentication agent is the confirmation UI; a dismissed dialog is `Aborted`.

use std::collections::HashMap;
use std::sync::Mutex;

use fw6_model::{Error, ErrorKind, Mutation};
use zbus::fdo::DBusProxy;
use zbus::message::Header;
use zbus::names::BusName;
use zbus_polkit::policykit1::{AuthorityProxy, CheckAuthorizationFlags, Subject};

use crate::store::Provenance;

/// The polkit action guarding `mutation`.
pub fn action(mutation: &Mutation) -> &'static str {
    match mutation {
        Mutation::EnableFirewall { .. } | Mutation::DisableFirewall { .. } => {
            "org.fw6.firewall1.firewall"
        }
        Mutation::SetLogfilePath { .. }
        | Mutation::SetLogfileMaximumSize { .. }
        | Mutation::SetLogDroppedPackets { .. }
        | Mutation::SetLogConnections { .. } => "org.fw6.firewall1.logging",
        _ => "org.fw6.firewall1.ports",
    }
}

/// Callers' credentials by unique bus name. A unique name is never reused on a bus and its
/// credentials are fixed when the connection is made, so a cached entry cannot go stale; the
/// cache saves a bus round trip on every mutator after a client's first. Bounded: cleared when
/// full.
#[derive(Debug, Default)]
pub struct Callers(Mutex<HashMap<String, Provenance>>);

impl Callers {
    const LIMIT: usize = 4096;

    /// The caller of `hdr`.
    pub async fn get(
        &self,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
    ) -> Result<Provenance, Error> {
        let sender = hdr.sender().map(ToString::to_string).unwrap_or_default();
        if let Some(known) = self.lock().get(&sender) {
            return Ok(known.clone());
        }
        let who = caller(conn, hdr).await?;
        let mut cache = self.lock();
        if cache.len() >= Self::LIMIT {
            cache.clear();
        }
        cache.insert(sender, who.clone());
        Ok(who)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Provenance>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Who is calling, as the bus daemon vouches for it.
async fn caller(conn: &zbus::Connection, hdr: &Header<'_>) -> Result<Provenance, Error> {
    let sender = hdr
        .sender()
        .ok_or_else(|| Error::new(ErrorKind::AccessDenied, "the call has no sender"))?;
    let dbus = DBusProxy::new(conn).await.map_err(bus_fail)?;
    let name = BusName::from(sender.clone());
    // One round trip to the bus daemon for both (it sits on the path of every mutator).
    let credentials = dbus
        .get_connection_credentials(name)
        .await
        .map_err(bus_fail)?;
    let uid = credentials.unix_user_id().ok_or_else(|| {
        Error::new(
            ErrorKind::AccessDenied,
            "the bus daemon did not say which user the caller is",
        )
    })?;
    let pid = credentials.process_id();
    let executable = pid.and_then(|pid| {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    });
    Ok(Provenance {
        uid,
        pid,
        executable,
        sender: Some(sender.to_string()),
    })
}

/// Authorizes `mutations` for the caller of `hdr`: one polkit check per distinct action, with
/// the first mutation of that action as details (member, connection, port, protocol, name).
pub async fn authorize(
    conn: &zbus::Connection,
    hdr: &Header<'_>,
    who: &Provenance,
    mutations: &[Mutation],
    allow_configuration: bool,
) -> Result<(), Error> {
    if !allow_configuration {
        return Err(Error::new(
            ErrorKind::AccessDenied,
            "firewall configuration is disabled by policy (allow_configuration = false in \
             fw6d.toml); ask the administrator to enable it",
        ));
    }
    if who.uid == 0 {
        return Ok(());
    }
    let subject = Subject::new_for_message_header(hdr).map_err(|e| {
        Error::new(
            ErrorKind::AccessDenied,
            format!("cannot identify the caller: {e}"),
        )
    })?;
    let authority = AuthorityProxy::new(conn)
        .await
        .map_err(polkit_unreachable)?;
    let mut checked: Vec<&str> = Vec::new();
    for mutation in mutations {
        let action = action(mutation);
        if checked.contains(&action) {
            continue;
        }
        checked.push(action);
        let details = details(mutation, mutations.len());
        let details: HashMap<&str, &str> = details.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let result = authority
            .check_authorization(
                &subject,
                action,
                &details,
                CheckAuthorizationFlags::ALLOW_USER_INTERACTION,
                "",
            )
            .await
            .map_err(|e| {
                if e.to_string().contains("Cancelled") {
                    Error::new(
                        ErrorKind::Aborted,
                        format!("authentication was cancelled: {e}"),
                    )
                } else {
                    polkit_unreachable(e)
                }
            })?;
        tracing::debug!(action, ?result, "polkit answered");
        if result.is_authorized {
            continue;
        }
        let refused = |why: &str| {
            Error::new(
                ErrorKind::AccessDenied,
                format!(
                    "uid {} is not authorized for {action} ({}){why}; run as root, or ask the \
                     administrator for a polkit rule granting it",
                    who.uid,
                    mutation.member()
                ),
            )
        };
        if result.is_challenge {
            // Authentication would do, but no agent could ask (no desktop session, a script).
            return Err(refused(
                ": authentication is required and no authentication agent is running",
            ));
        }
        let dismissed = || {
            Error::new(
                ErrorKind::Aborted,
                "the authentication dialog was dismissed or failed; nothing was changed",
            )
        };
        if result.details.contains_key("polkit.dismissed") {
            return Err(dismissed());
        }
        // Not authorized and no challenge: either policy says no, or an agent asked and the
        // user cancelled or failed (polkit 122 does not always say which). Asking again without
        // interaction tells them apart: a challenge now means authentication was possible, so
        // the dialog was what failed.
        let again = authority
            .check_authorization(
                &subject,
                action,
                &details,
                CheckAuthorizationFlags::empty(),
                "",
            )
            .await
            .map_err(polkit_unreachable)?;
        return Err(if again.is_challenge {
            dismissed()
        } else {
            refused("")
        });
    }
    Ok(())
}

fn details(mutation: &Mutation, batch: usize) -> Vec<(&'static str, String)> {
    let mut out = vec![("member", mutation.member().to_owned())];
    if let Some(c) = mutation.connection() {
        out.push(("connection", c.to_string()));
    }
    if let Some(k) = mutation.key() {
        out.push(("port", k.port.to_string()));
        out.push(("protocol", k.protocol.to_string()));
    }
    match mutation {
        Mutation::OpenGlobalPort { name, .. }
        | Mutation::OpenPort { name, .. }
        | Mutation::IgnoreGlobalPort { name, .. } => out.push(("name", name.to_string())),
        _ => {}
    }
    if batch > 1 {
        out.push(("batch", batch.to_string()));
    }
    out
}

fn bus_fail(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::AccessDenied,
        format!("cannot identify the caller: {e}"),
    )
}

fn polkit_unreachable(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::AccessDenied,
        format!("cannot ask polkit to authorize the change: {e}; run as root or start polkitd"),
    )
}
