//! The daemon's side of leases (docs/dbus-api.md, "Leases"): closing what the kernel's element
//! timeouts already closed (state, store, audit, `Changed`), closing the openings bound to a bus
//! name that left the bus, and re-arming the kernel's timeouts when the wall clock jumps. It
//! holds fw6d's one subscription to bus names leaving, and tells the service of each
//! ([`Shared::left_bus`]), which forgets that caller.
//!
//! Enforcement never waits for this task: an expiring opening is an element with a timeout, so
//! the kernel drops it on time whether fw6d runs or not. This task makes the rest of fw6d agree
//! within a second: it wakes at the next expiry, and at least once a second while there are
//! leases, to compare the wall clock with the monotonic one.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use fw6_model::State;
use tracing::{info, warn};
use zbus::fdo::DBusProxy;
use zbus::names::BusName;

use crate::service::{Shared, now_millis};
use crate::writer::LeaseEnd;

/// How often the clocks are compared while leases exist, and the longest sleep then.
const TICK: Duration = Duration::from_secs(1);
/// A difference between wall-clock and monotonic time passed over one tick beyond which the
/// wall clock is taken to have jumped.
const JUMP: Duration = Duration::from_millis(500);
/// The sleep while no lease exists (a new lease wakes the task through the published state).
const IDLE: Duration = Duration::from_secs(3600);

/// How long a call to the bus daemon may take: the lease task must not hang on a bus that
/// stopped answering (expiry goes on without it).
const BUS_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// `call`, or an error once [`BUS_CALL_TIMEOUT`] has passed.
async fn bounded<T, E: Into<zbus::Error>>(
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, zbus::Error> {
    match tokio::time::timeout(BUS_CALL_TIMEOUT, call).await {
        Ok(answer) => answer.map_err(Into::into),
        Err(_) => Err(zbus::Error::Failure(format!(
            "the bus daemon did not answer within {} s",
            BUS_CALL_TIMEOUT.as_secs()
        ))),
    }
}

/// Follows leases until the bus connection closes. Bound openings whose owner is not on this
/// bus any more (it left while fw6d was down, or the bus restarted, or it left before its
/// opening was committed) are closed; a close the writer refuses is retried, with a back-off.
pub async fn watch(conn: zbus::Connection, shared: Arc<Shared>) {
    let bus = conn.server_guid().to_string();
    // Without the bus daemon's proxy, bound openings stay until closed (said loudly); expiry
    // goes on regardless.
    let dbus = bounded(DBusProxy::new(&conn))
        .await
        .inspect_err(|e| warn!(%e, "cannot follow bus names: bound openings stay until closed"))
        .ok();
    // Subscribed before the owners are checked, so a name that leaves in between is seen.
    let mut departures = match &dbus {
        Some(proxy) => bounded(proxy.receive_name_owner_changed_with_args(&[(2, "")]))
            .await
            .inspect_err(|e| {
                warn!(%e, "cannot follow bus names: bound openings stay until closed");
            })
            .ok(),
        None => None,
    };
    let mut owners = Owners::default();
    // Ends the writer refused (a full disk, say), tried again after a back-off.
    let mut retry: Vec<LeaseEnd> = Vec::new();
    let mut backoff = BackOff::default();
    let mut published = shared.subscribe();
    let mut wall = now_millis();
    let mut mono = Instant::now();
    loop {
        // Owners of openings committed since the last look (at start: all of them) are asked
        // for once: one that left before its opening was committed sent its departure while
        // it owned nothing.
        if let Some(proxy) = &dbus {
            owners.check_new(&shared.state(), &bus, proxy).await;
        }
        let state = shared.state();
        let sleep = match backoff.wait() {
            Some(wait) => wait,
            // An owner found gone is not kept waiting for the next tick.
            None if !owners.departed.is_empty() => Duration::ZERO,
            None => nap(&state, now_millis()),
        };
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            changed = published.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            signal = async {
                match departures.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(signal) = signal else {
                    departures = None;
                    continue;
                };
                let Ok(args) = signal.args() else { continue };
                if args.new_owner().is_none() {
                    shared.left_bus(args.name().as_str());
                    owners.left(&bus, args.name().as_str(), &shared.state());
                }
            }
        }
        let (now, elapsed) = (now_millis(), mono.elapsed());
        let jumped = jumped(wall, now, elapsed);
        let wall_moved = now.abs_diff(wall);
        (wall, mono) = (now, Instant::now());
        if jumped && shared.state().lease_count() > 0 {
            info!(
                wall_ms = wall_moved,
                monotonic_ms = elapsed.as_millis(),
                "the wall clock jumped: re-arming lease timeouts"
            );
            push_once(&mut retry, LeaseEnd::ClockJumped);
        } else if shared.state().next_expiry().is_some_and(|at| at <= now)
            || shared.writer().unannounced_expiries()
        {
            push_once(&mut retry, LeaseEnd::Expired);
        }
        if backoff.waiting() {
            continue;
        }
        let mut refused = false;
        for pending in std::mem::take(&mut retry) {
            if !end(&conn, &shared, pending.clone()).await {
                retry.push(pending);
                refused = true;
            }
        }
        if !owners.release_departed(&conn, &shared).await {
            refused = true;
        }
        if refused {
            backoff.failed();
        } else {
            backoff.succeeded();
        }
    }
}

