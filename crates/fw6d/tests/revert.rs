//! Confirm-or-revert end to end (docs/dbus-api.md, "Confirm-or-revert"): the real fw6d in a
//! network namespace, a private bus (and the real polkitd where authorization is tested), real
//! nftables and real packets. A change made with `ApplyConfirmable` is taken back at its
//! deadline unless confirmed, also across a SIGKILL; bad input changes nothing; an unauthorized
//! caller can neither confirm nor revert. Needs root; fails loudly without it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{CONN_IFACE, Lab, MANAGER, MANAGER_IFACE, data};
use fw6_testkit::bus::NOBODY;
use fw6_testkit::{Family, Outcome};

const DROP: Duration = Duration::from_millis(400);
/// How long after its deadline a revert may take on a loaded machine.
const REVERT_WITHIN: Duration = Duration::from_secs(10);

/// The change every test makes: open 8080/tcp on lan0, close the seeded global 22/tcp, turn
/// wan0's firewall off.
const CHANGE: [&str; 18] = [
    "OpenPort",
    "lan0",
    "8080",
    "6",
    "web",
    "", //
    "CloseGlobalPort",
    "",
    "22",
    "6",
    "",
    "", //
    "DisableFirewall",
    "wan0",
    "0",
    "0",
    "",
    "",
];

/// What an administrator would compare: the whole kernel table (sets included) and the
/// configuration as the API reads it.
fn snapshot(lab: &Lab) -> String {
    let mut out = lab.table();
    out.push_str(&lab.manager("EnumerateGloballyOpenPorts", &[]).unwrap());
    for conn in ["lan0", "wan0"] {
        out.push_str(&lab.connection(conn, "EnumerateOpenPorts", &[]).unwrap());
        out.push_str(&lab.connection_property(conn, "IsFirewalled").unwrap());
    }
    out
}

/// `ApplyConfirmable(CHANGE, options)` as root; `options` in busctl's syntax after `a{sv}`.
fn apply_confirmable(lab: &Lab, options: &[&str]) -> Result<String, String> {
    let mut args = vec!["a(ssquss)a{sv}", "3"];
    args.extend(CHANGE);
    args.extend(options);
    lab.manager("ApplyConfirmable", &args)
}

/// The (token, deadline) of a successful `ApplyConfirmable` reply, checking its change count.
fn pending(reply: &str) -> (String, SystemTime) {
    let d = data(reply);
    assert_eq!(d[0], 3, "three effective changes: {reply}");
    let token = d[1].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32, "{reply}");
    let deadline = UNIX_EPOCH + Duration::from_millis(d[2].as_u64().unwrap());
    (token, deadline)
}

fn connect(lab: &Lab, port: u16) -> Outcome {
    lab.topology.lan().tcp_connect_in(Family::V6, port, DROP)
}

/// Waits (bounded by the wall clock) until `deadline` has passed.
fn past(deadline: SystemTime) {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    assert!(
        left < Duration::from_secs(60),
        "a deadline in the test's range"
    );
    std::thread::sleep(left + Duration::from_millis(200));
}

/// `dbus-monitor` for the manager's `Reverted`/`Confirmed` signals, its output piped.
fn monitor(lab: &Lab) -> Child {
    Command::new("dbus-monitor")
        .args(["--address", lab.bus.address()])
        .arg("type='signal',interface='org.fw6.Firewall1.Manager'")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run dbus-monitor")
}

