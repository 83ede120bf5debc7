//! fw6d end to end: the real binary in a network namespace, a private bus, real nftables and
//! real packets from peer namespaces. Needs root; fails loudly without it.

mod common;

use std::time::Duration;

use common::{Lab, MANAGER, data};
use fw6_testkit::{Family, Outcome};

const DROP: Duration = Duration::from_millis(400);

/// TCP connect from `conn`'s peer to the host's `port` over both families, each expected to
/// end with `outcome`.
fn both(conn: &fw6_testkit::Connection, port: u16, outcome: Outcome, why: &str) {
    for f in Family::ALL {
        assert_eq!(conn.tcp_connect_in(f, port, DROP), outcome, "{f}: {why}");
    }
}

#[test]
fn an_opened_port_is_enforced_and_survives_a_restart() {
    let mut lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    both(
        lab.topology.lan(),
        8080,
        Outcome::TimedOut,
        "closed by default",
    );

    let lan0 = lab.connection_path("lan0");
    lab.call(
        &lan0,
        common::CONN_IFACE,
        "OpenPort",
        &["qus", "8080", "6", "web"],
    )
    .unwrap();
    both(lab.topology.lan(), 8080, Outcome::Connected, "opened");
    both(lab.topology.wan(), 8080, Outcome::TimedOut, "only on lan0");

    lab.stop_daemon("KILL");
    both(
        lab.topology.lan(),
        8080,
        Outcome::Connected,
        "a dead daemon leaves the rules in place",
    );
    both(lab.topology.wan(), 8080, Outcome::TimedOut, "fail closed");
    lab.start_daemon();
    let ports = data(&lab.connection("lan0", "EnumerateOpenPorts", &[]).unwrap());
    assert_eq!(ports, serde_json::json!([[[8080, 6, "web"]]]));
    both(
        lab.topology.lan(),
        8080,
        Outcome::Connected,
        "after the restart",
    );
}

#[test]
fn families_ipv6_leaves_ipv4_to_others() {
    let lab = Lab::with("families = [\"ipv6\"]\n", false);
    let _web = lab.topology.host().tcp_listen(8080);
    let lan = lab.topology.lan();
    assert_eq!(
        lan.tcp_connect_in(Family::V6, 8080, DROP),
        Outcome::TimedOut
    );
    assert_eq!(
        lan.tcp_connect_in(Family::V4, 8080, DROP),
        Outcome::Connected
    );
    let status = data(&lab.manager("Status", &[]).unwrap());
    assert_eq!(
        status[0]["families"]["data"],
        serde_json::json!(["ipv6"]),
        "{status}"
    );
}

#[test]
fn first_start_seeds_ssh_and_dhcpv6_client() {
    let lab = Lab::start();
    let global = data(&lab.manager("EnumerateGloballyOpenPorts", &[]).unwrap());
    assert_eq!(
        global,
        serde_json::json!([[[22, 6, "ssh"], [546, 17, "dhcpv6-client"]]])
    );
    let _ssh = lab.topology.host().tcp_listen(22);
    assert_eq!(
        lab.topology.wan().tcp_connect(22, DROP),
        Outcome::Connected,
        "no lock-out"
    );
}

#[test]
fn bad_input_is_invalid_arg_with_hresult_and_changes_nothing() {
    let lab = Lab::start();
    let lan0 = lab.connection_path("lan0");
    let before = lab.table();
    let cases: [(&str, &str, Vec<&str>, &str); 6] = [
        (
            &lan0,
            "OpenPort",
            vec!["uint16:0", "uint32:6", "string:x"],
            "1-65535",
        ),
        (
            &lan0,
            "OpenPort",
            vec!["uint16:80", "uint32:58", "string:x"],
            "6 (TCP) or 17 (UDP)",
        ),
        (
            &lan0,
            "OpenPort",
            vec!["uint16:80", "uint32:6", "string:a\u{7}b"],
            "control character",
        ),
        (
            MANAGER,
            "GetConnection",
            vec!["string:nope0"],
            "no IPv6 connection",
        ),
        (
            MANAGER,
            "GetConnection",
            vec!["string:{ZZZ}"],
            "not a connection id",
        ),
        (
            MANAGER,
            "OpenGlobalPort",
            vec!["uint16:80", "uint32:1", "string:x"],
            "6 (TCP) or 17 (UDP)",
        ),
    ];
    for (path, member, args, hint) in cases {
        let err = lab.send_as(None, path, member, &args).unwrap_err();
        assert!(
            err.contains("org.fw6.Firewall1.Error.InvalidArg"),
            "{member} {args:?}: {err}"
        );
        assert!(err.contains("0x80070057"), "{err}");
        assert!(
            err.contains(hint),
            "{member} {args:?}: {err} should say {hint}"
        );
    }
    let err = lab
        .property("LogfileMaximumSize", Some(&["u", "0"]))
        .unwrap_err();
    assert!(err.contains("1-32767"), "{err}");
    let err = lab
        .property("LogfilePath", Some(&["s", "relative.log"]))
        .unwrap_err();
    assert!(err.contains("absolute"), "{err}");
    assert_eq!(lab.table(), before, "nothing changed in the kernel");
    assert_eq!(
        data(&lab.connection("lan0", "EnumerateOpenPorts", &[]).unwrap()),
        serde_json::json!([[]])
    );
}

