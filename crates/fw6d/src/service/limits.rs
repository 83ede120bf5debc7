//! Calls in flight per caller. Every member is reachable by every local user, so what one
//! caller can make fw6d hold at once — calls waiting for polkit, decoded batches — is bounded
//! per unique bus name and per uid; past the bound a call is refused at once, before any work.
//! Root (uid 0) is not bounded by the per-uid budget: it is the administrator fighting the
//! flood, and could stop fw6d anyway.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use fw6_model::{Error, ErrorKind};

/// The bounds, from fw6d.toml.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Calls in flight per unique bus name.
    pub per_sender: usize,
    /// Calls in flight per uid.
    pub per_user: usize,
    /// Batch items in flight per uid (decoded batches held while they wait).
    pub items_per_user: usize,
}

#[derive(Debug, Default)]
struct Counts {
    senders: HashMap<String, usize>,
    users: HashMap<u32, (usize, usize)>,
}

/// The in-flight table.
#[derive(Debug)]
pub struct InFlight {
    bounds: Bounds,
    counts: Mutex<Counts>,
}

/// A call's place in the table; leaving it (drop) frees the place.
#[derive(Debug)]
pub struct Ticket<'a> {
    table: &'a InFlight,
    sender: String,
    user: Option<(u32, usize)>,
}

impl InFlight {
    /// An empty table with `bounds`.
    pub fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            counts: Mutex::default(),
        }
    }

    /// Admits one more call from `sender`, or refuses it.
    pub fn enter(&self, sender: &str) -> Result<Ticket<'_>, Error> {
        let mut counts = self.lock();
        let n = counts.senders.entry(sender.to_owned()).or_default();
        if *n >= self.bounds.per_sender {
            return Err(busy(&format!(
                "{sender} already has {n} calls in flight (at most {})",
                self.bounds.per_sender
            )));
        }
        *n += 1;
        Ok(Ticket {
            table: self,
            sender: sender.to_owned(),
            user: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ticket<'_> {
    /// Charges the call, with its `items`, to `uid`'s budget, or refuses it.
    pub fn charge(&mut self, uid: u32, items: usize) -> Result<(), Error> {
        if uid == 0 || self.user.is_some() {
            return Ok(());
        }
        let bounds = self.table.bounds;
        let mut counts = self.table.lock();
        let (calls, held) = counts.users.entry(uid).or_default();
        if *calls >= bounds.per_user {
            return Err(busy(&format!(
                "uid {uid} already has {calls} calls in flight (at most {})",
                bounds.per_user
            )));
        }
        if *held + items > bounds.items_per_user {
            return Err(busy(&format!(
                "uid {uid} already has {held} batch items in flight and this call adds {items} \
                 (at most {})",
                bounds.items_per_user
            )));
        }
        *calls += 1;
        *held += items;
        self.user = Some((uid, items));
        Ok(())
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut counts = self.table.lock();
        if let Some(n) = counts.senders.get_mut(&self.sender) {
            *n -= 1;
            if *n == 0 {
                counts.senders.remove(&self.sender);
            }
        }
        if let Some((uid, items)) = self.user
            && let Some((calls, held)) = counts.users.get_mut(&uid)
        {
            *calls -= 1;
            *held -= items;
            if *calls == 0 {
                counts.users.remove(&uid);
            }
        }
    }
}

fn busy(what: &str) -> Error {
    Error::new(
        ErrorKind::Fail,
        format!("fw6d is busy: {what}; nothing was changed; wait for the replies and retry"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        per_sender: 2,
        per_user: 3,
        items_per_user: 10,
    };

    #[test]
    fn a_sender_past_its_bound_is_refused_until_a_call_ends() {
        let table = InFlight::new(BOUNDS);
        let a = table.enter(":1.1").unwrap();
        let _b = table.enter(":1.1").unwrap();
        let err = table.enter(":1.1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Fail);
        assert!(err.message().contains("2 calls in flight"), "{err}");
        assert!(
            table.enter(":1.2").is_ok(),
            "another sender is not affected"
        );
        drop(a);
        assert!(table.enter(":1.1").is_ok());
    }

    #[test]
    fn a_user_is_bounded_across_senders_in_calls_and_items_but_root_is_not() {
        let table = InFlight::new(BOUNDS);
        let mut held = Vec::new();
        for i in 0..3 {
            let mut t = table.enter(&format!(":1.{i}")).unwrap();
            t.charge(1000, 1).unwrap();
            held.push(t);
        }
        let mut t = table.enter(":1.9").unwrap();
        assert!(t.charge(1000, 1).is_err(), "fourth call of uid 1000");
        assert!(t.charge(0, 1_000_000).is_ok(), "root is not bounded");
        held.clear();
        let mut big = table.enter(":1.5").unwrap();
        assert!(big.charge(1000, 11).is_err(), "more items than the budget");
        big.charge(1000, 10).unwrap();
        drop(big);
        assert!(table.lock().users.is_empty() && table.lock().senders.len() == 1);
    }
}
