//! Hostile callers (issue 8 §6): a fuzzer over every D-Bus member and property of fw6d (random
//! values, sizes and wrong types; 64 calls in flight), unprivileged callers against every
//! `Apply` item, and oversized requests. Needs root.
//!
//! The fuzzer runs in chunks of concurrent calls. Within a chunk no two calls that could
//! succeed touch the same key, so the order in which they land does not matter: after each
//! chunk the successful calls are applied to a `fw6_model::State`, and the daemon's answers
//! (every fourth chunk), the kernel (every 100 chunks and at the end) and the store (at the end) must
//! equal it. A rejected call that changed anything shows up as a difference. Every reply must
//! be a success, an `org.fw6.Firewall1.Error.*` (never Fail) or a standard D-Bus argument
//! error; no reply (a crash or a hang) fails the run. `FW6_FUZZ_CALLS` sets the count
//! (default 100,000).

#![expect(
    clippy::assigning_clones,
    clippy::many_single_char_names,
    clippy::similar_names,
    reason = "a generator of many small random calls: short local names read best here"
)]

mod common;
mod reliability;

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use common::{CONN_IFACE, Lab, MANAGER, MANAGER_IFACE};
use fw6_model::{EntryName, IfName, LogfileMaximumSize, Member, Mutation, PortKey, State};
use fw6_testkit::stats::Rng;
use reliability::{Facts, Reply, figure};
use zbus::{Structure, Variant as Value};

const IN_FLIGHT: usize = 64;
const PROPS: &str = "org.freedesktop.DBus.Properties";

const MUTATORS_M: [&str; 3] = ["OpenGlobalPort", "CloseGlobalPort", "ApplyConfirmable"];
/// Without a pending change, `Confirm` and `Revert` of any token are refused and change nothing.
const READS_M: [&str; 8] = [
    "EnumerateConnections",
    "GetConnection",
    "IsPortGloballyOpen",
    "EnumerateGloballyOpenPorts",
    "Explain",
    "Status",
    "Confirm",
    "Revert",
];
const MUTATORS_C: [&str; 6] = [
    "EnableFirewall",
    "DisableFirewall",
    "OpenPort",
    "ClosePort",
    "IgnoreGlobalPort",
    "ObserveGlobalPort",
];
const READS_C: [&str; 5] = [
    "IsPortOpen",
    "EnumerateOpenPorts",
    "IsGlobalPortIgnored",
    "EnumerateIgnoredGlobalPorts",
    "Explain",
];

/// The names an `Apply` item may carry (the twelve, from the model), and one that does not exist.
static APPLY_MEMBERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    Member::ALL
        .iter()
        .map(|m| m.as_str())
        .chain(["Bogus"])
        .collect()
});
/// A random string: empty, short words, control characters, long runs, odd Unicode.
fn text(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => String::new(),
        1 => "\u{7}bell".to_owned(),
        2 => "x".repeat(usize::try_from(rng.below(600)).unwrap()),
        3 => "é\u{202e}名前".to_owned(),
        4 => format!("/var/log/fw6/{}.log", rng.below(3)),
        5 => "relative/path".to_owned(),
        6 => "{2F6C1E34-0000-5000-8000-000000000000}".to_owned(),
        7 => "lan0".to_owned(),
        _ => format!("n{}", rng.below(1000)),
    }
}

/// A random value of a random D-Bus type.
fn value(rng: &mut Rng) -> Value<'static> {
    match rng.below(10) {
        0 => Value::U16(u16::try_from(rng.below(65_536)).unwrap()),
        1 => Value::U32(u32::try_from(rng.below(1 << 32)).unwrap()),
        2 => Value::I32(-1),
        3 => Value::Bool(rng.one_in(2)),
        4 => Value::F64(1e300),
        5 => Value::U8(255),
        6 => Value::from(vec![0u8; usize::try_from(rng.below(4096)).unwrap()]),
        7 => Value::from(vec![text(rng), text(rng)]),
        8 => Value::Variant(Box::new(Value::from(text(rng)))),
        _ => Value::from(text(rng)),
    }
}