fn monitor_output(mut child: Child) -> String {
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_unconfirmed_change_is_reverted_at_its_deadline_and_packets_agree() {
    let lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let _ssh = lab.topology.host().tcp_listen(22);
    let before = snapshot(&lab);
    assert_eq!(connect(&lab, 22), Outcome::Connected, "the seeded ssh pair");
    assert_eq!(connect(&lab, 8080), Outcome::TimedOut);
    let signals = monitor(&lab);

    let (token, deadline) =
        pending(&apply_confirmable(&lab, &["1", "confirm_within", "u", "6"]).unwrap());
    assert_eq!(connect(&lab, 8080), Outcome::Connected, "applied at once");
    assert_eq!(connect(&lab, 22), Outcome::TimedOut, "applied at once");
    let status = lab.manager("Status", &[]).unwrap();
    assert!(
        status.contains(&token),
        "Status shows the pending change: {status}"
    );

    // While it is pending every other change is refused, with the reason and the HRESULT.
    let lan0 = lab.connection_path("lan0");
    let err = lab
        .send_as(
            None,
            &lan0,
            "OpenPort",
            &["uint16:9000", "uint32:6", "string:x"],
        )
        .unwrap_err();
    assert!(
        err.contains("Error.Fail") && err.contains(&token) && err.contains("0x80004005"),
        "{err}"
    );
    let err = apply_confirmable(&lab, &["1", "confirm_within", "u", "60"]).unwrap_err();
    assert!(
        err.contains("is pending"),
        "one pending change at a time: {err}"
    );

    lab.wait_until(
        "the revert",
        deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            + REVERT_WITHIN,
        || snapshot(&lab) == before,
    );
    assert!(
        SystemTime::now() >= deadline,
        "not reverted before its deadline"
    );
    assert_eq!(connect(&lab, 8080), Outcome::TimedOut, "packets agree");
    assert_eq!(connect(&lab, 22), Outcome::Connected, "packets agree");
    let status = lab.manager("Status", &[]).unwrap();
    assert!(!status.contains("pending"), "{status}");

    // Said three ways: the audit trail, the log and a signal.
    let audit = lab.manager("ReadAudit", &["tu", "0", "0"]).unwrap();
    assert_eq!(audit.matches("\"Revert\"").count(), 3, "{audit}");
    lab.wait_until("the log line", REVERT_WITHIN, || {
        lab.log().contains("the pending change was reverted")
    });
    let seen = monitor_output(signals);
    assert!(
        seen.contains("member=Reverted") && seen.contains(&token) && seen.contains("deadline"),
        "{seen}"
    );
    // A revert that came is final: the token is gone.
    let err = lab.manager("Confirm", &["s", &token]).unwrap_err();
    assert!(err.contains("no pending change has token"), "{err}");
    // And changes are accepted again.
    lab.send_as(
        None,
        &lan0,
        "OpenPort",
        &["uint16:9000", "uint32:6", "string:x"],
    )
    .unwrap();
}

#[test]
fn a_confirmed_change_is_kept_and_a_revert_asked_for_is_at_once() {
    let lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let before = snapshot(&lab);
    let (token, deadline) =
        pending(&apply_confirmable(&lab, &["1", "confirm_within", "u", "6"]).unwrap());
    let after = snapshot(&lab);
    lab.manager("Confirm", &["s", &token]).unwrap();
    assert!(
        !lab.manager("Status", &[]).unwrap().contains(&token),
        "nothing is pending"
    );
    past(deadline);
    assert_eq!(snapshot(&lab), after, "kept past its deadline");
    assert_eq!(connect(&lab, 8080), Outcome::Connected);
    let err = lab.manager("Revert", &["s", &token]).unwrap_err();
    assert!(err.contains("no pending change has token"), "{err}");

    // Revert: taken back now, not at the deadline. Back to `before` by undoing the first change
    // by hand (root), then a new confirmable change and its revert.
    let undo = [
        "a(ssquss)",
        "3",
        "ClosePort",
        "lan0",
        "8080",
        "6",
        "",
        "",
        "OpenGlobalPort",
        "",
        "22",
        "6",
        "ssh",
        "",
        "EnableFirewall",
        "wan0",
        "0",
        "0",
        "",
        "",
    ];
    lab.manager("Apply", &undo).unwrap();
    assert_eq!(snapshot(&lab), before);
    let (token, _) =
        pending(&apply_confirmable(&lab, &["1", "confirm_within", "u", "3600"]).unwrap());
    lab.manager("Revert", &["s", &token]).unwrap();
    assert_eq!(snapshot(&lab), before, "reverted when asked");
    assert_eq!(connect(&lab, 8080), Outcome::TimedOut);
}

#[test]
fn a_daemon_killed_in_the_window_reverts_at_start_or_rearms() {
    let mut lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let before = snapshot(&lab);

    // Killed, and started again after the deadline: reverted before it serves.
    let (_, deadline) =
        pending(&apply_confirmable(&lab, &["1", "confirm_within", "u", "2"]).unwrap());
    lab.stop_daemon("KILL");
    assert_eq!(
        connect(&lab, 8080),
        Outcome::Connected,
        "the kernel keeps the change"
    );
    past(deadline);
    lab.start_daemon();
    assert_eq!(snapshot(&lab), before, "reverted at start, before serving");
    assert_eq!(connect(&lab, 8080), Outcome::TimedOut, "packets agree");
    assert!(
        lab.log().contains("reverting it before serving"),
        "{}",
        lab.log()
    );

    // Killed, and started again before the deadline: the revert is armed again.
    let (token, deadline) =
        pending(&apply_confirmable(&lab, &["1", "confirm_within", "u", "15"]).unwrap());
    lab.stop_daemon("KILL");
    lab.start_daemon();
    assert!(
        SystemTime::now() < deadline,
        "fw6d took more than the 15 s window to restart"
    );
    assert_ne!(snapshot(&lab), before, "still applied before its deadline");
    assert!(lab.manager("Status", &[]).unwrap().contains(&token));
    lab.wait_until(
        "the re-armed revert",
        deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            + REVERT_WITHIN,
        || snapshot(&lab) == before,
    );
    assert_eq!(connect(&lab, 8080), Outcome::TimedOut, "packets agree");
}

#[test]
fn bad_input_is_invalid_arg_naming_the_value_and_changes_nothing() {
    let lab = Lab::start();
    let before = snapshot(&lab);
    for (options, named) in [
        (vec!["1", "confirm_within", "u", "0"], "confirm_within 0"),
        (
            vec!["1", "confirm_within", "u", "3601"],
            "confirm_within 3601",
        ),
        (vec!["1", "confirm_within", "s", "60"], "must be a u"),
        (vec!["1", "confirm_within", "t", "60"], "must be a u"),
        (
            vec!["2", "confirm_within", "u", "60", "lifetime", "u", "5"],
            "unknown option \"lifetime\"",
        ),
        (vec!["0"], "is required"),
        // More than one option, whatever they are (service/options.rs counts them).
        (
            vec![
                "3",
                "confirm_within",
                "u",
                "60",
                "confirm_within",
                "u",
                "61",
                "confirm_within",
                "u",
                "62",
            ],
            "3 options: ApplyConfirmable takes one",
        ),
    ] {
        let err = apply_confirmable(&lab, &options).unwrap_err();
        assert!(
            err.contains(named) && err.contains("0x80070057"),
            "{options:?}: {err}"
        );
    }
    // A bad item is refused as Apply refuses it.
    let err = lab
        .manager(
            "ApplyConfirmable",
            &[
                "a(ssquss)a{sv}",
                "1",
                "OpenPort",
                "lan0",
                "0",
                "6",
                "",
                "",
                "1",
                "confirm_within",
                "u",
                "60",
            ],
        )
        .unwrap_err();
    assert!(err.contains("batch item 1 (OpenPort)"), "{err}");
    for member in ["Confirm", "Revert"] {
        for token in ["0123456789abcdef0123456789abcdef", "not-a-token", ""] {
            let err = lab.manager(member, &["s", token]).unwrap_err();
            assert!(err.contains("0x80070057"), "{member} {token:?}: {err}");
        }
    }
    assert_eq!(snapshot(&lab), before, "nothing changed");
    assert!(!lab.manager("Status", &[]).unwrap().contains("pending"));

    // A batch that changes nothing is applied and nothing waits: no token.
    let noop = [
        "a(ssquss)a{sv}",
        "1",
        "OpenGlobalPort",
        "",
        "22",
        "6",
        "ssh",
        "",
        "1",
        "confirm_within",
        "u",
        "60",
    ];
    assert_eq!(
        data(&lab.manager("ApplyConfirmable", &noop).unwrap()),
        serde_json::json!([0, "", 0])
    );
}

#[test]
fn only_a_caller_authorized_for_every_item_can_confirm_or_revert() {
    let lab = Lab::with("", true);
    let before = snapshot(&lab);
    let (token, _) =
        pending(&apply_confirmable(&lab, &["1", "confirm_within", "u", "3600"]).unwrap());
    let after = snapshot(&lab);
    let as_nobody =
        |member: &str| lab.call_as(Some(NOBODY), MANAGER, MANAGER_IFACE, member, &["s", &token]);
    for member in ["Confirm", "Revert"] {
        let err = as_nobody(member).unwrap_err();
        assert!(err.contains("not authorized"), "{member}: {err}");
    }
    // A grant for per-connection ports covers the OpenPort item, not CloseGlobalPort or
    // DisableFirewall: still refused. Confirm is checked as the items (the first refused is
    // CloseGlobalPort), Revert as what it does, their inverse in reverse order (EnableFirewall).
    let _ports = lab
        .bus
        .polkit()
        .grant_user(NOBODY.user, &["org.fw6.firewall1.ports"]);
    let err = as_nobody("Confirm").unwrap_err();
    assert!(err.contains("org.fw6.firewall1.global-ports"), "{err}");
    let err = as_nobody("Revert").unwrap_err();
    assert!(err.contains("EnableFirewall wan0"), "{err}");
    assert!(err.contains("org.fw6.firewall1.firewall"), "{err}");
    assert_eq!(snapshot(&lab), after, "nothing changed");
    let lan0 = lab.connection_path("lan0");
    let err = lab
        .call_as(
            Some(NOBODY),
            &lan0,
            CONN_IFACE,
            "OpenPort",
            &["qus", "9000", "6", "x"],
        )
        .unwrap_err();
    assert!(err.contains("is pending"), "{err}");
    // Granted every action of its items: allowed.
    let _all = lab.bus.polkit().grant_user(
        NOBODY.user,
        &[
            "org.fw6.firewall1.global-ports",
            "org.fw6.firewall1.firewall",
        ],
    );
    as_nobody("Revert").unwrap();
    assert_eq!(snapshot(&lab), before, "reverted by an authorized caller");
    // Granted every item's action, nobody still may not make a change that holds all others
    // off: that is org.fw6.firewall1.confirmable's (auth_admin).
    let mut args = vec!["a(ssquss)a{sv}", "3"];
    args.extend(CHANGE);
    args.extend(["1", "confirm_within", "u", "60"]);
    let err = lab
        .call_as(
            Some(NOBODY),
            MANAGER,
            MANAGER_IFACE,
            "ApplyConfirmable",
            &args,
        )
        .unwrap_err();
    assert!(err.contains("org.fw6.firewall1.confirmable"), "{err}");
    assert_eq!(snapshot(&lab), before, "nothing changed");
    let _confirmable = lab
        .bus
        .polkit()
        .grant_user(NOBODY.user, &["org.fw6.firewall1.confirmable"]);
    lab.call_as(
        Some(NOBODY),
        MANAGER,
        MANAGER_IFACE,
        "ApplyConfirmable",
        &args,
    )
    .expect("granted confirmable and every item's action");
}
