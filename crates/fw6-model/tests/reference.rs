//! Property test: random sequences of mutations against a deliberately naive reference model,
//! comparing every query and `decide` after every step, and checking that replaying the returned
//! changes on the old state gives the new state (and their inverses give the old state back).
//! The reference knows leases (docs/dbus-api.md, "Leases"): openings with an expiry or an owner,
//! closed by the passing of time or the owner leaving the bus.

use std::collections::HashMap;

use fw6_model::{
    EntryName, IfName, Lease, LogSettings, LogfileMaximumSize, Mutation, Owner, PortKey, Reason,
    State,
};
use proptest::prelude::*;

/// The reference: plain vectors of (key, name), searched linearly, written from the spec's
/// prose rather than from the implementation. Open pairs carry their lease.
#[derive(Default, Clone)]
struct Naive {
    global: Vec<(PortKey, String, Option<Lease>)>,
    open: HashMap<String, Vec<(PortKey, String, Option<Lease>)>>,
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

/// The rules of a leased open, as docs/dbus-api.md words them: a new pair is opened with the
/// lease; a pair open without a lease stays as it is; a plain open makes a leased pair
/// permanent; a timed or bound open of a leased pair never shortens or moves its lease: the
/// owner stays, an expiry only moves later, and no expiry stays none. The first name always
/// stays.
fn open(
    list: &mut Vec<(PortKey, String, Option<Lease>)>,
    key: PortKey,
    name: &str,
    lease: Option<&Lease>,
) {
    match list.iter_mut().find(|(k, _, _)| *k == key) {
        None => list.push((key, name.to_owned(), lease.cloned())),
        Some((_, _, None)) => {}
        Some((_, _, old)) => match (old.as_mut(), lease) {
            (_, None) => *old = None,
            (Some(old), Some(new)) => {
                if let (Some(at), Some(later)) = (old.expires, new.expires)
                    && later > at
                {
                    old.expires = Some(later);
                }
            }
            (None, Some(_)) => unreachable!("matched by the arm above"),
        },
    }
}

fn close(list: &mut Vec<(PortKey, String, Option<Lease>)>, key: PortKey) {
    list.retain(|(k, _, _)| *k != key);
}

fn plain(list: Option<&Vec<(PortKey, String, Option<Lease>)>>) -> Option<Vec<(PortKey, String)>> {
    list.map(|l| l.iter().map(|(k, n, _)| (*k, n.clone())).collect())
}

impl Naive {
    fn apply(&mut self, m: &Mutation) {
        match m {
            Mutation::OpenGlobalPort { key, name, lease } => {
                open(&mut self.global, *key, name.as_str(), lease.as_ref());
            }
            Mutation::CloseGlobalPort { key } => close(&mut self.global, *key),
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
                lease,
            } => {
                open(
                    self.open.entry(connection.to_string()).or_default(),
                    *key,
                    name.as_str(),
                    lease.as_ref(),
                );
            }
            Mutation::ClosePort { connection, key } => {
                close(self.open.entry(connection.to_string()).or_default(), *key);
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

    /// Time passes to `now`: every lease that expired by then closes its pair.
    fn expire(&mut self, now: u64) {
        let live = |(_, _, lease): &(PortKey, String, Option<Lease>)| {
            lease
                .as_ref()
                .is_none_or(|l| l.expires.is_none_or(|at| at > now))
        };
        self.global.retain(live);
        for list in self.open.values_mut() {
            list.retain(live);
        }
    }

    /// `name` left the bus: every pair bound to it closes.
    fn gone(&mut self, name: &str) {
        let live = |(_, _, lease): &(PortKey, String, Option<Lease>)| {
            lease
                .as_ref()
                .is_none_or(|l| l.owner.as_ref().is_none_or(|o| o.name != name))
        };
        self.global.retain(live);
        for list in self.open.values_mut() {
            list.retain(live);
        }
    }

    fn sorted_leased(
        list: Option<&Vec<(PortKey, String, Option<Lease>)>>,
    ) -> Vec<(PortKey, String, Option<Lease>)> {
        let mut v = list.cloned().unwrap_or_default();
        v.sort_by_key(|(k, _, _)| *k);
        v
    }

    fn sorted(list: Option<&Vec<(PortKey, String)>>) -> Vec<(PortKey, String)> {
        let mut v = list.cloned().unwrap_or_default();
        v.sort();
        v
    }

    /// Spec §1.4 as written: firewall off passes all; own set; global unless ignored; else block.
    fn allowed(&self, c: &str, key: PortKey) -> bool {
        self.unfirewalled.iter().any(|u| u == c)
            || has(plain(self.open.get(c)).as_ref(), key)
            || (has(plain(Some(&self.global)).as_ref(), key) && !has(self.ignored.get(c), key))
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

const OWNERS: [&str; 2] = [":1.1", ":1.2"];

fn owner(name: &str) -> Owner {
    Owner {
        bus: "bus".into(),
        name: name.into(),
        pid: 7,
        command: "game".into(),
    }
}

/// No lease half the time; otherwise an expiry at 1, 2 or 3 (a small clock, so expiries
/// collide), an owner, or both.
fn lease_strategy() -> impl Strategy<Value = Option<Lease>> {
    let expires = prop_oneof![Just(None), (1_u64..=3).prop_map(Some)];
    let owner = prop_oneof![
        Just(None),
        prop::sample::select(&OWNERS[..]).prop_map(|o| Some(owner(o)))
    ];
    prop_oneof![
        Just(None),
        (expires, owner).prop_map(|(expires, owner)| {
            (expires.is_some() || owner.is_some()).then_some(Lease { expires, owner })
        }),
    ]
}

/// One step: a member call, time passing to an instant, or an owner leaving the bus.
#[derive(Debug, Clone)]
enum Step {
    Call(Mutation),
    Expire(u64),
    Gone(&'static str),
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => mutation_strategy().prop_map(Step::Call),
        1 => (0_u64..=4).prop_map(Step::Expire),
        1 => prop::sample::select(&OWNERS[..]).prop_map(Step::Gone),
    ]
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    let conn = prop::sample::select(&CONNS[..]).prop_map(|c| IfName::try_from(c).unwrap());
    let name = prop::sample::select(&["", "a", "b", "game"][..])
        .prop_map(|n| EntryName::try_from(n).unwrap());
    prop_oneof![
        (key_strategy(), name.clone(), lease_strategy())
            .prop_map(|(key, name, lease)| Mutation::OpenGlobalPort { key, name, lease }),
        key_strategy().prop_map(|key| Mutation::CloseGlobalPort { key }),
        conn.clone()
            .prop_map(|connection| Mutation::EnableFirewall { connection }),
        conn.clone()
            .prop_map(|connection| Mutation::DisableFirewall { connection }),
        (conn.clone(), key_strategy(), name.clone(), lease_strategy()).prop_map(
            |(connection, key, name, lease)| Mutation::OpenPort {
                connection,
                key,
                name,
                lease,
            }
        ),
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

fn leased(s: fw6_model::Snapshot<fw6_model::PortEntry>) -> Vec<(PortKey, String, Option<Lease>)> {
    s.into_iter()
        .map(|e| (e.key(), e.name.to_string(), e.lease))
        .collect()
}

fn assert_agree(state: &State, naive: &Naive) {
    assert_eq!(
        entries(state.globally_open_ports()),
        Naive::sorted(plain(Some(&naive.global)).as_ref())
    );
    assert_eq!(
        leased(state.globally_open_ports_detailed()),
        Naive::sorted_leased(Some(&naive.global))
    );
    let leases = naive.global.iter().chain(naive.open.values().flatten());
    assert_eq!(
        state.lease_count(),
        leases.filter(|(_, _, l)| l.is_some()).count()
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
            Naive::sorted(plain(naive.open.get(c)).as_ref())
        );
        assert_eq!(
            leased(state.open_ports_detailed(&conn)),
            Naive::sorted_leased(naive.open.get(c))
        );
        assert_eq!(
            entries(state.ignored_global_ports(&conn)),
            Naive::sorted(naive.ignored.get(c))
        );
        for p in [22, 80, 443, 65535] {
            for proto in [6, 17] {
                let key = PortKey::from_raw(p, proto).unwrap();
                assert_eq!(
                    state.is_port_open(&conn, key),
                    has(plain(naive.open.get(c)).as_ref(), key)
                );
                assert_eq!(
                    state.is_port_globally_open(key),
                    has(plain(Some(&naive.global)).as_ref(), key)
                );
                assert_eq!(
                    state.is_global_port_ignored(&conn, key),
                    has(naive.ignored.get(c), key)
                );
                let d = state.decide(&conn, key);
                assert_eq!(d.allowed, naive.allowed(c, key), "{c} {key}: {d:?}");
                assert_eq!(d.allowed, d.reason.allows());
                if d.reason == Reason::GlobalIgnored {
                    assert!(
                        has(naive.ignored.get(c), key)
                            && has(plain(Some(&naive.global)).as_ref(), key)
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_the_naive_model_and_changes_replay(steps in prop::collection::vec(step_strategy(), 1..60)) {
        let mut state = State::default();
        let mut naive = Naive::default();
        for (i, step) in steps.iter().enumerate() {
            let before = state.clone();
            let changes = match step {
                Step::Call(m) => {
                    let noop = state.is_noop(m);
                    let changes = state.apply(m).unwrap();
                    prop_assert_eq!(noop, changes.is_empty(), "is_noop disagrees with apply for {:?}", m);
                    naive.apply(m);
                    changes
                }
                Step::Expire(now) => {
                    let changes = state.expired(*now);
                    for c in &changes {
                        state.replay(c);
                    }
                    naive.expire(*now);
                    changes
                }
                Step::Gone(name) => {
                    let changes = state.owner_gone("bus", name);
                    prop_assert!(state.owner_gone("other-bus", name).is_empty());
                    for c in &changes {
                        state.replay(c);
                    }
                    naive.gone(name);
                    changes
                }
            };
            assert_agree(&state, &naive);

            let mut replayed = before.clone();
            for c in &changes {
                replayed.replay(c);
            }
            prop_assert_eq!(&replayed, &state, "replaying {:?} of {:?}", changes, step);

            let mut undone = state.clone();
            for c in changes.iter().rev() {
                undone.replay(&c.inverse());
            }
            // Undo restores every query's answer (an entry may remain for a connection that
            // was touched, which is invisible to every member).
            let mut undone_naive = Naive::default();
            for earlier in &steps[..i] {
                match earlier {
                    Step::Call(m) => undone_naive.apply(m),
                    Step::Expire(now) => undone_naive.expire(*now),
                    Step::Gone(name) => undone_naive.gone(name),
                }
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
