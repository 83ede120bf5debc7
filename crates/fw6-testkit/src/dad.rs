//! Waiting for duplicate address detection.
//!
//! Addresses are added without `nodad`: a tentative address cannot be used as a source and
//! drops traffic to it, so probes made before DAD ends would fail for reasons unrelated to the
//! firewall. The topology shortens DAD with sysctls instead (see `topology.rs`) and waits here.

use std::time::{Duration, Instant};

use crate::NetNs;

/// The longest any namespace may stay tentative.
const LIMIT: Duration = Duration::from_secs(5);
const STEP: Duration = Duration::from_millis(20);

/// Waits until no IPv6 address in `ns` is tentative, at most 5 s; panics on timeout or when
/// DAD failed.
pub(crate) fn wait_done(ns: &NetNs) {
    let start = Instant::now();
    loop {
        let tentative = ns.ip(&["-6", "-o", "addr", "show", "tentative"]);
        assert!(
            !tentative.contains("dadfailed"),
            "fw6-testkit: DAD failed in {}: {tentative}",
            ns.name()
        );
        if tentative.trim().is_empty() {
            return;
        }
        assert!(
            start.elapsed() < LIMIT,
            "fw6-testkit: addresses in {} still tentative after {LIMIT:?}: {tentative}",
            ns.name()
        );
        std::thread::sleep(STEP);
    }
}