/// The owners of bound openings as this task knows them: those seen present on the bus, and
/// those that left (or were never there) whose openings are still to be closed.
#[derive(Default)]
struct Owners {
    /// (bus id, unique name) asked for and present then; a later departure is a signal.
    present: HashSet<(String, String)>,
    /// (bus id, unique name) gone, openings not yet closed: tried each tick.
    departed: BTreeSet<(String, String)>,
    /// (bus id, unique name) gone and released: what it still owns expires within a second
    /// (the kernel drops it; see the engine's `release`), so it is not asked for again.
    released: HashSet<(String, String)>,
}

impl Owners {
    /// Asks the bus about each owner of `state` neither known present nor departed; forgets
    /// owners that own nothing any more, so the sets stay as small as the state's owners.
    async fn check_new(&mut self, state: &State, bus: &str, proxy: &DBusProxy<'_>) {
        let current: HashSet<&(String, String)> = state.lease_owners().collect();
        self.present.retain(|owner| current.contains(owner));
        self.departed.retain(|owner| current.contains(owner));
        self.released.retain(|owner| current.contains(owner));
        for owner in current {
            if self.present.contains(owner)
                || self.departed.contains(owner)
                || self.released.contains(owner)
            {
                continue;
            }
            let (owner_bus, name) = owner;
            let here = owner_bus == bus
                && match BusName::try_from(name.as_str()) {
                    // A bus that does not answer is taken to keep the name: its departure
                    // signal still closes the openings.
                    Ok(n) => bounded(proxy.name_has_owner(n)).await.unwrap_or(true),
                    Err(_) => false,
                };
            if here {
                self.present.insert(owner.clone());
            } else {
                info!(
                    bus = owner_bus,
                    name, "the owner of bound openings is not on the bus"
                );
                self.departed.insert(owner.clone());
            }
        }
    }

    /// Closes the openings of the owners that left; false if the writer refused some (they
    /// are tried again after the back-off).
    async fn release_departed(&mut self, conn: &zbus::Connection, shared: &Arc<Shared>) -> bool {
        let mut all = true;
        for owner in self.departed.clone() {
            let gone = LeaseEnd::OwnerGone {
                bus: owner.0.clone(),
                name: owner.1.clone(),
            };
            if end(conn, shared, gone).await {
                self.departed.remove(&owner);
                self.released.insert(owner);
            } else {
                all = false;
            }
        }
        all
    }

    /// `name` left bus `bus`: its openings are to be closed, if it has any (if its opening is
    /// not committed yet, [`Owners::check_new`] finds it gone once it is).
    fn left(&mut self, bus: &str, name: &str, state: &State) {
        let owner = (bus.to_owned(), name.to_owned());
        self.present.remove(&owner);
        if state.owns_openings(bus, name) {
            self.departed.insert(owner);
        }
    }
}

/// The wait after the writer refused to end leases (a full disk, say): [`BACKOFF_MIN`],
/// doubling up to [`BACKOFF_MAX`], so a lasting failure costs a store transaction and a warning
/// every half-minute, not a hundred a second.
#[derive(Default)]
struct BackOff {
    /// The current wait, and when it ends; none after a success.
    until: Option<(Duration, Instant)>,
}

impl BackOff {
    fn failed(&mut self) {
        let wait = self
            .until
            .map_or(BACKOFF_MIN, |(wait, _)| (wait * 2).min(BACKOFF_MAX));
        self.until = Some((wait, Instant::now() + wait));
    }

    fn succeeded(&mut self) {
        self.until = None;
    }

    /// Whether a retry must still wait.
    fn waiting(&self) -> bool {
        self.until.is_some_and(|(_, at)| Instant::now() < at)
    }

