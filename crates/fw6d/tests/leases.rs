//! Openings that end on their own (issue 19; docs/dbus-api.md, "Leases"): the options members,
//! `Leases`, bad options, and enforcement by the kernel's own element timeouts, with real
//! packets from peer namespaces, a real bus and the real fw6d. Needs root; fails loudly
//! without it.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{CONN_IFACE, Lab, MANAGER, data};
use fw6_testkit::{Family, Outcome};

/// A reply's data as JSON.
fn json(reply: Result<String, String>) -> serde_json::Value {
    data(&reply.unwrap())
}

#[test]
fn options_members_open_with_a_lease_and_leases_lists_it() {
    let lab = Lab::start();
    let lan0 = lab.connection_path("lan0");
    lab.call(
        &lan0,
        CONN_IFACE,
        "OpenPortWithOptions",
        &["qusa{sv}", "8080", "6", "web", "1", "lifetime", "u", "600"],
    )
    .unwrap();
    lab.call(
        MANAGER,
        common::MANAGER_IFACE,
        "OpenGlobalPortWithOptions",
        &["qusa{sv}", "443", "6", "tls", "0"],
    )
    .unwrap();
    lab.call(
        MANAGER,
        common::MANAGER_IFACE,
        "OpenGlobalPortWithOptions",
        &["qusa{sv}", "8443", "6", "tls", "1", "lifetime", "u", "600"],
    )
    .unwrap();
    let global = lab.nft(&["list", "set", "inet", "fw6", "global_open"]);
    let line = global
        .lines()
        .find(|l| l.contains("8443"))
        .unwrap_or_default();
    assert!(
        line.contains("expires"),
        "a global lease has its timeout: {global}"
    );
    assert!(
        !global
            .lines()
            .any(|l| l.contains(". 443 ") && l.contains("expires"))
    );
    // Listed like any other opening; the lease shows in `Leases` only.
    assert_eq!(
        json(lab.connection("lan0", "EnumerateOpenPorts", &[])),
        serde_json::json!([[[8080, 6, "web"]]])
    );
    let leases = json(lab.manager("Leases", &[]));
    // Global pairs first.
    assert_eq!(leases[0][0][0], "", "{leases}");
    assert_eq!(leases[0][0][1], 8443, "{leases}");
    let row = &leases[0][1];
    assert_eq!(leases[0].as_array().unwrap().len(), 2, "{leases}");
    assert_eq!(row[0], "lan0");
    assert_eq!((row[1].as_u64(), row[2].as_u64()), (Some(8080), Some(6)));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let expires = u128::from(row[4].as_u64().unwrap());
    assert!(
        expires > now + 590_000 && expires <= now + 600_000,
        "expiry {expires} is not 600 s after {now}"
    );
    assert_eq!(row[5], "", "not bound: no owner");
    let explained = json(lab.manager("Explain", &["squ", "lan0", "8080", "6"]));
    let sentence = explained.to_string();
    assert!(
        sentence.contains("open until") && sentence.contains("UTC (lease)"),
        "{explained}"
    );
}

#[test]
fn bad_options_are_invalid_arg_naming_the_value_and_change_nothing() {
    let lab = Lab::start();
    let lan0 = lab.connection_path("lan0");
    let before = lab.table();
    // busctl's errors carry the message, which ends with the class and HRESULT.
    for (value, says) in [
        (["lifetime", "u", "0"], "lifetime 0 is zero"),
        (
            ["lifetime", "u", "2592001"],
            "lifetime 2592001 is above the maximum",
        ),
        (["lifetime", "i", "-5"], "lifetime -5 is negative"),
        (
            ["lifetime", "s", "2h"],
            "option lifetime must be an integer",
        ),
        (
            ["bind_to_caller", "u", "1"],
            "option bind_to_caller must be a boolean",
        ),
        (["ttl", "u", "5"], "unknown option \"ttl\""),
    ] {
        // `--`: busctl would take "-5" for an option.
        let mut args = vec!["--", "qusa{sv}", "8080", "6", "web", "1"];
        args.extend(value);
        let err = lab
            .call(&lan0, CONN_IFACE, "OpenPortWithOptions", &args)
            .unwrap_err();
        assert!(err.contains(says), "{says}: {err}");
        assert!(err.contains("(InvalidArg, 0x80070057)"), "{err}");
        let global = lab
            .call(
                MANAGER,
                common::MANAGER_IFACE,
                "OpenGlobalPortWithOptions",
                &args,
            )
            .unwrap_err();
        assert!(global.contains(says), "{says}: {global}");
    }
    // An Apply item carries the options as text in its value.
    let err = lab
        .manager(
            "Apply",
            &[
                "a(ssquss)",
                "1",
                "OpenPort",
                "lan0",
                "22",
                "6",
                "ssh",
                "lifetime=0",
            ],
        )
        .unwrap_err();
    assert!(
        err.contains("batch item 1 (OpenPort): lifetime 0 is zero"),
        "{err}"
    );
    assert_eq!(lab.table(), before, "nothing changed");
    assert_eq!(json(lab.manager("Leases", &[])), serde_json::json!([[]]));
}

