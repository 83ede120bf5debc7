//! Every remark of the spec (§2, §3, §7) that the model owns, as a test.

use fw6_model::{
    Change, EntryName, ErrorKind, IfName, LogfileMaximumSize, Mutation, PortKey, Reason, State,
};

fn conn(s: &str) -> IfName {
    IfName::try_from(s).unwrap()
}
fn key(s: &str) -> PortKey {
    s.parse().unwrap()
}
fn name(s: &str) -> EntryName {
    EntryName::try_from(s).unwrap()
}
fn open(c: &str, k: &str, n: &str) -> Mutation {
    Mutation::OpenPort {
        connection: conn(c),
        key: key(k),
        name: name(n),
        lease: None,
    }
}
fn close(c: &str, k: &str) -> Mutation {
    Mutation::ClosePort {
        connection: conn(c),
        key: key(k),
    }
}
fn open_global(k: &str, n: &str) -> Mutation {
    Mutation::OpenGlobalPort {
        key: key(k),
        name: name(n),
        lease: None,
    }
}
fn ignore(c: &str, k: &str, n: &str) -> Mutation {
    Mutation::IgnoreGlobalPort {
        connection: conn(c),
        key: key(k),
        name: name(n),
    }
}
fn names(snapshot: fw6_model::Snapshot<fw6_model::PortEntry>) -> Vec<String> {
    snapshot
        .into_iter()
        .map(|e| format!("{}/{}={}", e.port, e.protocol, e.name))
        .collect()
}

