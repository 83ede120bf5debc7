//! Connections follow the machine's links: interfaces appearing, disappearing, IPv6 switched
//! off and on (an IPv4 connection still, unless only IPv6 is filtered), ids in any case, configuration waiting for its interface. Needs root.

mod common;

use std::time::Duration;

use common::{Lab, data};
use fw6_testkit::{Family, Outcome};

const DROP: Duration = Duration::from_millis(400);
const PASS: Duration = Duration::from_secs(3);

#[test]
fn connections_follow_links_and_configuration_waits_for_its_interface() {
    let mut lab = Lab::start();
    let listed = data(&lab.manager("EnumerateConnections", &[]).unwrap());
    let names: Vec<&str> = listed[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[2].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lan0", "wan0"]);
    // Configure an interface that does not exist yet.
    lab.manager(
        "Apply",
        &[
            "a(ssquss)",
            "1",
            "OpenPort",
            "new0",
            "5000",
            "6",
            "later",
            "",
        ],
    )
    .unwrap();
    lab.topology.add_connection("new0");
    let path = lab.connection_path("new0");
    assert!(path.ends_with("/connection/new0"));
    let _svc = lab.topology.host().tcp_listen(5000);
    assert_eq!(
        lab.topology.connection("new0").tcp_connect(5000, DROP),
        Outcome::Connected
    );
    assert_eq!(
        lab.topology.connection("new0").tcp_connect(5001, DROP),
        Outcome::TimedOut
    );
    let listed = data(&lab.manager("EnumerateConnections", &[]).unwrap());
    let row = listed[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[2] == "new0")
        .cloned()
        .unwrap();
    assert_eq!(row[4], true, "firewalled");
    assert_eq!(row[5], true, "present");

    // lan0 loses IPv6: with IPv4 filtered too (the default `families`) it stays a connection,
    // present, and its configuration applies over IPv4. (With `families = ["ipv6"]` it would
    // go: `an_interface_without_ipv6_is_no_connection_when_only_ipv6_is_filtered`.)
    lab.connection("lan0", "OpenPort", &["qus", "5000", "6", "kept"])
        .unwrap();
    lab.topology
        .host()
        .set_sysctl("ipv6/conf/lan0/disable_ipv6", "1");
    let lan = lab.topology.lan();
    assert_eq!(
        lan.tcp_connect_in(Family::V4, 5000, PASS),
        Outcome::Connected
    );
    assert_eq!(
        lan.tcp_connect_in(Family::V4, 5001, DROP),
        Outcome::TimedOut
    );
    assert_eq!(present(&lab, "lan0"), Some(serde_json::json!(true)));
    lab.topology
        .host()
        .set_sysctl("ipv6/conf/lan0/disable_ipv6", "0");

    // A deleted interface disappears from the snapshot unless it has configuration.
    lab.topology.host().ip(&["link", "del", "new0"]);
    lab.wait_until("new0 to be absent", Duration::from_secs(2), || {
        let listed = data(&lab.manager("EnumerateConnections", &[]).unwrap());
        listed[0]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c[2] == "new0" && c[5] == false)
    });
}

/// The `present` column of connection `name` in `EnumerateConnections`.
fn present(lab: &Lab, name: &str) -> Option<serde_json::Value> {
    let listed = data(&lab.manager("EnumerateConnections", &[]).unwrap());
    listed[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[2] == name)
        .map(|c| c[5].clone())
}

#[test]
fn an_interface_without_ipv6_is_no_connection_when_only_ipv6_is_filtered() {
    let lab = Lab::with("families = [\"ipv6\"]\n", false);
    lab.connection("lan0", "OpenPort", &["qus", "5000", "6", "kept"])
        .unwrap();
    let _svc = lab.topology.host().tcp_listen(5000);
    lab.topology
        .host()
        .set_sysctl("ipv6/conf/lan0/disable_ipv6", "1");
    lab.wait_until("lan0 to go", Duration::from_secs(2), || {
        present(&lab, "lan0") == Some(serde_json::json!(false))
    });
    lab.topology
        .host()
        .set_sysctl("ipv6/conf/lan0/disable_ipv6", "0");
    lab.wait_until("lan0 to return", Duration::from_secs(2), || {
        present(&lab, "lan0") == Some(serde_json::json!(true))
    });
    assert_eq!(
        data(&lab.connection("lan0", "EnumerateOpenPorts", &[]).unwrap()),
        serde_json::json!([[[5000, 6, "kept"]]])
    );
    // Disabling IPv6 flushed the address; put it back (no DAD needed for this check).
    let cidr = format!("{}/64", lab.topology.lan().host_addr());
    lab.topology
        .host()
        .ip(&["addr", "add", &cidr, "dev", "lan0", "nodad"]);
    assert_eq!(
        lab.topology.lan().tcp_connect(5000, DROP),
        Outcome::Connected
    );
}

#[test]
fn connection_ids_work_in_any_case() {
    let lab = Lab::start();
    let listed = data(&lab.manager("EnumerateConnections", &[]).unwrap());
    let id = listed[0][0][0].as_str().unwrap().to_owned();
    assert!(id.starts_with('{') && id == id.to_uppercase());
    let bare = id.trim_matches(|c| c == '{' || c == '}').to_lowercase();
    let by_id = data(&lab.manager("GetConnection", &["s", &bare]).unwrap());
    assert_eq!(by_id[0], listed[0][0][6]);
}
