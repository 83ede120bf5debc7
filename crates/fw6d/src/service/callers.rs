//! Who is calling, as the bus daemon vouches for it, cached by unique bus name.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fw6_model::{Error, ErrorKind};
use zbus::fdo::DBusProxy;
use zbus::message::Header;
use zbus::names::BusName;

use crate::store::Provenance;

/// Callers' credentials by unique bus name. A unique name is never reused on a bus and its
/// credentials are fixed when the connection is made, so a cached entry cannot go stale; the
/// cache saves a bus round trip on every mutator after a client's first. Bounded: cleared when
/// full.
#[derive(Debug, Default)]
pub struct Callers(Mutex<HashMap<String, Provenance>>);

impl Callers {
    const LIMIT: usize = 4096;

    /// The caller with unique name `sender`, if already known.
    pub fn cached(&self, sender: &str) -> Option<Provenance> {
        self.lock().get(sender).cloned()
    }

    /// Asks the bus daemon who the caller of `hdr` is (at most `timeout`) and remembers it; the
    /// service looks in [`Callers::cached`] first.
    pub async fn get(
        &self,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        timeout: Duration,
    ) -> Result<Provenance, Error> {
        let sender = hdr.sender().map(ToString::to_string).unwrap_or_default();
        let who = tokio::time::timeout(timeout, caller(conn, hdr))
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Fail,
                    format!(
                        "the bus daemon did not say who the caller is within {} s; nothing was \
                         changed; retry",
                        timeout.as_secs()
                    ),
                )
            })??;
        let mut cache = self.lock();
        if cache.len() >= Self::LIMIT {
            cache.clear();
        }
        cache.insert(sender, who.clone());
        Ok(who)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Provenance>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

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

fn bus_fail(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::AccessDenied,
        format!("cannot identify the caller: {e}"),
    )
}
