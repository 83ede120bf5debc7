//! Access control end to end with a real polkitd: reads are open to everyone, changes need
//! root or a polkit grant, policy can refuse everyone. Needs root; fails loudly without it.

mod common;

use common::{Lab, MANAGER};
use fw6_testkit::bus::NOBODY;

#[test]
fn unprivileged_callers_read_but_cannot_change() {
    let lab = Lab::with("", true);
    let lan0 = lab.connection_path("lan0");
    for (path, member, args) in [
        (MANAGER, "EnumerateConnections", vec![]),
        (MANAGER, "GetConnection", vec!["string:lan0"]),
        (MANAGER, "IsPortGloballyOpen", vec!["uint16:22", "uint32:6"]),
        (MANAGER, "EnumerateGloballyOpenPorts", vec![]),
        (
            MANAGER,
            "Explain",
            vec!["string:lan0", "uint16:22", "uint32:6"],
        ),
        (MANAGER, "Status", vec![]),
        (lan0.as_str(), "IsPortOpen", vec!["uint16:80", "uint32:6"]),
        (lan0.as_str(), "EnumerateOpenPorts", vec![]),
        (
            lan0.as_str(),
            "IsGlobalPortIgnored",
            vec!["uint16:80", "uint32:6"],
        ),
        (lan0.as_str(), "EnumerateIgnoredGlobalPorts", vec![]),
        (lan0.as_str(), "Explain", vec!["uint16:80", "uint32:6"]),
    ] {
        let reply = lab.send_as(Some(NOBODY), path, member, &args);
        assert!(reply.is_ok(), "{member} is a read: {reply:?}");
    }
    let wan0 = lab.set_up_changes_to_refuse();
    let before = lab.table();
    for (path, member, args) in [
        (
            MANAGER,
            "OpenGlobalPort",
            vec!["uint16:80", "uint32:6", "string:x"],
        ),
        (MANAGER, "CloseGlobalPort", vec!["uint16:22", "uint32:6"]),
        (wan0.as_str(), "EnableFirewall", vec![]),
        (lan0.as_str(), "DisableFirewall", vec![]),
        (
            lan0.as_str(),
            "OpenPort",
            vec!["uint16:80", "uint32:6", "string:x"],
        ),
        (lan0.as_str(), "ClosePort", vec!["uint16:8080", "uint32:6"]),
        (
            lan0.as_str(),
            "IgnoreGlobalPort",
            vec!["uint16:22", "uint32:6", "string:x"],
        ),
        (
            lan0.as_str(),
            "ObserveGlobalPort",
            vec!["uint16:546", "uint32:17"],
        ),
    ] {
        let err = lab.send_as(Some(NOBODY), path, member, &args).unwrap_err();
        assert!(
            err.contains("org.fw6.Firewall1.Error.AccessDenied"),
            "{member}: {err}"
        );
        assert!(err.contains("0x80070005"), "{err}");
    }
    // The audit trail names administrators' processes: the one restricted read.
    let args = ["uint64:0", "uint32:10"];
    let err = lab
        .send_as(Some(NOBODY), MANAGER, "ReadAudit", &args)
        .unwrap_err();
    assert!(
        err.contains("AccessDenied") && err.contains("org.fw6.firewall1.audit"),
        "{err}"
    );
    let rows = lab.send_as(None, MANAGER, "ReadAudit", &args).unwrap();
    assert!(
        rows.contains("OpenGlobalPort"),
        "root reads the seeds: {rows}"
    );
    for (property, value) in [
        ("LogfilePath", "variant:string:/var/log/fw6/x.log"),
        ("LogfileMaximumSize", "variant:uint32:64"),
        ("LogDroppedPackets", "variant:boolean:true"),
        ("LogConnections", "variant:boolean:true"),
    ] {
        let err = lab
            .send_props_as(Some(NOBODY), property, value)
            .unwrap_err();
        assert!(err.contains("AccessDenied"), "{property}: {err}");
    }
    // Apply with every member, through busctl (dbus-send cannot build struct arrays).
    let err = lab
        .call_as(
            Some(NOBODY),
            MANAGER,
            common::MANAGER_IFACE,
            "Apply",
            &["a(ssquss)", "1", "LogConnections", "", "0", "0", "", "true"],
        )
        .unwrap_err();
    assert!(err.contains("not authorized"), "{err}");
    assert_eq!(lab.table(), before, "nothing changed on any denial");
    assert_eq!(
        common::data(&lab.property("LogDroppedPackets", None).unwrap()),
        serde_json::json!(false)
    );
}

