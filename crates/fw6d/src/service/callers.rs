//! Who is calling, as the bus daemon vouches for it, cached by unique bus name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fw6_model::{Error, ErrorKind};
use tokio::sync::OnceCell;
use zbus::fdo::DBusProxy;
use zbus::message::Header;
use zbus::names::BusName;

use crate::store::Provenance;

/// Callers' credentials by unique bus name. A unique name is never reused on a bus and its
/// credentials are fixed when the connection is made, so a cached entry cannot go stale; the
/// cache saves a bus round trip on every mutator after a client's first. The calls of one
/// caller that arrive before its credentials do share one question to the bus daemon. An entry
/// is forgotten when its name leaves the bus ([`Callers::forget`]), so a flood of short-lived
/// connections leaves nothing behind; bounded as well (cleared when full), for a bus whose
/// departures fw6d cannot follow.
#[derive(Debug, Default)]
pub struct Callers {
    known: Mutex<HashMap<String, Arc<OnceCell<Provenance>>>>,
    /// Calls past their caller's in-flight bound waiting to learn whether it is root.
    waiting: AtomicUsize,
}

/// A place among the calls waiting past their bound; leaving it (drop) frees it.
pub struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Callers {
    const LIMIT: usize = 4096;
    /// Calls, of all callers together, that may wait past their in-flight bound for the bus to
    /// say who their caller is (a root client's first burst: root is not bounded, but fw6d
    /// cannot know it is root before the bus answers).
    const WAITING: usize = 256;

    /// The caller with unique name `sender`, if already known.
    pub fn cached(&self, sender: &str) -> Option<Provenance> {
        self.lock().get(sender).and_then(|cell| cell.get().cloned())
    }

    /// Forgets the caller with unique name `sender`, which has left the bus.
    pub fn forget(&self, sender: &str) {
        self.lock().remove(sender);
    }

    /// A place among the calls waiting past their bound, or `None` when all are taken.
    pub fn wait_past_bound(&self) -> Option<Waiting<'_>> {
        let before = self.waiting.fetch_add(1, Ordering::Relaxed);
        let place = Waiting(&self.waiting);
        (before < Self::WAITING).then_some(place)
    }

    /// Asks the bus daemon who the caller of `hdr` is (at most `timeout`) and remembers it; the
    /// calls of one caller waiting at once share one question. The service looks in
    /// [`Callers::cached`] first.
    pub async fn get(
        &self,
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        timeout: Duration,
    ) -> Result<Provenance, Error> {
        let sender = hdr.sender().map(ToString::to_string).unwrap_or_default();
        let cell = {
            let mut known = self.lock();
            if known.len() >= Self::LIMIT {
                known.clear();
            }
            Arc::clone(known.entry(sender.clone()).or_default())
        };
        let who = cell
            .get_or_try_init(|| async {
                tokio::time::timeout(timeout, caller(conn, hdr))
                    .await
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::Fail,
                            format!(
                                "the bus daemon did not say who the caller is within {} s; \
                                 nothing was changed; retry",
                                timeout.as_secs()
                            ),
                        )
                    })?
            })
            .await;
        match who {
            Ok(who) => Ok(who.clone()),
            Err(e) => {
                // Not kept: a call that ran after its caller had left (and been forgotten)
                // would otherwise leave an empty entry behind.
                let mut known = self.lock();
                if known
                    .get(&sender)
                    .is_some_and(|c| Arc::ptr_eq(c, &cell) && !c.initialized())
                {
                    known.remove(&sender);
                }
                Err(e)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<OnceCell<Provenance>>>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn known(callers: &Callers, sender: &str, uid: u32) {
        let who = Provenance {
            uid,
            pid: Some(42),
            executable: None,
            sender: Some(sender.to_owned()),
        };
        callers
            .lock()
            .insert(sender.to_owned(), Arc::new(OnceCell::new_with(Some(who))));
    }

    #[test]
    fn a_caller_that_left_the_bus_is_forgotten_and_no_other() {
        let callers = Callers::default();
        known(&callers, ":1.5", 65534);
        known(&callers, ":1.6", 0);
        callers.forget(":1.5");
        callers.forget(":1.99");
        assert!(callers.cached(":1.5").is_none());
        assert_eq!(callers.cached(":1.6").map(|w| w.uid), Some(0));
        assert_eq!(callers.lock().len(), 1);
    }
}
