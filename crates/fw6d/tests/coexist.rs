//! fw6 next to other input filters (docs/install.md, "Next to other firewalls"): a packet is
//! delivered only if every base chain on its path accepts it, so another table can still block a
//! port fw6 opens, and no other table can open a port fw6 closes. fw6d reads the other tables
//! (never changes them) and lists their inbound base chains in `Status`. Real nftables, real
//! iptables-nft and real packets from the lab's peers; needs root.

mod common;

use std::time::Duration;

use common::{Lab, data};
use fw6_testkit::Outcome;
use serde_json::Value;

const DROP: Duration = Duration::from_millis(400);
/// How long `Status` may take to show another program's commit (the monitor's event, then a
/// read on fw6d's reader thread).
const NOTICED: Duration = Duration::from_secs(5);

/// `Status`'s `other_chains`, each as `[family, table, chain, type, hook, priority, policy,
/// rules, device]`.
fn other_chains(lab: &Lab) -> Vec<Value> {
    let status = data(&lab.manager("Status", &[]).expect("Status"));
    status[0]["other_chains"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("Status has no other_chains: {status}"))
        .clone()
}

/// The row of `family table chain`, if `Status` lists it.
fn row(lab: &Lab, family: &str, table: &str, chain: &str) -> Option<Value> {
    other_chains(lab)
        .into_iter()
        .find(|c| c[0] == family && c[1] == table && c[2] == chain)
}

fn open_global(lab: &Lab, port: &str) {
    lab.manager("OpenGlobalPort", &["qus", port, "6", "web"])
        .expect("OpenGlobalPort");
}

#[test]
fn another_tables_drop_policy_still_blocks_a_port_fw6_opens_and_status_lists_it() {
    let lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let _other = lab.topology.host().tcp_listen(8081);
    open_global(&lab, "8080");
    open_global(&lab, "8081");
    let lan = lab.topology.lan();
    assert_eq!(lan.tcp_connect(8080, DROP), Outcome::Connected);
    assert!(other_chains(&lab).is_empty(), "no other table yet");

    // A hand-written /etc/nftables.conf: policy drop, 8081 and neighbour discovery let in.
    lab.nft(&["add table inet filter"]);
    lab.nft(&[
        "add chain inet filter input { type filter hook input priority filter; policy drop; }",
    ]);
    lab.nft(&["add rule inet filter input ct state established,related accept"]);
    lab.nft(&["add rule inet filter input meta l4proto ipv6-icmp accept"]);
    lab.nft(&["add rule inet filter input tcp dport 8081 accept"]);
    lab.wait_until("Status lists inet filter", NOTICED, || {
        row(&lab, "inet", "filter", "input").is_some()
    });
    let input = row(&lab, "inet", "filter", "input").expect("listed");
    assert_eq!(
        input,
        serde_json::json!([
            "inet", "filter", "input", "filter", "input", 0, "drop", 3, ""
        ])
    );

    assert_eq!(
        lan.tcp_connect(8080, DROP),
        Outcome::TimedOut,
        "open in fw6, dropped by inet filter's policy"
    );
    assert_eq!(
        lan.tcp_connect(8081, DROP),
        Outcome::Connected,
        "open in both: accepted (so the drop above is the other table's, not a broken lab)"
    );
    let explain = data(
        &lab.manager("Explain", &["squ", "lan0", "8080", "6"])
            .expect("Explain"),
    );
    assert_eq!(
        explain[0], true,
        "fw6's own verdict is unchanged: it does not evaluate other tables"
    );

    // Gone again: Status follows, and fw6's verdict is the host's again.
    lab.nft(&["delete table inet filter"]);
    lab.wait_until("Status drops inet filter", NOTICED, || {
        other_chains(&lab).is_empty()
    });
    assert_eq!(lan.tcp_connect(8080, DROP), Outcome::Connected);
}

#[test]
fn another_table_accepting_everything_does_not_open_a_port_fw6_closes() {
    let lab = Lab::start();
    let _closed = lab.topology.host().tcp_listen(8082);
    // Runs before fw6's chain and accepts the port explicitly: an accept ends only this
    // chain's say; fw6's chain still sees the packet.
    lab.nft(&["add table ip6 open_all"]);
    lab.nft(&[
        "add chain ip6 open_all early { type filter hook input priority -10; policy accept; }",
    ]);
    lab.nft(&["add rule ip6 open_all early tcp dport 8082 accept"]);
    lab.wait_until("Status lists ip6 open_all", NOTICED, || {
        row(&lab, "ip6", "open_all", "early").is_some()
    });
    let early = row(&lab, "ip6", "open_all", "early").expect("listed");
    assert_eq!(early[5], -10, "priority: {early}");
    assert_eq!(early[6], "accept", "policy: {early}");
    assert_eq!(
        lab.topology.lan().tcp_connect(8082, DROP),
        Outcome::TimedOut,
        "closed in fw6: dropped whatever the other table accepts"
    );
}

/// What Docker's dockerd writes through iptables-nft (its nat and filter chains, ip6tables on),
/// abridged to the chains that exist on a host with no container running: the same commands
/// through each of [`DOCKER_TOOLS`].
const DOCKER: &[&[&str]] = &[
    &["-t", "nat", "-N", "DOCKER"],
    &[
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-j",
        "DOCKER",
    ],
    &["-N", "DOCKER-USER"],
    &["-P", "FORWARD", "DROP"],
    &["-A", "FORWARD", "-j", "DOCKER-USER"],
];

/// Docker writes its ruleset for IPv4 and, with ip6tables on, for IPv6.
const DOCKER_TOOLS: [&str; 2] = ["iptables-nft", "ip6tables-nft"];

#[test]
fn a_docker_style_iptables_nft_ruleset_is_listed_and_leaves_fw6s_verdicts_alone() {
    let lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let _closed = lab.topology.host().tcp_listen(8081);
    open_global(&lab, "8080");
    for tool in DOCKER_TOOLS {
        for args in DOCKER {
            lab.topology.host().exec(tool, args);
        }
    }
    lab.wait_until("Status lists ip6 nat PREROUTING", NOTICED, || {
        row(&lab, "ip6", "nat", "PREROUTING").is_some_and(|r| r[7] == 1)
    });
    for family in ["ip", "ip6"] {
        let pre = row(&lab, family, "nat", "PREROUTING")
            .unwrap_or_else(|| panic!("{family} nat PREROUTING: {:?}", other_chains(&lab)));
        assert_eq!(
            pre,
            serde_json::json!([
                family,
                "nat",
                "PREROUTING",
                "nat",
                "prerouting",
                -100,
                "accept",
                1,
                ""
            ])
        );
    }
    // FORWARD is not on an inbound hook; DOCKER and DOCKER-USER are regular chains.
    let listed = other_chains(&lab);
    assert_eq!(
        listed.len(),
        2,
        "only the two PREROUTING chains: {listed:?}"
    );

    let lan = lab.topology.lan();
    assert_eq!(
        lan.tcp_connect(8080, DROP),
        Outcome::Connected,
        "Docker's rules leave input alone"
    );
    assert_eq!(
        lan.tcp_connect(8081, DROP),
        Outcome::TimedOut,
        "closed in fw6"
    );
}
