//! Property test: random sequences of mutations against a deliberately naive reference model,
//! comparing every query and `decide` after every step, and checking that replaying the returned
//! changes on the old state gives the new state (and their inverses give the old state back).

use std::collections::HashMap;

use fw6_model::{
    EntryName, IfName, LogSettings, LogfileMaximumSize, Mutation, PortKey, Reason, State,
};
use proptest::prelude::*;

/// The reference: plain vectors of (key, name), searched linearly, written from the spec's
/// prose rather than from the implementation.
#[derive(Default, Clone)]
struct Naive {
    global: Vec<(PortKey, String)>,
    open: HashMap<String, Vec<(PortKey, String)>>,
    ignored: HashMap<String, Vec<(PortKey, String)>>,
    unfirewalled: Vec<String>,
    logging: LogSettings,
}

fn add(list: &mut Vec<(PortKey, String)>, key: PortKey, name: &str) {
    if !list.iter().any(|(k, _)| *k == key) {
        list.push((key, name.to_owned()));
    }
}

fn remove(list: &mut Vec<(PortKey, String)>, key: PortKey) {
    list.retain(|(k, _)| *k != key);
}

fn has(list: Option<&Vec<(PortKey, String)>>, key: PortKey) -> bool {
    list.is_some_and(|l| l.iter().any(|(k, _)| *k == key))
}

impl Naive {
    fn apply(&mut self, m: &Mutation) {
        match m {
            Mutation::OpenGlobalPort { key, name } => add(&mut self.global, *key, name.as_str()),
            Mutation::CloseGlobalPort { key } => remove(&mut self.global, *key),
            Mutation::EnableFirewall { connection } => {
                self.unfirewalled.retain(|c| c != connection.as_str());
            }
            Mutation::DisableFirewall { connection } => {
                if !self.unfirewalled.iter().any(|c| c == connection.as_str()) {
                    self.unfirewalled.push(connection.to_string());
                }
            }
            Mutation::OpenPort {
                connection,
                key,
                name,
            } => {
                add(
                    self.open.entry(connection.to_string()).or_default(),
                    *key,
                    name.as_str(),
                );
            }
            Mutation::ClosePort { connection, key } => {
                remove(self.open.entry(connection.to_string()).or_default(), *key);
            }
            Mutation::IgnoreGlobalPort {
                connection,
                key,
                name,
            } => {
                add(
                    self.ignored.entry(connection.to_string()).or_default(),
                    *key,
                    name.as_str(),
                );
            }
            Mutation::ObserveGlobalPort { connection, key } => {
                remove(
                    self.ignored.entry(connection.to_string()).or_default(),
                    *key,
                );
            }
            Mutation::SetLogfilePath { path } => self.logging.logfile_path.clone_from(path),
            Mutation::SetLogfileMaximumSize { kib } => self.logging.logfile_maximum_size = *kib,
            Mutation::SetLogDroppedPackets { enabled } => {
                self.logging.log_dropped_packets = *enabled;
            }
            Mutation::SetLogConnections { enabled } => {
                self.logging.log_connections = *enabled;
            }
        }
    }

    fn sorted(list: Option<&Vec<(PortKey, String)>>) -> Vec<(PortKey, String)> {
        let mut v = list.cloned().unwrap_or_default();
        v.sort();
        v
    }

    /// Spec §1.4 as written: firewall off passes all; own set; global unless ignored; else block.
    fn allowed(&self, c: &str, key: PortKey) -> bool {
        self.unfirewalled.iter().any(|u| u == c)
            || has(self.open.get(c), key)
            || (has(Some(&self.global), key) && !has(self.ignored.get(c), key))
    }
}

const CONNS: [&str; 3] = ["lan0", "wan0", "tun0"];

