//! Real packets from peer namespaces to a host namespace holding fw6's table (issue 3): every
//! state of the normative ruleset (`docs/ruleset.md`, "Input chain", rule numbers below) is
//! loaded with `Nft::apply_full` or reached with `Nft::apply_changes`, and probed with TCP,
//! UDP, ICMPv6 and crafted packets, over IPv6 and (where the rule is not IPv6's own) IPv4.
//! Each test has its own `Topology`: host `lan0` fd00:1::1 10.66.1.1 ↔ peer fd00:1::2
//! 10.66.1.2, host `wan0` fd00:2::1 10.66.2.1 ↔ peer fd00:2::2 10.66.2.2.
//!
//! "Dropped" is asserted as a TCP *time-out*, never a refusal, with a listener present where
//! it matters: without the rules the same probe connects (fw6-testkit's self-tests show every
//! probe reaching every outcome).

use std::net::{IpAddr, SocketAddrV6};
use std::time::Duration;

use fw6_kernel::Nft;
use fw6_model::plan::{self, EchoRequest, Options};
use fw6_model::{EntryName, IfName, Mutation, PortKey, State};
use fw6_testkit::hostile::flags;
use fw6_testkit::packet::{self, TCP};
use fw6_testkit::packet4;
use fw6_testkit::{
    Family, NeighState, Outcome, SynReply, Topology, send_frag_needed, send_packet_too_big,
    send_router_advert, send_syn_and_wait, tcp_connect, udp_exchange,
};

/// How long a probe waits for what should be dropped.
const DROP: Duration = Duration::from_millis(400);
/// How long a probe may wait for what should pass (it returns as soon as it does).
const PASS: Duration = Duration::from_secs(3);

const WEB: u16 = 8080;
const OTHER: u16 = 8081;
const DNS: u16 = 5353;

fn ifname(s: &str) -> IfName {
    IfName::try_from(s).unwrap()
}

fn key(s: &str) -> PortKey {
    s.parse().unwrap()
}

fn name() -> EntryName {
    EntryName::try_from("test").unwrap()
}

fn open_port(connection: &str, pair: &str) -> Mutation {
    Mutation::OpenPort {
        connection: ifname(connection),
        key: key(pair),
        name: name(),
        lease: None,
    }
}

fn open_global(pair: &str) -> Mutation {
    Mutation::OpenGlobalPort {
        key: key(pair),
        name: name(),
        lease: None,
    }
}

fn ignore_global(connection: &str, pair: &str) -> Mutation {
    Mutation::IgnoreGlobalPort {
        connection: ifname(connection),
        key: key(pair),
        name: name(),
    }
}

fn disable(connection: &str) -> Mutation {
    Mutation::DisableFirewall {
        connection: ifname(connection),
    }
}

/// A topology whose host holds fw6's table for a state, plus the handle and state to change it.
struct Firewall {
    topo: Topology,
    nft: Nft,
    state: State,
}

impl Firewall {
    /// A fresh topology with the full table for `mutations` applied to the empty state.
    fn new(mutations: &[Mutation]) -> Self {
        Self::with_options(mutations, &Options::default())
    }

    fn with_options(mutations: &[Mutation], options: &Options) -> Self {
        let topo = Topology::new();
        let mut nft = {
            let _inside = topo.host().enter();
            Nft::new().expect("open nftables in the host namespace")
        };
        let mut state = State::default();
        state.apply_batch(mutations).expect("valid mutations");
        nft.apply_full(&plan::full(&state, options))
            .expect("load the full table");
        Self { topo, nft, state }
    }

    /// Applies `mutation` the way the daemon does: effective changes → one element batch.
    fn change(&mut self, mutation: &Mutation) {
        let changes = self.state.apply(mutation).expect("valid mutation");
        let plan::Update::Elements(ops) = plan::update(&changes) else {
            panic!("{mutation:?} should need element changes only");
        };
        assert!(!ops.is_empty(), "{mutation:?} changed nothing");
        self.nft.apply_changes(&ops).expect("apply element changes");
    }
}

