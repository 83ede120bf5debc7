//! Every member over D-Bus against the model: a seeded sequence of all 12 state-changing
//! members, each sent through its own D-Bus member, and after every step every query member
//! compared with `fw6_model::State` driven by the same sequence. Needs root.

mod common;

use common::{Lab, data};
use fw6_model::{EntryName, IfName, LogfileMaximumSize, Mutation, PortKey, State};
use fw6_testkit::stats::Rng;
use serde_json::json;

const CONNS: [&str; 2] = ["lan0", "wan0"];
const KEYS: [(u16, u32); 4] = [(22, 6), (80, 6), (80, 17), (5353, 17)];
const NAMES: [&str; 3] = ["a", "b", ""];

fn key((port, protocol): (u16, u32)) -> PortKey {
    PortKey::from_raw(u32::from(port), protocol).unwrap()
}

/// One random member call: (the mutation for the model, how to send it).
fn step(rng: &mut Rng) -> Mutation {
    let conn = IfName::try_from(CONNS[rng.pick(CONNS.len())]).unwrap();
    let k = key(KEYS[rng.pick(KEYS.len())]);
    let name = EntryName::try_from(NAMES[rng.pick(NAMES.len())]).unwrap();
    match rng.pick(12) {
        0 => Mutation::OpenGlobalPort {
            key: k,
            name,
            lease: None,
        },
        1 => Mutation::CloseGlobalPort { key: k },
        2 => Mutation::EnableFirewall { connection: conn },
        3 => Mutation::DisableFirewall { connection: conn },
        4 | 5 => Mutation::OpenPort {
            connection: conn,
            key: k,
            name,
            lease: None,
        },
        6 => Mutation::ClosePort {
            connection: conn,
            key: k,
        },
        7 => Mutation::IgnoreGlobalPort {
            connection: conn,
            key: k,
            name,
        },
        8 => Mutation::ObserveGlobalPort {
            connection: conn,
            key: k,
        },
        9 => Mutation::SetLogfilePath {
            path: format!("/var/log/fw6/{}.log", NAMES[rng.pick(2)]),
        },
        10 => Mutation::SetLogfileMaximumSize {
            kib: LogfileMaximumSize::try_from([1, 64, 4096][rng.pick(3)]).unwrap(),
        },
        _ => {
            if rng.pick(2) == 0 {
                Mutation::SetLogDroppedPackets {
                    enabled: rng.pick(2) == 0,
                }
            } else {
                Mutation::SetLogConnections {
                    enabled: rng.pick(2) == 0,
                }
            }
        }
    }
}

fn send(lab: &Lab, m: &Mutation) {
    let kp = |k: &PortKey| (k.port.to_string(), k.protocol.number().to_string());
    let result = match m {
        Mutation::OpenGlobalPort { key, name, .. } => {
            let (p, q) = kp(key);
            lab.manager("OpenGlobalPort", &["qus", &p, &q, name.as_str()])
        }
        Mutation::CloseGlobalPort { key } => {
            let (p, q) = kp(key);
            lab.manager("CloseGlobalPort", &["qu", &p, &q])
        }
        Mutation::EnableFirewall { connection } => {
            lab.connection(connection.as_str(), "EnableFirewall", &[])
        }
        Mutation::DisableFirewall { connection } => {
            lab.connection(connection.as_str(), "DisableFirewall", &[])
        }
        Mutation::OpenPort {
            connection,
            key,
            name,
            ..
        } => {
            let (p, q) = kp(key);
            lab.connection(
                connection.as_str(),
                "OpenPort",
                &["qus", &p, &q, name.as_str()],
            )
        }
        Mutation::ClosePort { connection, key } => {
            let (p, q) = kp(key);
            lab.connection(connection.as_str(), "ClosePort", &["qu", &p, &q])
        }
        Mutation::IgnoreGlobalPort {
            connection,
            key,
            name,
        } => {
            let (p, q) = kp(key);
            lab.connection(
                connection.as_str(),
                "IgnoreGlobalPort",
                &["qus", &p, &q, name.as_str()],
            )
        }
        Mutation::ObserveGlobalPort { connection, key } => {
            let (p, q) = kp(key);
            lab.connection(connection.as_str(), "ObserveGlobalPort", &["qu", &p, &q])
        }
        Mutation::SetLogfilePath { path } => lab.property("LogfilePath", Some(&["s", path])),
        Mutation::SetLogfileMaximumSize { kib } => {
            lab.property("LogfileMaximumSize", Some(&["u", &kib.kib().to_string()]))
        }
        Mutation::SetLogDroppedPackets { enabled } => {
            lab.property("LogDroppedPackets", Some(&["b", &enabled.to_string()]))
        }
        Mutation::SetLogConnections { enabled } => {
            lab.property("LogConnections", Some(&["b", &enabled.to_string()]))
        }
    };
    result.unwrap_or_else(|e| panic!("{m:?}: {e}"));
}