/// A port for a call that may succeed: fresh in this chunk, so calls cannot race on it.
struct Pool {
    used: BTreeSet<String>,
}

impl Pool {
    /// A (port, protocol) whose facts no other call of this chunk touches; sometimes invalid.
    fn key(&mut self, rng: &mut Rng) -> (u16, u32) {
        match rng.below(12) {
            0 => (0, 6),
            1 => (80, u32::try_from(rng.below(300)).unwrap()),
            _ => {
                // Bounded: a chunk needs at most ~400 of the 1,200 keys (a small range keeps the
                // state, and so every comparison, small).
                for _ in 0..100 {
                    let port = u16::try_from(1 + rng.below(600)).unwrap() + 30_000;
                    let protocol = if rng.one_in(2) { 6 } else { 17 };
                    if self.used.insert(format!("{port}/{protocol}")) {
                        return (port, protocol);
                    }
                }
                (0, 6)
            }
        }
    }

    /// Claims a whole-object key (a connection's switch, a logging setting) for this chunk.
    fn claim(&mut self, what: &str) -> bool {
        self.used.insert(what.to_owned())
    }
}

struct FuzzCall {
    path: String,
    iface: &'static str,
    member: String,
    body: Option<Structure<'static>>,
    /// The mutations a success means; None if the call cannot change state.
    effect: Option<Vec<Mutation>>,
    /// The call can only be refused (a claimed key, a bad value): success is a bug.
    must_fail: bool,
}

fn key_of(port: u16, protocol: u32) -> Option<PortKey> {
    PortKey::from_raw(u32::from(port), protocol).ok()
}