// Rules 8 and 14: a pair open on one connection is open there only; the rest is dropped. Every
// probe below runs over IPv6 and over IPv4: one table, the same sets, both families.
#[test]
fn port_open_on_lan_passes_there_and_times_out_on_wan() {
    let fw = Firewall::new(&[open_port("lan0", "8080/tcp"), open_port("lan0", "5353/udp")]);
    let host = fw.topo.host();
    let (_web, _dns) = (host.tcp_listen(WEB), host.udp_echo(DNS));
    let _dns_tcp = host.tcp_listen(DNS);
    let (lan, wan) = (fw.topo.lan(), fw.topo.wan());
    for f in Family::ALL {
        assert_eq!(lan.tcp_connect_in(f, WEB, PASS), Outcome::Connected, "{f}");
        assert!(lan.udp_exchange_in(f, DNS, PASS), "{f}");
        assert_eq!(wan.tcp_connect_in(f, WEB, DROP), Outcome::TimedOut, "{f}");
        assert!(!wan.udp_exchange_in(f, DNS, DROP), "{f}");
        // Protocols are distinct: 5353/udp open does not open 5353/tcp.
        assert_eq!(lan.tcp_connect_in(f, DNS, DROP), Outcome::TimedOut, "{f}");
    }
}

// Rule 14: not open means dropped, not rejected — also where nothing listens (no RST).
#[test]
fn closed_ports_are_dropped_silently() {
    let fw = Firewall::new(&[]);
    let host = fw.topo.host();
    let (_web, _dns) = (host.tcp_listen(WEB), host.udp_echo(DNS));
    for conn in fw.topo.connections() {
        for f in Family::ALL {
            let at = format!("{} {f}", conn.name());
            assert_eq!(conn.tcp_connect_in(f, WEB, DROP), Outcome::TimedOut, "{at}");
            assert_eq!(
                conn.tcp_connect_in(f, OTHER, DROP),
                Outcome::TimedOut,
                "{at}"
            );
            assert!(!conn.udp_exchange_in(f, DNS, DROP), "{at}");
        }
    }
}

// Rule 11: a global pair is open on every connection.
#[test]
fn global_open_passes_on_every_connection() {
    let fw = Firewall::new(&[open_global("8080/tcp"), open_global("5353/udp")]);
    let host = fw.topo.host();
    let (_web, _dns) = (host.tcp_listen(WEB), host.udp_echo(DNS));
    let _other = host.tcp_listen(OTHER);
    for conn in fw.topo.connections() {
        for f in Family::ALL {
            let at = format!("{} {f}", conn.name());
            assert_eq!(
                conn.tcp_connect_in(f, WEB, PASS),
                Outcome::Connected,
                "{at}"
            );
            assert!(conn.udp_exchange_in(f, DNS, PASS), "{at}");
            assert_eq!(
                conn.tcp_connect_in(f, OTHER, DROP),
                Outcome::TimedOut,
                "{at}"
            );
        }
    }
}

// Rules 8, 9, 11: an ignored global pair is closed on that connection only, and a per-connection
// open of the same pair wins over the ignore (docs/icf-api.md §1.4 rule 1 before rule 3).
#[test]
fn ignored_global_closes_one_connection_and_own_open_reopens_it() {
    let mut fw = Firewall::new(&[open_global("8080/tcp"), ignore_global("wan0", "8080/tcp")]);
    let _web = fw.topo.host().tcp_listen(WEB);
    for f in Family::ALL {
        assert_eq!(
            fw.topo.wan().tcp_connect_in(f, WEB, DROP),
            Outcome::TimedOut,
            "{f}"
        );
        assert_eq!(
            fw.topo.lan().tcp_connect_in(f, WEB, PASS),
            Outcome::Connected,
            "{f}"
        );
    }

    fw.change(&open_port("wan0", "8080/tcp"));
    for f in Family::ALL {
        assert_eq!(
            fw.topo.wan().tcp_connect_in(f, WEB, PASS),
            Outcome::Connected,
            "{f}"
        );
    }

    // The same state loaded in one piece behaves the same.
    let full = Firewall::new(&[
        open_global("8080/tcp"),
        ignore_global("wan0", "8080/tcp"),
        open_port("wan0", "8080/tcp"),
    ]);
    let _web = full.topo.host().tcp_listen(WEB);
    for f in Family::ALL {
        assert_eq!(
            full.topo.wan().tcp_connect_in(f, WEB, PASS),
            Outcome::Connected,
            "{f}"
        );
    }
}