fn entries(s: fw6_model::Snapshot<fw6_model::PortEntry>) -> serde_json::Value {
    let list: Vec<_> = s
        .into_iter()
        .map(|e| json!([e.port.get(), e.protocol.number(), e.name.as_str()]))
        .collect();
    json!([list])
}

fn compare(lab: &Lab, model: &State, at: &str) {
    assert_eq!(
        data(&lab.manager("EnumerateGloballyOpenPorts", &[]).unwrap()),
        entries(model.globally_open_ports()),
        "{at}"
    );
    let logging = model.logging();
    assert_eq!(
        data(&lab.property("LogfilePath", None).unwrap()),
        json!(logging.logfile_path),
        "{at}"
    );
    assert_eq!(
        data(&lab.property("LogfileMaximumSize", None).unwrap()),
        json!(logging.logfile_maximum_size.kib()),
        "{at}"
    );
    assert_eq!(
        data(&lab.property("LogDroppedPackets", None).unwrap()),
        json!(logging.log_dropped_packets),
        "{at}"
    );
    assert_eq!(
        data(&lab.property("LogConnections", None).unwrap()),
        json!(logging.log_connections),
        "{at}"
    );
    for c in CONNS {
        let conn = IfName::try_from(c).unwrap();
        assert_eq!(
            data(&lab.connection(c, "EnumerateOpenPorts", &[]).unwrap()),
            entries(model.open_ports(&conn)),
            "{at} {c}"
        );
        assert_eq!(
            data(
                &lab.connection(c, "EnumerateIgnoredGlobalPorts", &[])
                    .unwrap()
            ),
            entries(model.ignored_global_ports(&conn)),
            "{at} {c}"
        );
        let firewalled = lab.connection_property(c, "IsFirewalled").unwrap();
        assert_eq!(
            data(&firewalled),
            json!(model.is_firewalled(&conn)),
            "{at} {c}"
        );
        for k in KEYS {
            let (p, q) = (k.0.to_string(), k.1.to_string());
            let key = key(k);
            assert_eq!(
                data(&lab.connection(c, "IsPortOpen", &["qu", &p, &q]).unwrap()),
                json!([model.is_port_open(&conn, key)]),
                "{at} {c} {key}"
            );
            assert_eq!(
                data(
                    &lab.connection(c, "IsGlobalPortIgnored", &["qu", &p, &q])
                        .unwrap()
                ),
                json!([model.is_global_port_ignored(&conn, key)]),
                "{at} {c} {key}"
            );
            let d = model.decide(&conn, key);
            assert_eq!(
                data(&lab.connection(c, "Explain", &["qu", &p, &q]).unwrap()),
                json!([d.allowed, d.reason.as_str(), d.reason.to_string()]),
                "{at} {c} {key}"
            );
        }
    }
    for k in KEYS {
        let (p, q) = (k.0.to_string(), k.1.to_string());
        assert_eq!(
            data(&lab.manager("IsPortGloballyOpen", &["qu", &p, &q]).unwrap()),
            json!([model.is_port_globally_open(key(k))]),
            "{at}"
        );
    }
}

#[test]
fn every_member_agrees_with_the_model() {
    let lab = Lab::with("seed_global = []\n", false);
    let mut model = State::default();
    compare(&lab, &model, "start");
    let mut rng = Rng::new(0x5eed_f6f6_0001);
    for n in 1..=60 {
        let m = step(&mut rng);
        send(&lab, &m);
        model.apply(&m).unwrap();
        compare(&lab, &model, &format!("step {n} ({m:?})"));
    }
}