#[test]
fn apply_is_all_or_nothing_and_one_kernel_transaction() {
    let lab = Lab::start();
    let before = lab.table();
    let batch = |bad_at: Option<u16>| {
        let mut args = vec!["a(ssquss)".to_owned(), "1000".to_owned()];
        for i in 0..1000_u16 {
            let port = if Some(i) == bad_at { 0 } else { 10_000 + i };
            args.extend(
                ["OpenPort", "wan0", &port.to_string(), "17", "bulk", ""].map(str::to_owned),
            );
        }
        args
    };
    let bad = batch(Some(999));
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let err = lab.manager("Apply", &bad).unwrap_err();
    assert!(
        err.contains("batch item 1000 (OpenPort)") && err.contains("1-65535"),
        "{err}"
    );
    assert_eq!(
        lab.table(),
        before,
        "one invalid item in 1,000 changes nothing"
    );

    let good = batch(None);
    let good: Vec<&str> = good.iter().map(String::as_str).collect();
    let applied = data(&lab.manager("Apply", &good).unwrap());
    assert_eq!(applied, serde_json::json!([1000]));
    let listed = lab.nft(&["list", "set", "inet", "fw6", "open"]);
    assert_eq!(listed.matches("\"wan0\" . udp . ").count(), 1000);
    let _echo = lab.topology.host().udp_echo(10_500);
    assert!(lab.topology.wan().udp_exchange(10_500, DROP));
}

#[test]
fn oversized_batches_get_a_clear_limit_error() {
    let lab = Lab::with("max_batch = 3\n", false);
    let mut args = vec!["a(ssquss)", "4"];
    for port in ["1", "2", "3", "4"] {
        args.extend(["OpenPort", "lan0", port, "6", "", ""]);
    }
    let err = lab.manager("Apply", &args).unwrap_err();
    assert!(err.contains("at most 3"), "{err}");
}

#[test]
fn explain_and_queries_follow_the_decision_rule() {
    let lab = Lab::start();
    lab.manager("OpenGlobalPort", &["qus", "443", "6", "https"])
        .unwrap();
    lab.connection(
        "wan0",
        "IgnoreGlobalPort",
        &["qus", "443", "6", "not outside"],
    )
    .unwrap();
    let explain = |conn: &str| data(&lab.manager("Explain", &["squ", conn, "443", "6"]).unwrap());
    assert_eq!(explain("lan0")[0], true);
    assert_eq!(explain("lan0")[1], "globally-open");
    assert_eq!(explain("wan0")[0], false);
    assert_eq!(explain("wan0")[1], "global-ignored");
    assert_eq!(
        data(
            &lab.connection("wan0", "IsGlobalPortIgnored", &["qu", "443", "6"])
                .unwrap()
        )[0],
        true
    );
    assert_eq!(
        data(
            &lab.connection("wan0", "IsPortOpen", &["qu", "443", "6"])
                .unwrap()
        )[0],
        false
    );
    assert_eq!(
        data(
            &lab.manager("IsPortGloballyOpen", &["qu", "443", "6"])
                .unwrap()
        )[0],
        true
    );
    let _https = lab.topology.host().tcp_listen(443);
    assert_eq!(
        lab.topology.lan().tcp_connect(443, DROP),
        Outcome::Connected
    );
    assert_eq!(lab.topology.wan().tcp_connect(443, DROP), Outcome::TimedOut);

    lab.connection("wan0", "DisableFirewall", &[]).unwrap();
    assert_eq!(explain("wan0")[1], "not-firewalled");
    assert_eq!(
        lab.topology.wan().tcp_connect(443, DROP),
        Outcome::Connected
    );
    let status = data(&lab.manager("Status", &[]).unwrap());
    assert_eq!(status[0]["table"]["data"], "in-sync", "{status}");
    assert_eq!(status[0]["global_open"]["data"], 3);
}