// Rule 4: a connection without firewall accepts everything: listening ports connect, closed
// ones answer with a reset, UDP flows; the other connection stays firewalled. Switching back
// on drops again. Both switches go through `apply_changes`.
#[test]
fn disabled_firewall_makes_everything_reachable_on_that_connection() {
    let mut fw = Firewall::new(&[]);
    let host = fw.topo.host();
    let (_web, _dns) = (host.tcp_listen(WEB), host.udp_echo(DNS));
    for f in Family::ALL {
        assert_eq!(
            fw.topo.lan().tcp_connect_in(f, WEB, DROP),
            Outcome::TimedOut,
            "{f}"
        );
    }

    fw.change(&disable("lan0"));
    let lan = fw.topo.lan();
    for f in Family::ALL {
        assert_eq!(lan.tcp_connect_in(f, WEB, PASS), Outcome::Connected, "{f}");
        assert_eq!(lan.tcp_connect_in(f, OTHER, PASS), Outcome::Refused, "{f}");
        assert!(lan.udp_exchange_in(f, DNS, PASS), "{f}");
        assert_eq!(
            fw.topo.wan().tcp_connect_in(f, WEB, DROP),
            Outcome::TimedOut,
            "{f}"
        );
    }

    fw.change(&Mutation::EnableFirewall {
        connection: ifname("lan0"),
    });
    for f in Family::ALL {
        assert_eq!(
            fw.topo.lan().tcp_connect_in(f, WEB, DROP),
            Outcome::TimedOut,
            "{f}"
        );
    }
}

// "Sets" (interfaces by name): an interface that appears after the table was loaded is
// firewalled, and configuration stored for its name before it existed applies at once.
#[test]
fn interfaces_created_later_are_firewalled_and_get_their_stored_configuration() {
    let mut fw = Firewall::new(&[open_port("new0", "8080/tcp")]);
    let _web = fw.topo.host().tcp_listen(WEB);
    let _other = fw.topo.host().tcp_listen(OTHER);
    fw.topo.add_connection("new0");
    fw.topo.add_connection("new1");

    let new0 = fw.topo.connection("new0");
    let new1 = fw.topo.connection("new1");
    for f in Family::ALL {
        assert_eq!(new0.tcp_connect_in(f, WEB, PASS), Outcome::Connected, "{f}");
        assert_eq!(
            new0.tcp_connect_in(f, OTHER, DROP),
            Outcome::TimedOut,
            "{f}"
        );
        assert_eq!(new1.tcp_connect_in(f, WEB, DROP), Outcome::TimedOut, "{f}");
        assert_eq!(
            new1.tcp_connect_in(f, OTHER, DROP),
            Outcome::TimedOut,
            "{f}"
        );
    }
}

// `families = ["ipv6"]` (`Options::ipv4` false): IPv4 passes untouched — a closed port answers
// with a reset, a listener connects, echo requests pass past any rate — while IPv6 to the
// same ports is still dropped.
#[test]
fn ipv6_only_leaves_ipv4_unfiltered() {
    let options = Options {
        ipv4: false,
        echo_request: EchoRequest::Drop,
        ..Options::default()
    };
    let fw = Firewall::with_options(&[], &options);
    let _web = fw.topo.host().tcp_listen(WEB);
    let lan = fw.topo.lan();
    assert_eq!(
        lan.tcp_connect_in(Family::V4, WEB, PASS),
        Outcome::Connected
    );
    assert_eq!(
        lan.tcp_connect_in(Family::V4, OTHER, PASS),
        Outcome::Refused
    );
    assert!(lan.ping_in(Family::V4, PASS));
    assert_eq!(lan.tcp_connect_in(Family::V6, WEB, DROP), Outcome::TimedOut);
    assert!(!lan.ping_in(Family::V6, DROP));
}

