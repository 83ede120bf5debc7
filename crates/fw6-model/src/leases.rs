//! The leases of a [`crate::State`]: which open pairs end on their own, indexed by expiry and by
//! owner so that the daemon's timer finds the next expiry, and a departed bus name its
//! openings, in O(log n) rather than by walking every opening.

use imbl::{OrdMap, OrdSet};

use crate::{IfName, Lease, PortKey};

/// Where an opening is: a connection's open pair, or a global pair (`None`).
pub type Target = (Option<IfName>, PortKey);

/// Every lease, with its two indexes kept in step by [`Leases::insert`] and [`Leases::remove`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Leases {
    all: OrdMap<Target, Lease>,
    expiring: OrdSet<(u64, Target)>,
    /// (bus, unique name) → its bound openings.
    bound: OrdMap<(String, String), OrdSet<Target>>,
}

impl Leases {
    pub(crate) fn get(&self, target: &Target) -> Option<&Lease> {
        self.all.get(target)
    }

    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Target, &Lease)> {
        self.all.iter()
    }

    /// Sets (or replaces) the lease of `target`.
    pub(crate) fn insert(&mut self, target: Target, lease: Lease) {
        self.remove(&target);
        if let Some(at) = lease.expires {
            self.expiring.insert((at, target.clone()));
        }
        if let Some(owner) = &lease.owner {
            self.bound
                .entry((owner.bus.clone(), owner.name.clone()))
                .or_default()
                .insert(target.clone());
        }
        self.all.insert(target, lease);
    }

    /// Removes the lease of `target`, if any.
    pub(crate) fn remove(&mut self, target: &Target) -> Option<Lease> {
        let lease = self.all.remove(target)?;
        if let Some(at) = lease.expires {
            self.expiring.remove(&(at, target.clone()));
        }
        if let Some(owner) = &lease.owner {
            let key = (owner.bus.clone(), owner.name.clone());
            if let Some(set) = self.bound.get_mut(&key) {
                set.remove(target);
                if set.is_empty() {
                    self.bound.remove(&key);
                }
            }
        }
        Some(lease)
    }

    /// The earliest expiry, ms since the Unix epoch.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.expiring.get_min().map(|(at, _)| *at)
    }

    /// The targets whose lease expired at `now`, earliest first.
    pub(crate) fn expired(&self, now: u64) -> impl Iterator<Item = &Target> {
        self.expiring
            .iter()
            .take_while(move |(at, _)| *at <= now)
            .map(|(_, target)| target)
    }

    /// The targets bound to `name` on bus `bus`.
    pub(crate) fn owned_by(&self, bus: &str, name: &str) -> Vec<&Target> {
        self.bound
            .get(&(bus.to_owned(), name.to_owned()))
            .map(|set| set.iter().collect())
            .unwrap_or_default()
    }

    /// How many openings `name` on `bus` holds.
    pub(crate) fn owned_count(&self, bus: &str, name: &str) -> usize {
        self.bound
            .get(&(bus.to_owned(), name.to_owned()))
            .map_or(0, OrdSet::len)
    }

    /// Every owner, as (bus, unique name).
    pub(crate) fn owners(&self) -> impl Iterator<Item = &(String, String)> {
        self.bound.keys()
    }
}
