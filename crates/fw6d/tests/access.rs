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
    let before = lab.table();
    for (path, member, args) in [
        (
            MANAGER,
            "OpenGlobalPort",
            vec!["uint16:80", "uint32:6", "string:x"],
        ),
        (MANAGER, "CloseGlobalPort", vec!["uint16:22", "uint32:6"]),
        (lan0.as_str(), "EnableFirewall", vec![]),
        (lan0.as_str(), "DisableFirewall", vec![]),
        (
            lan0.as_str(),
            "OpenPort",
            vec!["uint16:80", "uint32:6", "string:x"],
        ),
        (lan0.as_str(), "ClosePort", vec!["uint16:80", "uint32:6"]),
        (
            lan0.as_str(),
            "IgnoreGlobalPort",
            vec!["uint16:22", "uint32:6", "string:x"],
        ),
        (
            lan0.as_str(),
            "ObserveGlobalPort",
            vec!["uint16:22", "uint32:6"],
        ),
    ] {
        let err = lab.send_as(Some(NOBODY), path, member, &args).unwrap_err();
        assert!(
            err.contains("org.fw6.Firewall1.Error.AccessDenied"),
            "{member}: {err}"
        );
        assert!(err.contains("0x80070005"), "{err}");
    }
    for (property, value) in [
        ("LogfilePath", "variant:string:/tmp/x.log"),
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