#[test]
fn logging_properties_read_write_and_persist() {
    let mut lab = Lab::start();
    assert_eq!(
        data(&lab.property("LogDroppedPackets", None).unwrap()),
        false
    );
    lab.property("LogDroppedPackets", Some(&["b", "true"]))
        .unwrap();
    lab.property("LogfileMaximumSize", Some(&["u", "64"]))
        .unwrap();
    assert!(
        lab.table().contains("log prefix \"fw6 DROP not-open\""),
        "{}",
        lab.table()
    );
    lab.stop_daemon("TERM");
    lab.start_daemon();
    assert_eq!(
        data(&lab.property("LogDroppedPackets", None).unwrap()),
        true
    );
    assert_eq!(data(&lab.property("LogfileMaximumSize", None).unwrap()), 64);
}

/// The committed interface description (`docs/org.fw6.Firewall1.xml`) is what the daemon
/// serves; an interface change must update it deliberately (`FW6_BLESS=1` rewrites it).
#[test]
fn introspection_matches_the_committed_xml() {
    let lab = Lab::start();
    let lan0 = lab.connection_path("lan0");
    let mut xml = String::from(
        "<!-- org.fw6.Firewall1: generated from the running daemon by crates/fw6d/tests/daemon.rs -->\n<node>\n",
    );
    let mut seen = Vec::new();
    for path in [MANAGER, lan0.as_str()] {
        let out = std::process::Command::new("busctl")
            .args([
                "--address",
                lab.bus.address(),
                "introspect",
                "--xml-interface",
                common::BUS_NAME,
                path,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        xml.push_str(&our_interfaces(&text, &mut seen));
    }
    xml.push_str("</node>\n");
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/org.fw6.Firewall1.xml"
    );
    if std::env::var_os("FW6_BLESS").is_some() {
        std::fs::write(file, &xml).unwrap();
    }
    let committed = std::fs::read_to_string(file).unwrap_or_default();
    if let Some((n, (served, kept))) = xml
        .lines()
        .zip(committed.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "the D-Bus interface drifted from {file} at line {}:\n  served:    {served}\n  \
             committed: {kept}\nreview, then FW6_BLESS=1",
            n + 1
        );
    }
    assert_eq!(
        xml.lines().count(),
        committed.lines().count(),
        "{file} drifted in length; review, then FW6_BLESS=1"
    );
}

/// The `<interface name="org.fw6...">` blocks of an introspection document, each interface
/// once (busctl also shows child nodes' interfaces), indentation normalised.
fn our_interfaces(xml: &str, seen: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in xml.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("<interface name=\"org.fw6.") {
            let name = name.to_owned();
            inside = !seen.contains(&name);
            seen.push(name);
        }
        if inside {
            out.push_str(trimmed);
            out.push('\n');
        }
        if inside && line.trim_start().starts_with("</interface>") {
            inside = false;
        }
    }
    out
}

#[test]
fn fw6d_starts_again_in_place_without_glibc_thread_caches() {
    // crates/fw6d/src/heap.rs: the process the lab spawned (same pid) runs with the tunable.
    let lab = Lab::start();
    let pid = lab.pid().expect("fw6d runs");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let tunables = environ
        .split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(b"GLIBC_TUNABLES="))
        .unwrap_or_default();
    assert!(
        tunables
            .split(|b| *b == b':')
            .any(|t| t == b"glibc.malloc.tcache_count=0"),
        "fw6d (pid {pid}) runs without GLIBC_TUNABLES=glibc.malloc.tcache_count=0: {}",
        String::from_utf8_lossy(&environ).replace('\0', " ")
    );
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.ends_with("fw6d"), "pid {pid} is {}", exe.display());
}