#[test]
fn reopen_is_a_no_op_and_keeps_the_first_name() {
    let mut s = State::default();
    assert_eq!(s.apply(&open("lan0", "80/tcp", "first")).unwrap().len(), 1);
    assert!(
        s.apply(&open("lan0", "80/tcp", "second"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(names(s.open_ports(&conn("lan0"))), ["80/tcp=first"]);
    assert!(s.apply(&open_global("80/tcp", "g1")).unwrap().len() == 1);
    assert!(s.apply(&open_global("80/tcp", "g2")).unwrap().is_empty());
    assert_eq!(names(s.globally_open_ports()), ["80/tcp=g1"]);
    assert!(s.apply(&ignore("lan0", "80/tcp", "i1")).unwrap().len() == 1);
    assert!(s.apply(&ignore("lan0", "80/tcp", "i2")).unwrap().is_empty());
    assert_eq!(names(s.ignored_global_ports(&conn("lan0"))), ["80/tcp=i1"]);
}

#[test]
fn close_then_reopen_takes_the_new_name() {
    let mut s = State::default();
    s.apply(&open("lan0", "80/tcp", "old")).unwrap();
    s.apply(&close("lan0", "80/tcp")).unwrap();
    s.apply(&open("lan0", "80/tcp", "new")).unwrap();
    assert_eq!(names(s.open_ports(&conn("lan0"))), ["80/tcp=new"]);
}

#[test]
fn removing_absent_entries_is_a_no_op() {
    let mut s = State::default();
    let before = s.clone();
    for m in [
        close("lan0", "80/tcp"),
        Mutation::CloseGlobalPort { key: key("80/tcp") },
        Mutation::ObserveGlobalPort {
            connection: conn("lan0"),
            key: key("80/tcp"),
        },
        Mutation::EnableFirewall {
            connection: conn("lan0"),
        },
        Mutation::SetLogDroppedPackets { enabled: false },
        Mutation::SetLogfileMaximumSize {
            kib: LogfileMaximumSize::default(),
        },
    ] {
        assert!(s.apply(&m).unwrap().is_empty(), "{m:?}");
    }
    assert_eq!(s, before, "no-ops leave no trace");
}

#[test]
fn same_pair_has_independent_names_on_two_connections() {
    let mut s = State::default();
    s.apply(&open("lan0", "8080/udp", "game on lan")).unwrap();
    s.apply(&open("wan0", "8080/udp", "game on wan")).unwrap();
    assert_eq!(names(s.open_ports(&conn("lan0"))), ["8080/udp=game on lan"]);
    assert_eq!(names(s.open_ports(&conn("wan0"))), ["8080/udp=game on wan"]);
}

#[test]
fn per_connection_and_global_sets_are_independent() {
    let mut s = State::default();
    s.apply(&open("lan0", "80/tcp", "local")).unwrap();
    s.apply(&open_global("80/tcp", "global")).unwrap();
    // OpenPort on a pair that is only globally open creates its own entry (docs/icf-api.md §7.21).
    s.apply(&open("wan0", "80/tcp", "wan")).unwrap();
    assert!(s.is_port_open(&conn("wan0"), key("80/tcp")));
    // Closing the global pair does not close per-connection ones (CloseGlobalPort remark).
    s.apply(&Mutation::CloseGlobalPort { key: key("80/tcp") })
        .unwrap();
    assert!(!s.is_port_globally_open(key("80/tcp")));
    assert!(s.is_port_open(&conn("lan0"), key("80/tcp")));
    assert_eq!(
        s.decide(&conn("lan0"), key("80/tcp")).reason,
        Reason::OpenOnConnection
    );
    // IsPortOpen answers from the connection's own set only (docs/icf-api.md §7.3).
    s.apply(&open_global("443/tcp", "https")).unwrap();
    assert!(!s.is_port_open(&conn("lan0"), key("443/tcp")));
    assert!(s.decide(&conn("lan0"), key("443/tcp")).allowed);
}

#[test]
fn ignored_global_never_overrides_a_per_connection_open() {
    let mut s = State::default();
    s.apply(&open_global("22/tcp", "ssh")).unwrap();
    s.apply(&ignore("wan0", "22/tcp", "not from outside"))
        .unwrap();
    let d = s.decide(&conn("wan0"), key("22/tcp"));
    assert!(!d.allowed);
    assert_eq!(d.reason, Reason::GlobalIgnored);
    assert!(s.decide(&conn("lan0"), key("22/tcp")).allowed);
    s.apply(&open("wan0", "22/tcp", "admin")).unwrap();
    let d = s.decide(&conn("wan0"), key("22/tcp"));
    assert!(d.allowed);
    assert_eq!(d.reason, Reason::OpenOnConnection);
}

#[test]
fn ignore_before_global_open_takes_effect_when_the_pair_becomes_global() {
    let mut s = State::default();
    assert_eq!(s.apply(&ignore("wan0", "53/udp", "dns")).unwrap().len(), 1);
    assert!(s.is_global_port_ignored(&conn("wan0"), key("53/udp")));
    assert_eq!(
        s.decide(&conn("wan0"), key("53/udp")).reason,
        Reason::NotOpen
    );
    s.apply(&open_global("53/udp", "dns")).unwrap();
    assert_eq!(
        s.decide(&conn("wan0"), key("53/udp")).reason,
        Reason::GlobalIgnored
    );
    assert_eq!(
        s.decide(&conn("lan0"), key("53/udp")).reason,
        Reason::GloballyOpen
    );
}

#[test]
fn a_connection_without_firewall_keeps_and_reports_its_sets() {
    let mut s = State::default();
    assert!(
        s.is_firewalled(&conn("eth9")),
        "unknown connections are firewalled"
    );
    s.apply(&open("lan0", "80/tcp", "web")).unwrap();
    let changes = s
        .apply(&Mutation::DisableFirewall {
            connection: conn("lan0"),
        })
        .unwrap();
    assert_eq!(
        changes,
        [Change::FirewallDisabled {
            connection: conn("lan0")
        }]
    );
    assert!(!s.is_firewalled(&conn("lan0")));
    assert!(s.is_port_open(&conn("lan0"), key("80/tcp")));
    assert_eq!(
        s.decide(&conn("lan0"), key("9/udp")).reason,
        Reason::NotFirewalled
    );
    // Opening ports on a non-firewalled connection is allowed (docs/icf-api.md §7.9).
    assert_eq!(s.apply(&open("lan0", "81/tcp", "")).unwrap().len(), 1);
    s.apply(&Mutation::EnableFirewall {
        connection: conn("lan0"),
    })
    .unwrap();
    assert_eq!(
        s.decide(&conn("lan0"), key("9/udp")).reason,
        Reason::NotOpen
    );
}

#[test]
fn snapshots_do_not_change_when_the_state_changes_afterwards() {
    let mut s = State::default();
    s.apply(&open("lan0", "80/tcp", "a")).unwrap();
    s.apply(&open("lan0", "81/tcp", "b")).unwrap();
    let snap = s.open_ports(&conn("lan0"));
    let global = s.globally_open_ports();
    s.apply(&close("lan0", "80/tcp")).unwrap();
    s.apply(&open("lan0", "82/tcp", "c")).unwrap();
    s.apply(&open_global("1/udp", "x")).unwrap();
    assert_eq!(
        names(snap.clone()),
        ["80/tcp=a", "81/tcp=b"],
        "later removals still seen, additions not"
    );
    assert_eq!(snap.count(), 2);
    assert_eq!(global.count(), 0);
}

#[test]
fn enumerations_are_ordered_by_port_then_protocol() {
    let mut s = State::default();
    for k in ["443/udp", "80/udp", "443/tcp", "22/tcp", "80/tcp"] {
        s.apply(&open_global(k, "")).unwrap();
    }
    let keys: Vec<String> = s
        .globally_open_ports()
        .into_iter()
        .map(|e| e.key().to_string())
        .collect();
    assert_eq!(keys, ["22/tcp", "80/tcp", "80/udp", "443/tcp", "443/udp"]);
}

#[test]
fn enumerator_next_skip_reset_clone_at_the_ends() {
    let mut s = State::default();
    for k in ["1/tcp", "2/tcp", "3/tcp"] {
        s.apply(&open_global(k, "")).unwrap();
    }
    let mut e = s.globally_open_ports();
    assert_eq!(e.next(0).len(), 0);
    assert!(e.skip(2));
    let mut c = e.clone();
    assert_eq!(e.next(5).len(), 1, "S_FALSE: fewer than asked");
    assert_eq!(e.next(1).len(), 0, "S_FALSE at the very end");
    assert!(!e.skip(1));
    assert_eq!(c.next(1)[0].port.get(), 3, "clone keeps the cursor");
    e.reset();
    assert_eq!(e.next(3).len(), 3);
}

#[test]
fn logging_settings_change_and_validate() {
    let mut s = State::default();
    let changes = s
        .apply(&Mutation::SetLogfilePath {
            path: "/var/log/other.log".into(),
        })
        .unwrap();
    assert!(matches!(&changes[..], [Change::Logging { from, to }]
        if from.logfile_path == "/var/log/fw6/firewall.log" && to.logfile_path == "/var/log/other.log"));
    let before = s.clone();
    let err = s
        .apply(&Mutation::SetLogfilePath {
            path: "relative".into(),
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert_eq!(s, before);
}

#[test]
fn a_batch_is_all_or_nothing() {
    let mut s = State::default();
    s.apply(&open("lan0", "80/tcp", "kept")).unwrap();
    let before = s.clone();
    let err = s
        .apply_batch(&[
            open("lan0", "81/tcp", ""),
            Mutation::DisableFirewall {
                connection: conn("wan0"),
            },
            Mutation::SetLogfilePath {
                path: "no/absolute".into(),
            },
        ])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert!(
        err.message().starts_with("batch item 3 (LogfilePath)"),
        "{err}"
    );
    assert_eq!(s, before);
    let changes = s
        .apply_batch(&[open("lan0", "81/tcp", ""), open("lan0", "81/tcp", "dup")])
        .unwrap();
    assert_eq!(changes.len(), 1, "a repeat inside a batch is a no-op too");
}

#[test]
fn adopting_a_connection_follows_the_default() {
    let mut s = State::default();
    assert!(s.adopt_connection(&conn("eth0"), true).is_empty());
    assert!(s.is_firewalled(&conn("eth0")));
    assert_eq!(
        s.adopt_connection(&conn("eth1"), false),
        [Change::FirewallDisabled {
            connection: conn("eth1")
        }]
    );
    s.apply(&Mutation::EnableFirewall {
        connection: conn("eth1"),
    })
    .unwrap();
    assert!(
        s.adopt_connection(&conn("eth1"), false).is_empty(),
        "a configured connection keeps its choice"
    );
    assert!(s.is_firewalled(&conn("eth1")));
}

#[test]
fn bad_input_is_invalid_arg_with_a_useful_message() {
    use fw6_model::{ConnectionId, Port, Protocol};
    let cases: Vec<(fw6_model::Error, &str)> = vec![
        (Port::try_from(0_u32).unwrap_err(), "1-65535"),
        (Port::try_from(65536_u32).unwrap_err(), "1-65535"),
        (Protocol::try_from(0).unwrap_err(), "6 (TCP) or 17 (UDP)"),
        (Protocol::try_from(1).unwrap_err(), "6 (TCP) or 17 (UDP)"),
        (Protocol::try_from(58).unwrap_err(), "6 (TCP) or 17 (UDP)"),
        (Protocol::try_from(255).unwrap_err(), "6 (TCP) or 17 (UDP)"),
        (
            EntryName::try_from("bad\u{7}name").unwrap_err(),
            "control character",
        ),
        (
            EntryName::try_from("n".repeat(256)).unwrap_err(),
            "at most 255 bytes",
        ),
        (
            "{1234}".parse::<ConnectionId>().unwrap_err(),
            "not a connection id",
        ),
        (
            "".parse::<ConnectionId>().unwrap_err(),
            "not a connection id",
        ),
        (
            IfName::try_from("").unwrap_err(),
            "not a valid interface name",
        ),
        (LogfileMaximumSize::try_from(0).unwrap_err(), "1-32767"),
    ];
    for (err, hint) in cases {
        assert_eq!(err.kind(), ErrorKind::InvalidArg, "{err}");
        assert_eq!(err.hresult().0, 0x8007_0057);
        assert!(err.message().contains(hint), "{err} should mention {hint}");
    }
}
