//! The testkit tested on its own, without fw6's rules: namespaces come and go cleanly, and every
//! probe can report every outcome. These are the controls that make the firewall tests in
//! fw6-kernel meaningful: a probe that "times out" there is known to connect without rules.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use fw6_testkit::packet::{self, TCP};
use fw6_testkit::{
    NetNs, Outcome, SynReply, Topology, send_packet_too_big, send_router_advert, send_syn_and_wait,
};

const QUICK: Duration = Duration::from_millis(400);
const PATIENT: Duration = Duration::from_secs(2);

fn thread_netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

#[test]
fn namespace_is_named_mounted_and_removed_on_drop() {
    let ns = NetNs::new();
    let path = ns.path().to_owned();
    assert!(path.exists());
    assert!(ns.name().starts_with("fw6t-"));
    // `ip netns exec` reaches it, and lo is up there.
    let lo = ns.exec("ip", &["-o", "link", "show", "lo"]);
    assert!(lo.contains("UP"), "{lo}");
    drop(ns);
    assert!(!path.exists());
}

#[test]
fn namespace_is_removed_when_the_test_panics() {
    let mut path = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ns = NetNs::new();
        path = Some(ns.path().to_owned());
        panic!("test failure");
    }));
    assert!(result.is_err());
    assert!(!path.unwrap().exists());
}

#[test]
fn enter_moves_only_this_thread_and_comes_back() {
    let home = thread_netns_inode();
    let ns = NetNs::new();
    {
        let _in = ns.enter();
        assert_ne!(thread_netns_inode(), home);
        let inner = thread_netns_inode();
        assert_eq!(ns.run_in(thread_netns_inode), inner);
    }
    assert_eq!(thread_netns_inode(), home);
    let inside = ns.block_on(async { thread_netns_inode() });
    assert_ne!(inside, home);
    assert_eq!(thread_netns_inode(), home);
}

#[test]
fn topology_addresses_are_usable_and_everything_goes_on_drop() {
    let topo = Topology::new();
    let names: Vec<_> = std::iter::once(topo.host().path().to_owned())
        .chain(
            topo.connections()
                .iter()
                .map(|c| c.peer().path().to_owned()),
        )
        .collect();
    let addrs = topo.host().ip(&["-6", "-o", "addr", "show", "dev", "lan0"]);
    assert!(addrs.contains("fd00:1::1/64"), "{addrs}");
    assert!(!addrs.contains("tentative"), "{addrs}");
    assert!(topo.wan().ping(PATIENT));
    drop(topo);
    for n in names {
        assert!(!n.exists(), "{n:?} left behind");
    }
}

#[test]
fn tcp_probe_reports_connected_refused_and_timed_out() {
    let topo = Topology::new();
    let _listener = topo.host().tcp_listen(8080);
    assert_eq!(topo.lan().tcp_connect(8080, PATIENT), Outcome::Connected);
    assert_eq!(topo.lan().tcp_connect(8081, PATIENT), Outcome::Refused);
    // A drop rule (test-only use of nft) makes the same connect time out.
    topo.host().exec(
        "nft",
        &["add table ip6 t; add chain ip6 t c { type filter hook input priority 0; tcp dport 8080 drop; }"],
    );
    let start = Instant::now();
    assert_eq!(topo.lan().tcp_connect(8080, QUICK), Outcome::TimedOut);
    assert!(start.elapsed() < QUICK + Duration::from_millis(300));
}

#[test]
fn udp_and_ping_probes_succeed_and_fail() {
    let topo = Topology::new();
    let _echo = topo.host().udp_echo(5353);
    assert!(topo.lan().udp_exchange(5353, PATIENT));
    assert!(!topo.lan().udp_exchange(5354, QUICK));
    assert!(topo.lan().ping(PATIENT));
    topo.host().exec(
        "nft",
        &["add table ip6 t; add chain ip6 t c { type filter hook input priority 0; icmpv6 type echo-request drop; udp dport 5353 drop; }"],
    );
    assert!(!topo.lan().ping(QUICK));
    assert!(!topo.lan().udp_exchange(5353, QUICK));
}

#[test]
fn neighbour_state_follows_traffic() {
    let topo = Topology::new();
    let lan = topo.lan();
    lan.peer().flush_neighbours(lan.peer_dev());
    assert!(lan.peer_sees_host().is_none_or(|s| !s.is_resolved()));
    assert!(lan.ping(PATIENT));
    assert!(
        lan.peer_sees_host()
            .is_some_and(fw6_testkit::NeighState::is_resolved)
    );
}

#[test]
fn crafted_syns_whole_fragmented_and_with_a_type0_routing_header_reach_tcp() {
    let topo = Topology::new();
    let _listener = topo.host().tcp_listen(8080);
    let lan = topo.lan();
    let (src, dst) = (lan.peer_addr(), lan.host_addr());
    let syn = |sport, dport| packet::tcp_syn(src, dst, sport, dport, 7, b"fw6 frag");

    let whole = packet::ipv6(src, dst, TCP, &syn(40001, 8080));
    let reply = send_syn_and_wait(lan.peer(), &[whole], lan.host_sock(8080), 40001, PATIENT);
    assert_eq!(reply, SynReply::SynAck);

    let closed = packet::ipv6(src, dst, TCP, &syn(40002, 8081));
    let reply = send_syn_and_wait(lan.peer(), &[closed], lan.host_sock(8081), 40002, PATIENT);
    assert_eq!(reply, SynReply::Rst);

    let frags = packet::two_fragments(src, dst, TCP, &syn(40003, 8080), 24, 0x0f06);
    let reply = send_syn_and_wait(lan.peer(), &frags, lan.host_sock(8080), 40003, PATIENT);
    assert_eq!(
        reply,
        SynReply::SynAck,
        "the kernel reassembles a split SYN"
    );

    // Segments left 0: Linux itself delivers it; only a firewall rule can drop it.
    let rh0 = packet::ipv6(
        src,
        dst,
        packet::ROUTING,
        &packet::routing_type0(TCP, dst, &syn(40004, 8080)),
    );
    let reply = send_syn_and_wait(lan.peer(), &[rh0], lan.host_sock(8080), 40004, PATIENT);
    assert_eq!(reply, SynReply::SynAck);
}

#[test]
fn router_advert_gives_the_host_a_default_route_and_prefix() {
    let topo = Topology::new();
    let lan = topo.lan();
    let prefix: Ipv6Addr = "fd00:99::".parse().unwrap();
    send_router_advert(lan.peer(), lan.peer_dev(), prefix);
    wait_for(|| {
        let routes = topo.host().ip(&["-6", "route", "show", "dev", "lan0"]);
        routes.contains("default via fe80::") && routes.contains("fd00:99::/64")
    });
}

#[test]
fn packet_too_big_lowers_the_host_path_mtu() {
    let topo = Topology::new();
    let lan = topo.lan();
    send_packet_too_big(lan.peer(), lan.host_addr(), lan.peer_addr(), 1300);
    wait_for(|| {
        topo.host()
            .ip(&["-6", "route", "get", &lan.peer_addr().to_string()])
            .contains("mtu 1300")
    });
}

fn wait_for(mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < PATIENT,
            "condition not met within {PATIENT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