// Rules 2 and 3: with nothing open, connections the host starts get their replies, and
// neighbour discovery works both ways (caches flushed first, so every exchange needs ND
// through the firewall).
#[test]
fn host_started_traffic_gets_replies_and_neighbour_discovery_works_both_ways() {
    let fw = Firewall::new(&[]);
    let (host, lan) = (fw.topo.host(), fw.topo.lan());
    let _peer_web = lan.peer().tcp_listen(WEB);
    let _peer_dns = lan.peer().udp_echo(DNS);
    host.flush_neighbours(lan.name());
    lan.peer().flush_neighbours(lan.peer_dev());

    // Host → peer: the host must resolve the peer (its NS out, the peer's NA in), then the
    // SYN-ACK and the UDP reply come back through `ct state established`.
    let peer_web = SocketAddrV6::new(lan.peer_addr(), WEB, 0, 0);
    assert_eq!(tcp_connect(host, peer_web, PASS), Outcome::Connected);
    assert!(udp_exchange(
        host,
        SocketAddrV6::new(lan.peer_addr(), DNS, 0, 0),
        PASS
    ));
    let learned = host.neighbour(lan.name(), lan.peer_addr());
    assert!(learned.is_some_and(NeighState::is_resolved), "{learned:?}");
    // The same over IPv4 (ARP is below netfilter's IP hooks; the replies are established).
    let peer4 = lan.peer_ip(Family::V4);
    assert_eq!(tcp_connect(host, (peer4, WEB), PASS), Outcome::Connected);
    assert!(udp_exchange(host, (peer4, DNS), PASS));

    // Peer → host: the peer resolves the host (its NS in, the host's NA out); the echo request
    // passes by default (rule 12).
    host.flush_neighbours(lan.name());
    lan.peer().flush_neighbours(lan.peer_dev());
    assert!(lan.ping(PASS));
    let learned = lan.peer_sees_host();
    assert!(learned.is_some_and(NeighState::is_resolved), "{learned:?}");
    // A probe that is dropped still resolves the neighbour first: ND is not the firewall's
    // business even on a closed port.
    lan.peer().flush_neighbours(lan.peer_dev());
    assert_eq!(lan.tcp_connect(OTHER, DROP), Outcome::TimedOut);
    let learned = lan.peer_sees_host();
    assert!(learned.is_some_and(NeighState::is_resolved), "{learned:?}");
}

// Rule 3: a router advertisement (hop limit 255, link-local source) configures the firewalled
// host: default route and on-link prefix appear in the host namespace.
#[test]
fn router_advertisements_reach_a_firewalled_host() {
    let fw = Firewall::new(&[]);
    let lan = fw.topo.lan();
    assert_eq!(
        fw.topo.host().sysctl("ipv6/conf/lan0/forwarding"),
        "0",
        "a non-forwarding host accepts RAs with accept_ra=1"
    );
    send_router_advert(lan.peer(), lan.peer_dev(), "fd00:99::".parse().unwrap());
    wait_until(|| {
        let routes = fw.topo.host().ip(&["-6", "route", "show", "dev", "lan0"]);
        routes.contains("default via fe80::") && routes.contains("fd00:99::/64")
    });
}

// Rule 3: a packet-too-big about a flow with no conntrack entry still reaches the host (it is
// not `related`, and would be `invalid`), and the host lowers its path MTU.
#[test]
fn packet_too_big_reaches_a_firewalled_host() {
    let fw = Firewall::new(&[]);
    let lan = fw.topo.lan();
    send_packet_too_big(lan.peer(), lan.host_addr(), lan.peer_addr(), 1300);
    wait_until(|| {
        fw.topo
            .host()
            .ip(&["-6", "route", "get", &lan.peer_addr().to_string()])
            .contains("mtu 1300")
    });
}

// Rule 12: echo requests pass with the default options and are dropped with
// `EchoRequest::Drop` — on firewalled connections; an unfirewalled one still answers (rule 4).
#[test]
fn echo_request_follows_the_configuration() {
    let fw = Firewall::new(&[]);
    for f in Family::ALL {
        assert!(fw.topo.lan().ping_in(f, PASS), "{f}");
        assert!(fw.topo.wan().ping_in(f, PASS), "{f}");
    }

    let options = Options {
        echo_request: EchoRequest::Drop,
        ..Options::default()
    };
    let fw = Firewall::with_options(&[disable("wan0")], &options);
    for f in Family::ALL {
        assert!(!fw.topo.lan().ping_in(f, DROP), "{f}");
        assert!(fw.topo.wan().ping_in(f, PASS), "{f}");
    }
}

