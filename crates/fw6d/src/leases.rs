//! The daemon's side of leases (docs/dbus-api.md, "Leases"): closing what the kernel's element
//! timeouts already closed (state, store, audit, `Changed`), closing the openings bound to a bus
//! name that left the bus, and re-arming the kernel's timeouts when the wall clock jumps.
//!
//! Enforcement never waits for this task: an expiring opening is an element with a timeout, so
//! the kernel drops it on time whether fw6d runs or not. This task makes the rest of fw6d agree
//! within a second: it wakes at the next expiry, and at least once a second while there are
//! leases, to compare the wall clock with the monotonic one.

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

/// Follows leases until the bus connection closes. Bound openings whose owner is not on this
/// bus any more (it left while fw6d was down, or the bus restarted) are closed first.
pub async fn watch(conn: zbus::Connection, shared: Arc<Shared>) {
    let bus = conn.server_guid().to_string();
    let dbus = match DBusProxy::new(&conn).await {
        Ok(proxy) => proxy,
        Err(e) => {
            warn!(%e, "cannot follow bus names: bound openings stay until closed");
            return;
        }
    };
    // Subscribed before the owners are checked, so a name that leaves in between is seen.
    let mut departures = match dbus.receive_name_owner_changed_with_args(&[(2, "")]).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            warn!(%e, "cannot follow bus names: bound openings stay until closed");
            None
        }
    };
    let owners: Vec<(String, String)> = shared.state().lease_owners().cloned().collect();
    for (owner_bus, name) in owners {
        let present = owner_bus == bus
            && match BusName::try_from(name.as_str()) {
                Ok(n) => dbus.name_has_owner(n).await.unwrap_or(true),
                Err(_) => false,
            };
        if !present {
            end(
                &conn,
                &shared,
                LeaseEnd::OwnerGone {
                    bus: owner_bus,
                    name,
                },
            )
            .await;
        }
    }
    let mut published = shared.subscribe();
    let mut wall = now_millis();
    let mut mono = Instant::now();
    loop {
        let state = shared.state();
        let sleep = nap(&state, now_millis());
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
                let name = args.name().as_str();
                if args.new_owner().is_none() && shared.state().owns_openings(&bus, name) {
                    end(&conn, &shared, LeaseEnd::OwnerGone {
                        bus: bus.clone(),
                        name: name.to_owned(),
                    })
                    .await;
                }
            }
        }
        let (now, elapsed) = (now_millis(), mono.elapsed());
        let walked = Duration::from_millis(now.saturating_sub(wall));
        let jumped = now < wall || walked.abs_diff(elapsed) > JUMP;
        let wall_moved = now.abs_diff(wall);
        (wall, mono) = (now, Instant::now());
        if jumped && shared.state().lease_count() > 0 {
            info!(
                wall_ms = wall_moved,
                monotonic_ms = elapsed.as_millis(),
                "the wall clock jumped: re-arming lease timeouts"
            );
            end(&conn, &shared, LeaseEnd::ClockJumped).await;
        } else if shared.state().next_expiry().is_some_and(|at| at <= now) {
            end(&conn, &shared, LeaseEnd::Expired).await;
        }
    }
}

/// How long to sleep: until the next expiry, at most [`TICK`] while there are leases, and at
/// least [`FLOOR`] (an expiry the writer failed to close is retried, not spun on).
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

/// Asks the writer to end the leases `end` names, and announces what closed.
async fn end(conn: &zbus::Connection, shared: &Arc<Shared>, end: LeaseEnd) {
    match shared.writer().end_leases(end.clone(), now_millis()).await {
        Ok(changes) if changes.is_empty() => {}
        Ok(changes) => {
            info!(?end, closed = changes.len(), "leases ended");
            shared.announce(conn, &changes).await;
        }
        Err(e) => warn!(?end, %e, "could not close ended leases; retrying at the next tick"),
    }
}
