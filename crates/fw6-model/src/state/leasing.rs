//! The leases of a [`State`] (docs/dbus-api.md, "Leases"): their queries, the changes that end
//! them, and the rules of an opening that carries one (a lease never weakens a permanent
//! opening; a plain open makes a leased pair permanent; opening again renews).

use super::{ConnSet, PortMap, State, insert_new};
use crate::lease::MAX_BOUND_PER_OWNER;
use crate::leases::Target;
use crate::{
    Change, Decision, EntryName, Error, IfName, Lease, PortEntry, PortKey, Reason, Snapshot,
};

impl State {
    /// The lease of an open pair (`connection` `None`: a global pair), if it has one.
    pub fn lease(&self, connection: Option<&IfName>, key: PortKey) -> Option<&Lease> {
        self.leases.get(&(connection.cloned(), key))
    }

    /// Every lease, ordered by (connection, pair), global pairs first.
    pub fn leases(&self) -> impl Iterator<Item = (&Target, &Lease)> {
        self.leases.iter()
    }

    /// How many open pairs have a lease.
    pub fn lease_count(&self) -> usize {
        self.leases.len()
    }

    /// The earliest lease expiry, ms since the Unix epoch: when the daemon's timer must next
    /// look.
    pub fn next_expiry(&self) -> Option<u64> {
        self.leases.next_expiry()
    }

    /// Whether `name` on bus `bus` holds bound openings.
    pub fn owns_openings(&self, bus: &str, name: &str) -> bool {
        self.leases.owned_count(bus, name) > 0
    }

    /// Every owner of a bound opening, as (bus id, unique name).
    pub fn lease_owners(&self) -> impl Iterator<Item = &(String, String)> {
        self.leases.owners()
    }

    /// `OpenPorts` with each entry's lease: the detailed enumeration.
    pub fn open_ports_detailed(&self, connection: &IfName) -> Snapshot<PortEntry> {
        self.connections
            .get(connection)
            .map_or_else(Snapshot::default, |c| {
                self.entries_leased(Some(connection), &c.open)
            })
    }

    /// `GloballyOpenPorts` with each entry's lease.
    pub fn globally_open_ports_detailed(&self) -> Snapshot<PortEntry> {
        self.entries_leased(None, &self.global_open)
    }

    fn entries_leased(&self, connection: Option<&IfName>, map: &PortMap) -> Snapshot<PortEntry> {
        map.iter()
            .map(|(key, name)| PortEntry {
                lease: self.lease(connection, *key).cloned(),
                ..PortEntry::new(*key, name.clone())
            })
            .collect()
    }

    /// The changes that close every opening whose lease expired at `now` (ms since the Unix
    /// epoch), earliest first. Nothing is applied: the daemon commits them like any change.
    pub fn expired(&self, now: u64) -> Vec<Change> {
        self.leases
            .expired(now)
            .filter_map(|target| self.close_change(target))
            .collect()
    }

    /// The changes that close every opening bound to `name` on bus `bus` (it left the bus).
    pub fn owner_gone(&self, bus: &str, name: &str) -> Vec<Change> {
        self.leases
            .owned_by(bus, name)
            .into_iter()
            .filter_map(|target| self.close_change(target))
            .collect()
    }

    /// Every leased opening with its entry (name and lease), ordered by (connection, pair),
    /// global pairs first: the `Leases` query.
    pub fn leased(&self) -> Vec<(Option<IfName>, PortEntry)> {
        self.leases
            .iter()
            .filter_map(|(target, _)| Some((target.0.clone(), self.entry_of(target)?)))
            .collect()
    }

    /// The entry of an open pair, with its lease.
    fn entry_of(&self, (connection, key): &Target) -> Option<PortEntry> {
        let name = match connection {
            Some(c) => self.connections.get(c)?.open.get(key)?,
            None => self.global_open.get(key)?,
        };
        Some(PortEntry {
            lease: self.lease(connection.as_ref(), *key).cloned(),
            ..PortEntry::new(*key, name.clone())
        })
    }

    /// The change closing an open pair, its entry carrying its lease.
    fn close_change(&self, target: &Target) -> Option<Change> {
        let entry = self.entry_of(target)?;
        let connection = &target.0;
        Some(match connection {
            Some(connection) => Change::PortClosed {
                connection: connection.clone(),
                entry,
            },
            None => Change::GlobalClosed { entry },
        })
    }

    /// The lease behind a decision for `key` on `connection`: the connection's own opening's
    /// (rule 1) or the global one's (rule 2), if it has one. `Explain` says when it ends.
    pub fn lease_behind(
        &self,
        connection: &IfName,
        key: PortKey,
        decision: Decision,
    ) -> Option<&Lease> {
        match decision.reason {
            Reason::OpenOnConnection => self.lease(Some(connection), key),
            Reason::GloballyOpen => self.lease(None, key),
            _ => None,
        }
    }