fn key_strategy() -> impl Strategy<Value = PortKey> {
    // A small key space so that sequences collide often (re-opens, closes of open pairs).
    (
        prop_oneof![Just(22_u32), Just(80), Just(443), Just(65535)],
        prop_oneof![Just(6_u32), Just(17)],
    )
        .prop_map(|(p, proto)| PortKey::from_raw(p, proto).unwrap())
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    let conn = prop::sample::select(&CONNS[..]).prop_map(|c| IfName::try_from(c).unwrap());
    let name = prop::sample::select(&["", "a", "b", "game"][..])
        .prop_map(|n| EntryName::try_from(n).unwrap());
    prop_oneof![
        (key_strategy(), name.clone())
            .prop_map(|(key, name)| Mutation::OpenGlobalPort { key, name }),
        key_strategy().prop_map(|key| Mutation::CloseGlobalPort { key }),
        conn.clone()
            .prop_map(|connection| Mutation::EnableFirewall { connection }),
        conn.clone()
            .prop_map(|connection| Mutation::DisableFirewall { connection }),
        (conn.clone(), key_strategy(), name.clone()).prop_map(|(connection, key, name)| {
            Mutation::OpenPort {
                connection,
                key,
                name,
            }
        }),
        (conn.clone(), key_strategy())
            .prop_map(|(connection, key)| Mutation::ClosePort { connection, key }),
        (conn.clone(), key_strategy(), name).prop_map(|(connection, key, name)| {
            Mutation::IgnoreGlobalPort {
                connection,
                key,
                name,
            }
        }),
        (conn, key_strategy())
            .prop_map(|(connection, key)| Mutation::ObserveGlobalPort { connection, key }),
        prop::sample::select(&["/var/log/a.log", "/var/log/b.log"][..])
            .prop_map(|p| Mutation::SetLogfilePath { path: p.to_owned() }),
        prop_oneof![Just(1_u32), Just(4096), Just(32767)].prop_map(|k| {
            Mutation::SetLogfileMaximumSize {
                kib: LogfileMaximumSize::try_from(k).unwrap(),
            }
        }),
        any::<bool>().prop_map(|enabled| Mutation::SetLogDroppedPackets { enabled }),
        any::<bool>().prop_map(|enabled| Mutation::SetLogConnections { enabled }),
    ]
}

fn entries(s: fw6_model::Snapshot<fw6_model::PortEntry>) -> Vec<(PortKey, String)> {
    s.into_iter()
        .map(|e| (e.key(), e.name.to_string()))
        .collect()
}

fn assert_agree(state: &State, naive: &Naive) {
    assert_eq!(
        entries(state.globally_open_ports()),
        Naive::sorted(Some(&naive.global))
    );
    assert_eq!(state.logging(), &naive.logging);
    for c in CONNS {
        let conn = IfName::try_from(c).unwrap();
        assert_eq!(
            state.is_firewalled(&conn),
            !naive.unfirewalled.iter().any(|u| u == c)
        );
        assert_eq!(
            entries(state.open_ports(&conn)),
            Naive::sorted(naive.open.get(c))
        );
        assert_eq!(
            entries(state.ignored_global_ports(&conn)),
            Naive::sorted(naive.ignored.get(c))
        );
        for p in [22, 80, 443, 65535] {
            for proto in [6, 17] {
                let key = PortKey::from_raw(p, proto).unwrap();
                assert_eq!(state.is_port_open(&conn, key), has(naive.open.get(c), key));
                assert_eq!(
                    state.is_port_globally_open(key),
                    has(Some(&naive.global), key)
                );
                assert_eq!(
                    state.is_global_port_ignored(&conn, key),
                    has(naive.ignored.get(c), key)
                );
                let d = state.decide(&conn, key);
                assert_eq!(d.allowed, naive.allowed(c, key), "{c} {key}: {d:?}");
                assert_eq!(d.allowed, d.reason.allows());
                if d.reason == Reason::GlobalIgnored {
                    assert!(has(naive.ignored.get(c), key) && has(Some(&naive.global), key));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_the_naive_model_and_changes_replay(steps in prop::collection::vec(mutation_strategy(), 1..60)) {
        let mut state = State::default();
        let mut naive = Naive::default();
        for m in &steps {
            let before = state.clone();
            let noop = state.is_noop(m);
            let changes = state.apply(m).unwrap();
            prop_assert_eq!(noop, changes.is_empty(), "is_noop disagrees with apply for {:?}", m);
            naive.apply(m);
            assert_agree(&state, &naive);

            let mut replayed = before.clone();
            for c in &changes {
                replayed.replay(c);
            }
            prop_assert_eq!(&replayed, &state, "replaying {:?} of {:?}", changes, m);

            let mut undone = state.clone();
            for c in changes.iter().rev() {
                undone.replay(&c.inverse());
            }
            // Undo restores every query's answer (an entry may remain for a connection that
            // was touched, which is invisible to every member).
            let mut undone_naive = Naive::default();
            for earlier in &steps[..steps.iter().position(|x| std::ptr::eq(x, m)).unwrap()] {
                undone_naive.apply(earlier);
            }
            assert_agree(&undone, &undone_naive);
        }
    }

    #[test]
    fn a_batch_equals_its_mutations_one_by_one(steps in prop::collection::vec(mutation_strategy(), 0..30)) {
        let mut one_by_one = State::default();
        let mut expected = Vec::new();
        for m in &steps {
            expected.extend(one_by_one.apply(m).unwrap());
        }
        let mut batched = State::default();
        let changes = batched.apply_batch(&steps).unwrap();
        prop_assert_eq!(changes, expected);
        prop_assert_eq!(batched, one_by_one);
    }
}