    /// How long until the next retry, if one is waiting.
    fn wait(&self) -> Option<Duration> {
        self.until
            .map(|(_, at)| at.saturating_duration_since(Instant::now()).max(FLOOR))
    }
}

/// The first wait after a refused end of leases.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest wait between tries.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Adds `end` to the ends to make unless it is already there.
fn push_once(ends: &mut Vec<LeaseEnd>, end: LeaseEnd) {
    if !ends.contains(&end) {
        ends.push(end);
    }
}

/// Whether the wall clock, read as `before` and then `now` (ms since the Unix epoch) while the
/// monotonic clock advanced by `elapsed`, jumped: moved back, or more than [`JUMP`] away from
/// the monotonic time passed (a step, or a suspend, which stops the monotonic clock).
fn jumped(before: u64, now: u64, elapsed: Duration) -> bool {
    let walked = Duration::from_millis(now.saturating_sub(before));
    now < before || walked.abs_diff(elapsed) > JUMP
}

/// How long to sleep: until the next expiry, at most [`TICK`] while there are leases, and at
/// least [`FLOOR`].
fn nap(state: &State, now: u64) -> Duration {
    if state.lease_count() == 0 {
        return IDLE;
    }
    state
        .next_expiry()
        .map_or(TICK, |at| {
            Duration::from_millis(at.saturating_sub(now)).min(TICK)
        })
        .max(FLOOR)
}

/// The shortest sleep.
const FLOOR: Duration = Duration::from_millis(10);

/// Asks the writer to end the leases `end` names, and announces what closed; false if the
/// writer refused.
async fn end(conn: &zbus::Connection, shared: &Arc<Shared>, end: LeaseEnd) -> bool {
    match shared.writer().end_leases(end.clone(), now_millis()).await {
        Ok(changes) => {
            if !changes.is_empty() {
                info!(?end, closed = changes.len(), "leases ended");
                shared.announce(conn, &changes).await;
            }
            true
        }
        Err(e) => {
            warn!(?end, %e, "could not close ended leases; retrying after a back-off (1 s, doubling up to 30 s)");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use fw6_model::{EntryName, IfName, Lease, Mutation, PortKey};

    use super::*;

    /// A bus daemon that never answers costs the lease task [`BUS_CALL_TIMEOUT`], not for ever.
    #[tokio::test]
    async fn a_bus_call_that_never_answers_times_out() {
        let started = Instant::now();
        let never = std::future::pending::<Result<(), zbus::Error>>();
        let err = bounded(never).await.unwrap_err();
        assert!(err.to_string().contains("did not answer"), "{err}");
        assert!(started.elapsed() >= BUS_CALL_TIMEOUT);
        assert!(bounded(async { Ok::<_, zbus::Error>(7) }).await.unwrap() == 7);
    }

    #[test]
    fn a_step_or_a_sleep_is_a_jump_and_a_tick_is_not() {
        let second = Duration::from_secs(1);
        assert!(!jumped(10_000, 11_000, second), "a tick");
        assert!(
            !jumped(10_000, 11_300, second),
            "late by less than the margin"
        );
        assert!(jumped(10_000, 9_000, second), "stepped back");
        assert!(
            jumped(10_000, 3_611_000, second),
            "stepped forward an hour, or slept"
        );
        assert!(
            jumped(10_000, 10_000, 2 * second),
            "wall clock held while time passed"
        );
    }

    #[test]
    fn a_refused_end_backs_off_from_a_second_to_half_a_minute() {
        let mut backoff = BackOff::default();
        assert!(!backoff.waiting() && backoff.wait().is_none());
        let mut waits = Vec::new();
        for _ in 0..7 {
            backoff.failed();
            waits.push(backoff.until.unwrap().0.as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert!(backoff.waiting());
        backoff.succeeded();
        assert!(!backoff.waiting() && backoff.wait().is_none());
    }

    #[test]
    fn the_task_wakes_at_the_next_expiry_and_at_least_every_second() {
        let mut state = State::default();
        assert_eq!(nap(&state, 0), IDLE);
        let open = |port, expires| Mutation::OpenPort {
            connection: IfName::try_from("lan0").unwrap(),
            key: PortKey::from_raw(port, 6).unwrap(),
            name: EntryName::default(),
            lease: Some(Lease {
                expires,
                owner: None,
            }),
        };
        state.apply(&open(1, Some(5_300))).unwrap();
        assert_eq!(nap(&state, 5_000), Duration::from_millis(300));
        assert_eq!(nap(&state, 1_000), TICK);
        assert_eq!(
            nap(&state, 9_000),
            FLOOR,
            "overdue: at once, but never a zero sleep"
        );
    }
}