// Rule 6: a SYN carrying a type 0 routing header (segments left 0, which Linux itself would
// deliver) is dropped even to an open port. Controls: the same SYN without the header connects
// there, and with the header it connects on an unfirewalled connection.
#[test]
fn routing_header_type_0_is_dropped() {
    let fw = Firewall::new(&[open_port("lan0", "8080/tcp"), disable("wan0")]);
    let _web = fw.topo.host().tcp_listen(WEB);
    for (conn, sport, expected, wait) in [
        (fw.topo.lan(), 41_000, SynReply::Nothing, DROP),
        (fw.topo.wan(), 41_001, SynReply::SynAck, PASS),
    ] {
        let (src, dst) = (conn.peer_addr(), conn.host_addr());
        let syn = packet::tcp_syn(src, dst, sport, WEB, 1, &[]);
        let rh0 = packet::ipv6(
            src,
            dst,
            packet::ROUTING,
            &packet::routing_type0(TCP, dst, &syn),
        );
        let reply = send_syn_and_wait(conn.peer(), &[rh0], conn.host_sock(WEB), sport, wait);
        assert_eq!(reply, expected, "{}", conn.name());
    }
    let lan = fw.topo.lan();
    let (src, dst) = (lan.peer_addr(), lan.host_addr());
    let plain = packet::ipv6(
        src,
        dst,
        TCP,
        &packet::tcp_syn(src, dst, 41_002, WEB, 1, &[]),
    );
    let reply = send_syn_and_wait(lan.peer(), &[plain], lan.host_sock(WEB), 41_002, PASS);
    assert_eq!(reply, SynReply::SynAck);
}

// "Conntrack reassembles fragments": a SYN split in two fragments (the second carrying no
// ports) reaches an open port and never a closed one, though both have a listener; over IPv4
// too, where the first fragment may carry as little as 8 bytes.
#[test]
fn fragmented_syn_reaches_an_open_port_and_never_a_closed_one() {
    let fw = Firewall::new(&[open_port("lan0", "8080/tcp")]);
    let _web = fw.topo.host().tcp_listen(WEB);
    let _other = fw.topo.host().tcp_listen(OTHER);
    let lan = fw.topo.lan();
    let (src, dst) = (lan.peer_addr(), lan.host_addr());
    for (dport, sport, id, expected, wait) in [
        (WEB, 42_000, 0xf601, SynReply::SynAck, PASS),
        (OTHER, 42_001, 0xf602, SynReply::Nothing, DROP),
    ] {
        let syn = packet::tcp_syn(src, dst, sport, dport, 1, b"fragment");
        let fragments = packet::two_fragments(src, dst, TCP, &syn, 24, id);
        let reply = send_syn_and_wait(lan.peer(), &fragments, lan.host_sock(dport), sport, wait);
        assert_eq!(reply, expected, "port {dport}");
    }
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (lan.peer_ip(Family::V4), lan.host_ip(Family::V4))
    else {
        unreachable!("IPv4 addresses")
    };
    for (dport, sport, id, expected, wait) in [
        (WEB, 42_002, 0xf603, SynReply::SynAck, PASS),
        (OTHER, 42_003, 0xf604, SynReply::Nothing, DROP),
    ] {
        let syn = packet4::tcp(src, dst, sport, dport, flags::SYN, b"fragment");
        let fragments = packet4::two_fragments(src, dst, TCP, &syn, 8, id);
        let to = lan.host_sock_in(Family::V4, dport);
        let reply = send_syn_and_wait(lan.peer(), &fragments, to, sport, wait);
        assert_eq!(reply, expected, "IPv4 port {dport}");
    }
}

// Rules 7 and 8 (`ip option lsrr|ssrr exists drop`): a SYN carrying a used-up source route is
// dropped even to an open port. The host is made to accept source routes (Linux drops them
// itself by default, before the input hook: `accept_source_route` 0), so the controls show
// what the rules add: the same SYN connects on an unfirewalled connection, and without the
// option on the firewalled one.
#[test]
fn source_route_options_are_dropped() {
    let fw = Firewall::new(&[open_port("lan0", "8080/tcp"), disable("wan0")]);
    for conf in ["all", "lan0", "wan0"] {
        fw.topo
            .host()
            .set_sysctl(&format!("ipv4/conf/{conf}/accept_source_route"), "1");
    }
    let _web = fw.topo.host().tcp_listen(WEB);
    let v4 =
        |conn: &fw6_testkit::Connection| match (conn.peer_ip(Family::V4), conn.host_ip(Family::V4))
        {
            (IpAddr::V4(src), IpAddr::V4(dst)) => (src, dst),
            _ => unreachable!("IPv4 addresses"),
        };
    let mut sport = 43_000;
    for kind in [packet4::LSRR, packet4::SSRR] {
        for (conn, expected, wait) in [
            (fw.topo.lan(), SynReply::Nothing, DROP),
            (fw.topo.wan(), SynReply::SynAck, PASS),
        ] {
            sport += 1;
            let (src, dst) = v4(conn);
            let route = packet4::source_route(kind, dst, 4);
            let syn = packet4::ipv4(
                src,
                dst,
                TCP,
                &route,
                None,
                &packet4::syn(src, dst, sport, WEB),
            );
            let to = conn.host_sock_in(Family::V4, WEB);
            let reply = send_syn_and_wait(conn.peer(), &[syn], to, sport, wait);
            assert_eq!(reply, expected, "option {kind} on {}", conn.name());
        }
    }
    let lan = fw.topo.lan();
    let (src, dst) = v4(lan);
    let plain = packet4::ipv4(
        src,
        dst,
        TCP,
        &[],
        None,
        &packet4::syn(src, dst, 43_100, WEB),
    );
    let to = lan.host_sock_in(Family::V4, WEB);
    assert_eq!(
        send_syn_and_wait(lan.peer(), &[plain], to, 43_100, PASS),
        SynReply::SynAck
    );
}