fn st(fields: Vec<Value<'static>>) -> Option<Structure<'static>> {
    if fields.is_empty() {
        return None;
    }
    let mut b = Structure::builder();
    for f in fields {
        b = b.append_field(f);
    }
    Some(b.build().expect("a structure"))
}

/// One random call. `paths` are lan0's and wan0's objects.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per kind of call the fuzzer makes"
)]
fn fuzz_call(rng: &mut Rng, pool: &mut Pool, paths: &[(String, String); 2]) -> FuzzCall {
    let conn = &paths[rng.pick(2)];
    let ifname = IfName::try_from(conn.0.as_str()).unwrap();
    let mut call = FuzzCall {
        path: MANAGER.to_owned(),
        iface: MANAGER_IFACE,
        member: String::new(),
        body: None,
        effect: None,
        must_fail: false,
    };
    match rng.below(16) {
        // Wrong types / arity / members / objects: random bodies anywhere.
        0..=3 => {
            let on_conn = rng.one_in(2);
            if on_conn {
                call.path.clone_from(&conn.1);
                call.iface = CONN_IFACE;
            }
            let all: Vec<&str> = if on_conn {
                MUTATORS_C.iter().chain(&READS_C).copied().collect()
            } else {
                MUTATORS_M
                    .iter()
                    .chain(&READS_M)
                    .chain(&["Apply", "Nope"])
                    .copied()
                    .collect()
            };
            call.member = all[rng.pick(all.len())].to_owned();
            let n = rng.pick(5);
            call.body = st((0..n).map(|_| value(rng)).collect());
            if rng.one_in(8) {
                call.path = format!("/org/fw6/Firewall1/connection/{}", rng.below(1000));
            }
            // Only an exactly typed body can succeed; such a one is rare, but then it is a
            // legitimate call whose effect this generator did not plan: refuse the mutators.
            call.must_fail = false;
            call.effect = Some(Vec::new());
            if MUTATORS_C.contains(&call.member.as_str())
                || MUTATORS_M.contains(&call.member.as_str())
                || call.member == "Apply"
            {
                // A well-typed random body for a mutator would change state unplanned; use a
                // signature that can never match (an extra leading f64).
                let mut fields = vec![Value::F64(0.5)];
                fields.extend((0..n).map(|_| value(rng)));
                call.body = st(fields);
                call.must_fail = true;
                call.effect = None;
            }
        }
        // Typed mutator calls with random values.
        4..=8 => {
            let (port, protocol) = pool.key(rng);
            let k = key_of(port, protocol);
            let name = if rng.one_in(4) {
                text(rng)
            } else {
                "fz".to_owned()
            };
            let n = EntryName::try_from(name.as_str()).ok();
            let named = |m: &str| {
                if m.contains("Open") || m.contains("Ignore") {
                    st(vec![
                        Value::U16(port),
                        Value::U32(protocol),
                        Value::from(name.clone()),
                    ])
                } else {
                    st(vec![Value::U16(port), Value::U32(protocol)])
                }
            };
            if rng.one_in(3) {
                let member = MUTATORS_M[rng.pick(2)];
                call.member = member.to_owned();
                call.body = named(member);
                call.effect = match (member, k, &n) {
                    ("OpenGlobalPort", Some(key), Some(name)) => {
                        Some(vec![Mutation::OpenGlobalPort {
                            key,
                            name: name.clone(),
                            lease: None,
                        }])
                    }
                    ("CloseGlobalPort", Some(key), _) => {
                        Some(vec![Mutation::CloseGlobalPort { key }])
                    }
                    _ => None,
                };
            } else {
                let member = MUTATORS_C[2 + rng.pick(4)];
                call.path.clone_from(&conn.1);
                call.iface = CONN_IFACE;
                call.member = member.to_owned();
                call.body = named(member);
                let c = ifname.clone();
                call.effect = match (member, k, &n) {
                    ("OpenPort", Some(key), Some(name)) => Some(vec![Mutation::OpenPort {
                        connection: c,
                        key,
                        name: name.clone(),
                        lease: None,
                    }]),
                    ("ClosePort", Some(key), _) => {
                        Some(vec![Mutation::ClosePort { connection: c, key }])
                    }
                    ("IgnoreGlobalPort", Some(key), Some(name)) => {
                        Some(vec![Mutation::IgnoreGlobalPort {
                            connection: c,
                            key,
                            name: name.clone(),
                        }])
                    }
                    ("ObserveGlobalPort", Some(key), _) => {
                        Some(vec![Mutation::ObserveGlobalPort { connection: c, key }])
                    }
                    _ => None,
                };
            }
            call.must_fail = call.effect.is_none();
        }
        // The firewall switch, once per connection per chunk.
        9 => {
            call.path.clone_from(&conn.1);
            call.iface = CONN_IFACE;
            let enable = rng.one_in(2);
            call.member = if enable {
                "EnableFirewall"
            } else {
                "DisableFirewall"
            }
            .to_owned();
            if pool.claim(&format!("switch {}", conn.0)) {
                call.effect = Some(vec![if enable {
                    Mutation::EnableFirewall { connection: ifname }
                } else {
                    Mutation::DisableFirewall { connection: ifname }
                }]);
            } else {
                // Claimed: make it unmistakably bad instead (an argument it does not take).
                call.body = st(vec![Value::U32(1)]);
                call.must_fail = true;
            }
        }
        // Properties: Set with random values, Get/GetAll.
        10..=11 => {
            call.iface = PROPS;
            let props = [
                "LogfilePath",
                "LogfileMaximumSize",
                "LogDroppedPackets",
                "LogConnections",
                "Nope",
            ];
            let prop = props[rng.pick(props.len())];
            if rng.one_in(3) {
                call.member = "Get".to_owned();
                call.body = st(vec![Value::from(MANAGER_IFACE), Value::from(prop)]);
                call.effect = Some(Vec::new());
            } else {
                call.member = "Set".to_owned();
                let v = match (prop, rng.below(3)) {
                    ("LogfilePath", 0) => Value::from(text(rng)),
                    ("LogfileMaximumSize", 0) => {
                        Value::U32(u32::try_from(rng.below(40_000)).unwrap())
                    }
                    ("LogDroppedPackets" | "LogConnections", 0) => Value::Bool(rng.one_in(2)),
                    _ => value(rng),
                };
                let effect = match (prop, &v) {
                    ("LogfilePath", Value::Str(s)) => Some(Mutation::SetLogfilePath {
                        path: s.to_string(),
                    }),
                    ("LogfileMaximumSize", Value::U32(kib)) => LogfileMaximumSize::try_from(*kib)
                        .ok()
                        .map(|kib| Mutation::SetLogfileMaximumSize { kib }),
                    ("LogDroppedPackets", Value::Bool(b)) => {
                        Some(Mutation::SetLogDroppedPackets { enabled: *b })
                    }
                    ("LogConnections", Value::Bool(b)) => {
                        Some(Mutation::SetLogConnections { enabled: *b })
                    }
                    _ => None,
                };
                call.body = st(vec![
                    Value::from(MANAGER_IFACE),
                    Value::from(prop),
                    Value::Variant(Box::new(v)),
                ]);
                if effect.is_some() && !pool.claim(prop) {
                    call.body = st(vec![Value::from(MANAGER_IFACE), Value::from(prop)]);
                    call.must_fail = true;
                } else {
                    call.must_fail = effect.is_none();
                    call.effect = effect.map(|m| vec![m]);
                }
            }
        }
        // Apply with random items (sometimes one bad item among good ones).
        12..=13 => {
            call.member = "Apply".to_owned();
            let most = if rng.one_in(10) { 300 } else { 6 };
            let n = 1 + rng.pick(most);
            let mut items: Vec<(String, String, u16, u32, String, String)> = Vec::new();
            let mut effect = Some(Vec::new());
            let mut mine = BTreeSet::new();
            for _ in 0..n {
                let mut member = APPLY_MEMBERS[rng.pick(APPLY_MEMBERS.len())];
                let (port, protocol) = pool.key(rng);
                let conn_name = if rng.one_in(5) {
                    // An absent but valid interface, an id, and names that are not interfaces.
                    [
                        "ghost0",
                        "{2F6C1E34-0000-5000-8000-000000000000}",
                        "",
                        "interface-name-too-long",
                        "bad/name",
                        "a\u{7}",
                    ][rng.pick(6)]
                    .to_owned()
                } else {
                    conn.0.clone()
                };
                let name = if rng.one_in(5) {
                    text(rng)
                } else {
                    String::new()
                };
                let value = match member {
                    "LogfilePath" => text(rng),
                    "LogfileMaximumSize" => rng.below(40_000).to_string(),
                    _ => ["true", "false", "on", "maybe", ""][rng.pick(5)].to_owned(),
                };
                let c = IfName::try_from(conn_name.as_str()).ok();
                let k = key_of(port, protocol);
                let nm = EntryName::try_from(name.as_str()).ok();
                let flag = match value.as_str() {
                    "true" | "on" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
                // A whole object (a switch, a setting) another call of this chunk claimed would
                // make the order matter: such an item becomes an unknown member, so the whole
                // batch must be refused. Claimed by this call already is fine (a batch is
                // ordered).
                let object = match member {
                    "EnableFirewall" | "DisableFirewall" => {
                        c.as_ref().map(|c| format!("switch {c}"))
                    }
                    "LogfilePath" | "LogfileMaximumSize" | "LogDroppedPackets"
                    | "LogConnections" => Some(member.to_owned()),
                    _ => None,
                };
                if let Some(what) = object
                    && !mine.contains(&what)
                    && !(pool.claim(&what) && mine.insert(what))
                {
                    member = "Bogus";
                }
                let whole = |_: &mut Pool, _: String| true;
                let m = match member {
                    "OpenGlobalPort" => {
                        k.zip(nm.clone())
                            .map(|(key, name)| Mutation::OpenGlobalPort {
                                key,
                                name,
                                lease: None,
                            })
                    }
                    "CloseGlobalPort" => k.map(|key| Mutation::CloseGlobalPort { key }),
                    "EnableFirewall" => c
                        .clone()
                        .filter(|c| whole(pool, format!("switch {c}")))
                        .map(|connection| Mutation::EnableFirewall { connection }),
                    "DisableFirewall" => c
                        .clone()
                        .filter(|c| whole(pool, format!("switch {c}")))
                        .map(|connection| Mutation::DisableFirewall { connection }),
                    "OpenPort" => {
                        c.clone()
                            .zip(k)
                            .zip(nm.clone())
                            .map(|((connection, key), name)| Mutation::OpenPort {
                                connection,
                                key,
                                name,
                                lease: None,
                            })
                    }
                    "ClosePort" => c
                        .clone()
                        .zip(k)
                        .map(|(connection, key)| Mutation::ClosePort { connection, key }),
                    "IgnoreGlobalPort" => {
                        c.clone()
                            .zip(k)
                            .zip(nm.clone())
                            .map(|((connection, key), name)| Mutation::IgnoreGlobalPort {
                                connection,
                                key,
                                name,
                            })
                    }
                    "ObserveGlobalPort" => c
                        .clone()
                        .zip(k)
                        .map(|(connection, key)| Mutation::ObserveGlobalPort { connection, key }),
                    "LogfilePath" => {
                        whole(pool, "LogfilePath".into()).then(|| Mutation::SetLogfilePath {
                            path: value.clone(),
                        })
                    }
                    "LogfileMaximumSize" => value
                        .parse()
                        .ok()
                        .and_then(|kib: u32| LogfileMaximumSize::try_from(kib).ok())
                        .filter(|_| whole(pool, "LogfileMaximumSize".into()))
                        .map(|kib| Mutation::SetLogfileMaximumSize { kib }),
                    "LogDroppedPackets" => flag
                        .filter(|_| whole(pool, "LogDroppedPackets".into()))
                        .map(|enabled| Mutation::SetLogDroppedPackets { enabled }),
                    "LogConnections" => flag
                        .filter(|_| whole(pool, "LogConnections".into()))
                        .map(|enabled| Mutation::SetLogConnections { enabled }),
                    _ => None,
                };
                match (m, effect.as_mut()) {
                    (Some(m), Some(e)) => e.push(m),
                    _ => effect = None,
                }
                items.push((member.to_owned(), conn_name, port, protocol, name, value));
            }
            call.must_fail = effect.is_none();
            call.effect = effect;
            call.body = st(vec![Value::from(items)]);
        }
        // Reads with random values.
        _ => {
            if rng.one_in(2) {
                call.member = READS_M[rng.pick(READS_M.len())].to_owned();
                call.body = match call.member.as_str() {
                    "GetConnection" | "Confirm" | "Revert" => st(vec![Value::from(text(rng))]),
                    "IsPortGloballyOpen" => st(vec![
                        Value::U16(u16::try_from(rng.below(65_536)).unwrap()),
                        Value::U32(u32::try_from(rng.below(20)).unwrap()),
                    ]),
                    "Explain" => st(vec![Value::from(text(rng)), Value::U16(80), Value::U32(6)]),
                    _ => None,
                };
            } else {
                call.path.clone_from(&conn.1);
                call.iface = CONN_IFACE;
                call.member = READS_C[rng.pick(READS_C.len())].to_owned();
                call.body = match call.member.as_str() {
                    "IsPortOpen" | "IsGlobalPortIgnored" | "Explain" => st(vec![
                        Value::U16(u16::try_from(rng.below(65_536)).unwrap()),
                        Value::U32(u32::try_from(rng.below(20)).unwrap()),
                    ]),
                    _ => None,
                };
            }
            call.effect = Some(Vec::new());
        }
    }
    call
}

async fn send(conn: zbus::Connection, call: FuzzCall) -> (FuzzCall, Reply) {
    let result = match &call.body {
        Some(body) => reliability::call(&conn, &call.path, call.iface, &call.member, body).await,
        None => reliability::call(&conn, &call.path, call.iface, &call.member, &()).await,
    };
    let reply = Reply::of(&result);
    (call, reply)
}

/// Bus-level refusals a hostile caller may get: wrong signature, unknown member/object/property.
fn standard(name: &str) -> bool {
    matches!(
        name,
        "org.freedesktop.DBus.Error.InvalidArgs"
            | "org.freedesktop.DBus.Error.UnknownMethod"
            | "org.freedesktop.DBus.Error.UnknownObject"
            | "org.freedesktop.DBus.Error.UnknownInterface"
            | "org.freedesktop.DBus.Error.UnknownProperty"
            | "org.freedesktop.DBus.Error.PropertyReadOnly"
            | "org.freedesktop.DBus.Error.InvalidSignature"
    )
}

fn logging_facts(state: &State) -> [String; 4] {
    let l = state.logging();
    [
        l.logfile_path.clone(),
        l.logfile_maximum_size.kib().to_string(),
        l.log_dropped_packets.to_string(),
        l.log_connections.to_string(),
    ]
}

async fn daemon_logging(conn: &zbus::Connection) -> [String; 4] {
    let mut out: [String; 4] = Default::default();
    for (i, prop) in [
        "LogfilePath",
        "LogfileMaximumSize",
        "LogDroppedPackets",
        "LogConnections",
    ]
    .iter()
    .enumerate()
    {
        let reply = reliability::call(conn, MANAGER, PROPS, "Get", &(MANAGER_IFACE, *prop))
            .await
            .unwrap();
        let v: zbus::OwnedVariant = reply.body().deserialize().unwrap();
        out[i] = match &*v {
            Value::Str(s) => s.to_string(),
            Value::U32(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => format!("{other:?}"),
        };
    }
    out
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "the fuzz loop and its checks, in order"
)]
fn a_fuzzer_over_every_member_finds_no_crash_and_no_change_from_a_rejected_call() {
    fw6_testkit::require_root("reliability_fuzz");
    let calls: usize = std::env::var("FW6_FUZZ_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if reliability::long() {
            1_000_000
        } else {
            100_000
        });
    let budget = Duration::from_secs(if reliability::long() { 3600 } else { 420 });
    let mut rng = Rng::seeded("D-Bus fuzzer");
    let lab = Lab::start();
    let rt = reliability::runtime();
    let conn = rt.block_on(reliability::connect(lab.bus.address()));
    let paths = rt.block_on(async {
        [
            (
                "lan0".to_owned(),
                reliability::connection_path(&conn, "lan0").await,
            ),
            (
                "wan0".to_owned(),
                reliability::connection_path(&conn, "wan0").await,
            ),
        ]
    });
    let (initial, _) = reliability::store_facts(&lab.state_dir);
    // The model starts from the daemon's own first-start state, rebuilt from its answers.
    let mut model = State::default();
    for fact in &initial.keys {
        let (proto, port) = fact.trim_start_matches("G ").split_once('/').unwrap();
        let protocol = if proto == "tcp" { 6 } else { 17 };
        let key = PortKey::from_raw(port.parse().unwrap(), protocol).unwrap();
        let name = EntryName::try_from(initial.names[fact].as_str()).unwrap();
        model
            .apply(&Mutation::OpenGlobalPort {
                key,
                name,
                lease: None,
            })
            .unwrap();
    }
    assert_eq!(
        Facts::of_state(&model),
        initial,
        "the model starts where the daemon does"
    );
    assert_eq!(rt.block_on(daemon_logging(&conn)), logging_facts(&model));

    let (mut sent, mut ok, mut fw, mut bus, mut chunks, mut applied) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let start = Instant::now();
    while sent < calls && start.elapsed() < budget {
        let mut pool = Pool {
            used: BTreeSet::new(),
        };
        let batch: Vec<FuzzCall> = (0..IN_FLIGHT.min(calls - sent))
            .map(|_| fuzz_call(&mut rng, &mut pool, &paths))
            .collect();
        sent += batch.len();
        let results = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for call in batch {
                set.spawn(send(conn.clone(), call));
            }
            let mut out = Vec::new();
            while let Some(r) = set.join_next().await {
                out.push(r.expect("a fuzz task"));
            }
            out
        });
        chunks += 1;
        for (call, reply) in results {
            match &reply {
                Reply::Ok => {
                    ok += 1;
                    assert!(
                        !call.must_fail,
                        "{} {:?} succeeded but must be refused",
                        call.member, call.body
                    );
                    let effect = call.effect.unwrap_or_else(|| {
                        panic!(
                            "{} {:?} succeeded with an unplanned effect",
                            call.member, call.body
                        )
                    });
                    if !effect.is_empty() {
                        applied += 1;
                        model.apply_batch(&effect).unwrap_or_else(|e| {
                            panic!("the daemon accepted what the model refuses: {effect:?}: {e}")
                        });
                    }
                }
                Reply::Fw(kind, msg) => {
                    fw += 1;
                    assert!(
                        kind != "Fail" && kind != "Unexpected",
                        "{} got {kind}: {msg}\n{}",
                        call.member,
                        lab.log()
                    );
                    assert!(
                        msg.contains("0x8"),
                        "an fw6 error carries its HRESULT: {msg}"
                    );
                    *kinds.entry(format!("fw6 {kind}")).or_default() += 1;
                }
                Reply::Bus(name, msg) => {
                    bus += 1;
                    assert!(standard(name), "{} got {name}: {msg}", call.member);
                    *kinds.entry(name.clone()).or_default() += 1;
                }
                Reply::Gone(why) => panic!(
                    "no reply to {} {:?}: {why}\n{}",
                    call.member,
                    call.body,
                    lab.log()
                ),
            }
        }
        let answers = rt
            .block_on(reliability::dbus_facts(&conn))
            .expect("the daemon answers");
        let want = Facts::of_state(&model);
        assert_eq!(
            answers,
            want,
            "daemon vs model after chunk {chunks}:\n{}",
            answers.diff(&want, true)
        );
        if chunks % 100 == 0 {
            let kernel = reliability::kernel_facts(&lab);
            assert_eq!(
                kernel.keys,
                want.keys,
                "kernel vs model after chunk {chunks}:\n{}",
                kernel.diff(&want, false)
            );
        }
    }
    let elapsed = start.elapsed();
    let want = Facts::of_state(&model);
    let (store, integrity) = reliability::store_facts(&lab.state_dir);
    assert_eq!(integrity, Ok(()));
    assert_eq!(store, want, "store vs model:\n{}", store.diff(&want, true));
    assert_eq!(reliability::kernel_facts(&lab).keys, want.keys);
    assert_eq!(
        rt.block_on(daemon_logging(&conn)),
        logging_facts(&model),
        "logging settings"
    );
    assert!(lab.bus.name_has_owner(common::BUS_NAME), "the daemon is up");
    figure("fuzz.calls", sent);
    figure("fuzz.seconds", format!("{:.1}", elapsed.as_secs_f64()));
    figure("fuzz.succeeded", ok);
    figure("fuzz.succeeded_changing_state", applied);
    figure("fuzz.refused_by_fw6", fw);
    figure("fuzz.refused_by_dbus_layer", bus);
    figure("fuzz.no_reply_or_crash", 0);
    for (kind, n) in &kinds {
        println!("FIGURE fuzz.reply {kind} = {n}");
    }
    assert!(sent >= calls, "only {sent} calls in {elapsed:?}");
}