#[test]
fn a_polkit_rule_for_a_group_lets_it_through() {
    let lab = Lab::with("", true);
    let _rule = lab
        .bus
        .polkit()
        .grant_group(NOBODY.group, &["org.fw6.firewall1.logging"]);
    lab.send_props_as(Some(NOBODY), "LogDroppedPackets", "variant:boolean:true")
        .unwrap();
    assert_eq!(
        common::data(&lab.property("LogDroppedPackets", None).unwrap()),
        serde_json::json!(true)
    );
}

#[test]
fn a_polkit_rule_can_grant_ports_but_not_the_firewall_switch() {
    let lab = Lab::with("", true);
    let _rule = lab
        .bus
        .polkit()
        .grant_user(NOBODY.user, &["org.fw6.firewall1.ports"]);
    let err = lab
        .send_as(
            Some(NOBODY),
            MANAGER,
            "OpenGlobalPort",
            &["uint16:3389", "uint32:6", "string:rdp"],
        )
        .unwrap_err();
    assert!(
        err.contains("AccessDenied") && err.contains("org.fw6.firewall1.global-ports"),
        "a ports grant is not a global-ports grant: {err}"
    );
    let lan0 = lab.connection_path("lan0");
    lab.send_as(
        Some(NOBODY),
        &lan0,
        "OpenPort",
        &["uint16:27015", "uint32:17", "string:game"],
    )
    .unwrap();
    assert!(
        lab.table().contains("\"lan0\" . udp . 27015"),
        "{}",
        lab.table()
    );
    let err = lab
        .send_as(Some(NOBODY), &lan0, "DisableFirewall", &[])
        .unwrap_err();
    assert!(err.contains("AccessDenied"), "{err}");
}

#[test]
fn allow_configuration_false_refuses_even_root() {
    let lab = Lab::with("allow_configuration = false\n", false);
    let err = lab
        .send_as(
            None,
            MANAGER,
            "OpenGlobalPort",
            &["uint16:80", "uint32:6", "string:x"],
        )
        .unwrap_err();
    assert!(
        err.contains("AccessDenied") && err.contains("allow_configuration"),
        "{err}"
    );
    assert!(
        lab.send_as(None, MANAGER, "EnumerateGloballyOpenPorts", &[])
            .is_ok()
    );
}

/// The confirmation step: polkit's authentication agent asks, the user dismisses the dialog,
/// and the call is Aborted with nothing changed. `pkttyagent` plays the agent for the caller's
/// process, and is closed while it asks for a password.
#[test]
fn a_dismissed_authentication_is_aborted() {
    let lab = Lab::with("", true);
    let lan0 = lab.connection_path("lan0");
    let before = lab.table();
    let (caller, mut agent) = lab.call_under_agent(
        &lan0,
        &format!("{}.OpenPort", common::CONN_IFACE),
        "uint16:8080 uint32:6 string:x",
    );
    // The user waits for the password prompt, then presses Ctrl-C at it.
    assert!(
        agent.prompts_within(std::time::Duration::from_secs(60)),
        "no password prompt within 60 s; polkitd: {}\nfw6d: {}",
        lab.bus.polkit().log(),
        lab.log()
    );
    agent.cancel();
    let out = caller.wait_with_output().unwrap();
    let agent_err = agent.stop();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("org.fw6.Firewall1.Error.Aborted") && err.contains("0x80004004"),
        "caller: {err}\nagent: {}\npolkitd: {}\nfw6d: {}",
        agent_err,
        lab.bus.polkit().log(),
        lab.log()
    );
    assert_eq!(lab.table(), before, "nothing changed");
}