/// How long a refused SYN is waited for.
const DROP: Duration = Duration::from_millis(400);
/// How long a connection that should pass may take: a connect that passes returns at once, but
/// on a slow machine (the CI's emulated 6.1 VM) not always within [`DROP`].
const PASS: Duration = Duration::from_secs(3);

/// TCP from `conn`'s peer to the host's `port` over both families.
fn both(conn: &fw6_testkit::Connection, port: u16, outcome: Outcome, why: &str) {
    let wait = if outcome == Outcome::Connected {
        PASS
    } else {
        DROP
    };
    for f in Family::ALL {
        assert_eq!(conn.tcp_connect_in(f, port, wait), outcome, "{f}: {why}");
    }
}

/// Sleeps until `at`: these tests are about what happens at given moments.
fn at(start: Instant, secs: f64) {
    let when = start + Duration::from_secs_f64(secs);
    if let Some(left) = when.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
}

/// `dbus-monitor` on the lab's bus, writing fw6d's `Changed` signals to a file; killed (by
/// its pid) and removed on drop.
struct Signals {
    child: Child,
    path: PathBuf,
}

impl Signals {
    fn watch(lab: &Lab) -> Self {
        let path = fw6_testkit::temp_path("changed");
        let file = std::fs::File::create(&path).unwrap();
        let child = Command::new("dbus-monitor")
            .args(["--address", lab.bus.address()])
            .arg("type='signal',interface='org.fw6.Firewall1.Manager',member='Changed'")
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("run dbus-monitor");
        // It prints only what matches: it listens once a change of ours shows up (9/udp
        // opened and closed globally, until one of them does).
        let signals = Self { child, path };
        lab.wait_until("dbus-monitor to start", Duration::from_secs(10), || {
            for member in ["OpenGlobalPort", "CloseGlobalPort"] {
                let mut args = vec!["qu", "9", "17"];
                if member == "OpenGlobalPort" {
                    args = vec!["qus", "9", "17", "probe"];
                }
                lab.manager(member, &args).unwrap();
            }
            signals.text().contains("GlobalClosed")
        });
        signals
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Root opens `port`/tcp on lan0 for `seconds`.
fn lease(lab: &Lab, port: u16, seconds: u32) {
    let lan0 = lab.connection_path("lan0");
    let (port, seconds) = (port.to_string(), seconds.to_string());
    lab.call(
        &lan0,
        CONN_IFACE,
        "OpenPortWithOptions",
        &[
            "qusa{sv}", &port, "6", "lease", "1", "lifetime", "u", &seconds,
        ],
    )
    .unwrap();
}

/// The audit rows as text (root may read them).
fn audit(lab: &Lab) -> String {
    lab.manager("ReadAudit", &["tu", "0", "100"]).unwrap()
}

#[test]
fn a_lease_ends_at_its_expiry_with_a_signal_and_an_audit_row() {
    let lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let signals = Signals::watch(&lab);
    lease(&lab, 8080, 2);
    // After the reply: the lease counts from its commit, which a loaded machine may delay.
    let start = Instant::now();
    // The kernel holds the element with its timeout: enforcement is the kernel's.
    let set = lab.nft(&["list", "set", "inet", "fw6", "open"]);
    // The timeout is the time left when the element is sent: 2 s less the call's own time.
    let timed = set.contains("timeout 2s") || set.contains("timeout 1s9");
    assert!(set.contains("flags timeout") && timed, "{set}");
    at(start, 1.0);
    both(lab.topology.lan(), 8080, Outcome::Connected, "open at 1 s");
    at(start, 3.0);
    both(lab.topology.lan(), 8080, Outcome::TimedOut, "closed at 3 s");
    lab.wait_until("the PortClosed signal", Duration::from_secs(2), || {
        signals.text().contains("\"PortClosed\"")
    });
    assert_eq!(
        json(lab.connection("lan0", "EnumerateOpenPorts", &[])),
        serde_json::json!([[]])
    );
    assert_eq!(json(lab.manager("Leases", &[])), serde_json::json!([[]]));
    let rows = audit(&lab);
    assert!(rows.contains("LeaseExpired"), "{rows}");
    // The kernel's own expiry is not someone else changing the table.
    let log = lab.log();
    assert!(!log.contains("rebuilt the fw6 table"), "{log}");
}

#[test]
fn a_lease_ends_on_time_while_fw6d_is_dead_and_a_restart_forgets_it() {
    let mut lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    lease(&lab, 8080, 2);
    let start = Instant::now();
    lab.stop_daemon("KILL");
    at(start, 1.0);
    both(
        lab.topology.lan(),
        8080,
        Outcome::Connected,
        "open at 1 s, fw6d dead",
    );
    at(start, 3.0);
    both(
        lab.topology.lan(),
        8080,
        Outcome::TimedOut,
        "closed at 3 s, fw6d dead",
    );
    lab.start_daemon();
    assert_eq!(
        json(lab.connection("lan0", "EnumerateOpenPorts", &[])),
        serde_json::json!([[]]),
        "the store no longer lists it"
    );
    both(
        lab.topology.lan(),
        8080,
        Outcome::TimedOut,
        "still closed after the restart",
    );
    let rows = audit(&lab);
    assert!(rows.contains("LeaseExpired"), "{rows}");
}

#[test]
fn a_restart_re_arms_a_lease_with_the_time_it_has_left() {
    let mut lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    // Long enough that a slow stop and start (the emulated VM's debug build) stay well inside.
    lease(&lab, 8080, 12);
    let start = Instant::now();
    lab.stop_daemon("TERM");
    lab.start_daemon();
    let restarted = start.elapsed();
    assert!(
        restarted < Duration::from_secs(8),
        "the restart took {restarted:?}: too slow for this test's 12 s lease"
    );
    let set = lab.nft(&["list", "set", "inet", "fw6", "open"]);
    assert!(set.contains("timeout"), "re-armed with a timeout: {set}");
    assert!(
        !set.contains("timeout 12s"),
        "with the time left, not the whole lifetime: {set}"
    );
    at(start, 8.0);
    both(lab.topology.lan(), 8080, Outcome::Connected, "open at 8 s");
    at(start, 13.0);
    both(
        lab.topology.lan(),
        8080,
        Outcome::TimedOut,
        "closed at 13 s",
    );
}

#[test]
fn renewing_replaces_the_kernels_timeout_and_a_plain_open_makes_it_permanent() {
    let lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let start = Instant::now();
    lease(&lab, 8080, 2);
    at(start, 1.0);
    lease(&lab, 8080, 3); // renewed: now ends at about 4 s
    at(start, 2.5);
    both(
        lab.topology.lan(),
        8080,
        Outcome::Connected,
        "renewed past 2 s",
    );
    let lan0 = lab.connection_path("lan0");
    lab.call(
        &lan0,
        CONN_IFACE,
        "OpenPort",
        &["qus", "8080", "6", "other"],
    )
    .unwrap();
    let set = lab.nft(&["list", "set", "inet", "fw6", "open"]);
    assert!(
        set.contains("tcp . 8080") && !set.contains("timeout 1s") && !set.contains("expires"),
        "permanent: no timeout left on the element: {set}"
    );
    assert_eq!(json(lab.manager("Leases", &[])), serde_json::json!([[]]));
    at(start, 4.5);
    both(
        lab.topology.lan(),
        8080,
        Outcome::Connected,
        "permanent after 4 s",
    );
    assert_eq!(
        json(lab.connection("lan0", "EnumerateOpenPorts", &[])),
        serde_json::json!([[[8080, 6, "lease"]]]),
        "the first name stays"
    );
}
