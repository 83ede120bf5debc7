//! Neighbour-cache inspection, the evidence that neighbour discovery worked.

use std::net::Ipv6Addr;

use crate::NetNs;

/// The NUD state of a neighbour entry, as `ip -6 neigh` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighState {
    /// Confirmed recently.
    Reachable,
    /// Resolved, not confirmed recently.
    Stale,
    /// Resolved, confirmation pending.
    Delay,
    /// Resolved, being re-probed.
    Probe,
    /// Resolution in progress.
    Incomplete,
    /// Resolution failed.
    Failed,
    /// A static entry.
    Permanent,
    /// Anything else (`NOARP`, `NONE`).
    Other,
}

impl NeighState {
    /// Whether the entry holds a link-layer address learned by neighbour discovery.
    pub fn is_resolved(self) -> bool {
        matches!(
            self,
            Self::Reachable | Self::Stale | Self::Delay | Self::Probe
        )
    }
}

impl NetNs {
    /// The state of `addr` in this namespace's neighbour cache on `dev`, if there is an entry.
    pub fn neighbour(&self, dev: &str, addr: Ipv6Addr) -> Option<NeighState> {
        let out = self.ip(&["-6", "neigh", "show", &addr.to_string(), "dev", dev]);
        let line = out.lines().next()?;
        let word = line.split_whitespace().last()?;
        Some(match word {
            "REACHABLE" => NeighState::Reachable,
            "STALE" => NeighState::Stale,
            "DELAY" => NeighState::Delay,
            "PROBE" => NeighState::Probe,
            "INCOMPLETE" => NeighState::Incomplete,
            "FAILED" => NeighState::Failed,
            "PERMANENT" => NeighState::Permanent,
            _ => NeighState::Other,
        })
    }

    /// Empties the neighbour cache of `dev`, so the next packet needs neighbour discovery.
    pub fn flush_neighbours(&self, dev: &str) {
        self.ip(&["-6", "neigh", "flush", "dev", dev]);
    }
}