    /// `OpenPort` / `OpenGlobalPort` (`connection` `None`) with an optional lease
    /// (docs/dbus-api.md, "Leases"): a new pair is opened with the lease; a pair open without a
    /// lease stays as it is (first name, permanence); a leased pair is renewed
    /// ([`Lease::renewed_by`]: later expiry, same owner) or, from a plain open, loses its lease
    /// (it becomes permanent), which is its old entry's close and the new entry's open, so
    /// store, kernel and signals follow with no new kind of change.
    pub(super) fn open(
        &mut self,
        connection: Option<&IfName>,
        key: PortKey,
        name: &EntryName,
        lease: Option<&Lease>,
    ) -> Result<Vec<Change>, Error> {
        let made = |entry| match connection {
            Some(c) => Change::PortOpened {
                connection: c.clone(),
                entry,
            },
            None => Change::GlobalOpened { entry },
        };
        // The common case, untouched by leases: one walk of the map (see `insert_new`).
        if lease.is_none() && self.leases.len() == 0 {
            let entry = match connection {
                Some(c) => self.insert_conn(c, ConnSet::Open, key, name),
                None => insert_new(&mut self.global_open, key, name),
            };
            return Ok(entry.map(made).into_iter().collect());
        }
        let target = (connection.cloned(), key);
        let first = match connection {
            Some(c) => self.connections.get(c).and_then(|c| c.open.get(&key)),
            None => self.global_open.get(&key),
        }
        .cloned();
        let Some(first) = first else {
            if let Some(lease) = lease {
                self.check_bound(lease)?;
                self.leases.insert(target, lease.clone());
            }
            match connection {
                Some(c) => self.insert_conn(c, ConnSet::Open, key, name),
                None => insert_new(&mut self.global_open, key, name),
            };
            return Ok(vec![made(PortEntry {
                lease: lease.cloned(),
                ..PortEntry::new(key, name.clone())
            })]);
        };
        let Some(old) = self.leases.get(&target).cloned() else {
            return Ok(Vec::new());
        };
        // The owner never changes on a renewal, so no bound is passed.
        let lease = lease.map(|new| old.renewed_by(new));
        if lease.as_ref() == Some(&old) {
            return Ok(Vec::new());
        }
        match &lease {
            Some(lease) => {
                self.leases.insert(target, lease.clone());
            }
            None => {
                self.leases.remove(&target);
            }
        }
        let closed = PortEntry {
            lease: Some(old),
            ..PortEntry::new(key, first.clone())
        };
        let closed = match connection {
            Some(c) => Change::PortClosed {
                connection: c.clone(),
                entry: closed,
            },
            None => Change::GlobalClosed { entry: closed },
        };
        Ok(vec![
            closed,
            made(PortEntry {
                lease,
                ..PortEntry::new(key, first)
            }),
        ])
    }

    /// Refuses a bound lease whose owner already holds [`MAX_BOUND_PER_OWNER`] openings.
    fn check_bound(&self, lease: &Lease) -> Result<(), Error> {
        let Some(owner) = &lease.owner else {
            return Ok(());
        };
        let held = self.leases.owned_count(&owner.bus, &owner.name);
        if held >= MAX_BOUND_PER_OWNER {
            return Err(Error::invalid_arg(format!(
                "bus connection {} already holds {held} openings bound to it, the most one \
                 connection may hold: close some, or open without bind_to_caller",
                owner.name
            )));
        }
        Ok(())
    }

    /// Whether opening `key` with `lease` changes nothing: the pair is open without a lease, or
    /// with one the renewal would leave as it is.
    pub(super) fn open_is_noop(
        &self,
        connection: Option<&IfName>,
        key: PortKey,
        lease: Option<&Lease>,
    ) -> bool {
        let open = match connection {
            Some(c) => self.is_port_open(c, key),
            None => self.is_port_globally_open(key),
        };
        open && self
            .lease(connection, key)
            .is_none_or(|old| lease.is_some_and(|new| old.renewed_by(new) == *old))
    }

    /// `ClosePort` / `CloseGlobalPort`: a leased pair closes at once, like any other.
    pub(super) fn close(&mut self, connection: Option<&IfName>, key: PortKey) -> Option<Change> {
        let name = match connection {
            Some(c) => self.remove_conn(c, ConnSet::Open, key)?.name,
            None => self.global_open.remove(&key)?,
        };
        let mut entry = PortEntry::new(key, name);
        if self.leases.len() > 0 {
            entry.lease = self.leases.remove(&(connection.cloned(), key));
        }
        Some(match connection {
            Some(c) => Change::PortClosed {
                connection: c.clone(),
                entry,
            },
            None => Change::GlobalClosed { entry },
        })
    }

    /// Replays the lease an opened entry carries (or its absence).
    pub(super) fn set_lease(&mut self, connection: Option<&IfName>, entry: &PortEntry) {
        match &entry.lease {
            Some(lease) => self
                .leases
                .insert((connection.cloned(), entry.key()), lease.clone()),
            None => self.drop_lease(connection, entry.key()),
        }
    }

    pub(super) fn drop_lease(&mut self, connection: Option<&IfName>, key: PortKey) {
        if self.leases.len() > 0 {
            self.leases.remove(&(connection.cloned(), key));
        }
    }
}