// Rule 2 over IPv4: an ICMP "fragmentation needed" about a flow conntrack knows is `related`
// and reaches it (path MTU discovery works); one about a flow conntrack never saw is `invalid`
// and dropped (rule 6). The unrelated one goes first and announces the lower MTU: had it
// passed, the path MTU would stay at its 1280 (Linux only lowers it), never reach 1300.
#[test]
fn frag_needed_reaches_a_firewalled_host_for_a_tracked_flow_only() {
    let fw = Firewall::new(&[]);
    let (host, lan) = (fw.topo.host(), fw.topo.lan());
    let (IpAddr::V4(host4), IpAddr::V4(peer4)) = (lan.host_ip(Family::V4), lan.peer_ip(Family::V4))
    else {
        unreachable!("IPv4 addresses")
    };
    // The peer pings the host: conntrack now tracks that echo and the host's reply (id: this
    // process's, as `ping` sends it).
    assert!(lan.ping_in(Family::V4, PASS));
    let id = u16::try_from(std::process::id() & 0xffff).expect("masked");
    send_frag_needed(lan.peer(), host4, peer4, id.wrapping_add(1), 1280);
    send_frag_needed(lan.peer(), host4, peer4, id, 1300);
    wait_until(|| {
        host.ip(&["-4", "route", "get", &peer4.to_string()])
            .contains("mtu 1300")
    });
}

/// A DHCP-like datagram from the `lan` peer's port 67 to the subnet's broadcast and to the host's address, port 68.
fn send_offer(lan: &fw6_testkit::Connection, payload: &'static [u8]) {
    let to = [
        std::net::SocketAddr::from(([10, 66, 1, 255], 68)),
        lan.host_sock_in(Family::V4, 68),
    ];
    lan.peer().run_in(move || {
        let socket = std::net::UdpSocket::bind(("0.0.0.0", 67)).expect("bind 67");
        socket.set_broadcast(true).expect("SO_BROADCAST");
        for to in to {
            socket.send_to(payload, to).expect("send an offer");
        }
    });
}

// DHCPv4 clients receive on a packet socket, which the device layer serves before IP and so
// before netfilter's input hook: a datagram to port 68 that fw6 drops (68/udp is not open)
// never reaches a UDP socket, yet a packet socket sees it, broadcast or unicast. With the
// firewall off the UDP socket receives the same datagrams (control). Renewals a client sends
// from a UDP socket get their replies as `ct state established` (rule 2).
#[test]
fn a_dhcpv4_client_packet_socket_sees_what_the_firewall_drops() {
    let mut fw = Firewall::new(&[]);
    let host = fw.topo.host();
    let tap = host.packet_tap();
    let client = host.counter(68);
    send_offer(fw.topo.lan(), b"fw6 dhcp offer 1");
    assert!(
        tap.saw_udp(68, b"fw6 dhcp offer 1", PASS),
        "the packet socket sees it"
    );
    std::thread::sleep(DROP);
    assert_eq!(client.datagrams(), 0, "no UDP socket does");

    fw.change(&disable("lan0"));
    send_offer(fw.topo.lan(), b"fw6 dhcp offer 2");
    assert!(tap.saw_udp(68, b"fw6 dhcp offer 2", PASS));
    wait_until(|| client.datagrams() == 2);
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < PASS, "condition not met within {PASS:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
