//! A list of pairs as a method's reply (`a(qus)`), serialized straight from the published state
//! it was read in. Built as owned tuples, a 100,000-pair reply was first copied twice — as the
//! model's entries, then as the tuples — before zbus wrote the message, and those copies, not
//! the message, set fw6d's peak memory when a large list was read.

use std::sync::Arc;

use fw6_model::wire::{self, WireEntry};
use fw6_model::{PairList, State};
use serde::{Serialize, Serializer};
use zbus::{Signature, Type};

/// The pairs of one list of one state, as `a(qus)`.
pub struct Entries {
    state: Arc<State>,
    list: PairList,
}

impl Entries {
    /// `list` as `state` holds it.
    pub fn new(state: Arc<State>, list: PairList) -> Self {
        Self { state, list }
    }
}

impl Type for Entries {
    const SIGNATURE: &'static Signature = <Vec<WireEntry>>::SIGNATURE;
}

impl Serialize for Entries {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.state
                .pairs(&self.list)
                .map(|(key, name)| wire::entry_ref(key, name)),
        )
    }
}

#[cfg(test)]
mod tests {
    use fw6_model::{EntryName, IfName, Mutation};
    use zbus::wire::serialized::Context;
    use zbus::wire::{LE, to_bytes};

    use super::*;

    #[test]
    fn a_reply_reads_as_the_owned_entries_would() {
        let lan0 = IfName::try_from("lan0").unwrap();
        let mut state = State::default();
        for (key, name) in [("443/tcp", "web"), ("22/tcp", "ssh")] {
            let open = Mutation::OpenPort {
                connection: lan0.clone(),
                key: key.parse().unwrap(),
                name: EntryName::try_from(name).unwrap(),
                lease: None,
            };
            state.apply(&open).unwrap();
        }
        let state = Arc::new(state);
        let reply = Entries::new(Arc::clone(&state), PairList::Open(lan0.clone()));
        let sent = to_bytes(Context::new(LE, 0), &reply).unwrap();
        let (read, _): (Vec<WireEntry>, _) = sent.deserialize().unwrap();
        let owned: Vec<WireEntry> = state
            .open_ports(&lan0)
            .as_slice()
            .iter()
            .map(wire::entry_args)
            .collect();
        assert_eq!(read, owned);
        assert_eq!(read[0], (22, 6, "ssh".to_owned()), "in order");
        let none = Entries::new(state, PairList::IgnoredGlobal(lan0));
        let sent = to_bytes(Context::new(LE, 0), &none).unwrap();
        assert!(sent.deserialize::<Vec<WireEntry>>().unwrap().0.is_empty());
    }
}
