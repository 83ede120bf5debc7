//! The test network: a host namespace (where fw6's rules go) joined by veth pairs to one peer
//! namespace per connection.
//!
//! ```text
//!   peer ns "lan"  eth0 fd00:1::2/64 10.66.1.2/24 ──veth── lan0 fd00:1::1/64 10.66.1.1/24 ┐
//!                                                                                       ├ host
//!   peer ns "wan"  eth0 fd00:2::2/64 10.66.2.2/24 ──veth── wan0 fd00:2::1/64 10.66.2.1/24 ┘
//! ```
//!
//! Connection number `n` (1-based, in creation order) uses `fd00:n::/64` and `10.66.n.0/24`
//! (fw6 filters both families: probes take a [`Family`]). Addresses go through
//! real duplicate address detection; the topology only shortens it (neighbour retransmit time
//! 100 ms, no initial random delay) and then waits until nothing is tentative.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use crate::{NeighState, NetNs, Outcome, dad, probe};

/// The peer's end of every veth pair.
const PEER_DEV: &str = "eth0";

/// An IP family a probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv6 (`fd00:n::/64`).
    V6,
    /// IPv4 (`10.66.n.0/24`).
    V4,
}

impl Family {
    /// Both, IPv6 first.
    pub const ALL: [Self; 2] = [Self::V6, Self::V4];
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V6 => "IPv6",
            Self::V4 => "IPv4",
        })
    }
}

/// A host namespace with its connections; dropping it removes every namespace and link.
#[derive(Debug)]
pub struct Topology {
    // Peers drop first: their veth ends go, then the host namespace.
    connections: Vec<Connection>,
    host: NetNs,
}

/// One veth connection between the host and its own peer namespace.
#[derive(Debug)]
pub struct Connection {
    name: String,
    peer: NetNs,
    host_addr: Ipv6Addr,
    peer_addr: Ipv6Addr,
    host_addr4: Ipv4Addr,
    peer_addr4: Ipv4Addr,
}

impl Topology {
    /// The host with connections `lan0` and `wan0`, addresses ready (DAD done).
    pub fn new() -> Self {
        let host = NetNs::new();
        speed_up_dad(&host);
        let mut topology = Self {
            connections: Vec::new(),
            host,
        };
        topology.connect("lan0");
        topology.connect("wan0");
        topology.wait_dad();
        topology
    }

    /// The host namespace.
    pub fn host(&self) -> &NetNs {
        &self.host
    }

    /// The `lan0` connection.
    pub fn lan(&self) -> &Connection {
        self.connection("lan0")
    }

    /// The `wan0` connection.
    pub fn wan(&self) -> &Connection {
        self.connection("wan0")
    }

    /// The connection whose host interface is `name`; panics if there is none.
    pub fn connection(&self, name: &str) -> &Connection {
        self.connections
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("fw6-testkit: no connection {name}"))
    }

    /// All connections in creation order.
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// Adds a connection whose host interface is `name` (hotplug), with a new peer namespace,
    /// and waits until its addresses are usable.
    pub fn add_connection(&mut self, name: &str) -> &Connection {
        self.connect(name);
        self.wait_dad();
        self.connection(name)
    }

    fn connect(&mut self, name: &str) {
        assert!(
            self.connections.iter().all(|c| c.name != name),
            "fw6-testkit: connection {name} exists already"
        );
        let n = u8::try_from(self.connections.len() + 1).expect("few connections");
        let peer = NetNs::new();
        speed_up_dad(&peer);
        let host_addr = Ipv6Addr::new(0xfd00, n.into(), 0, 0, 0, 0, 0, 1);
        let peer_addr = Ipv6Addr::new(0xfd00, n.into(), 0, 0, 0, 0, 0, 2);
        let (host_addr4, peer_addr4) = (Ipv4Addr::new(10, 66, n, 1), Ipv4Addr::new(10, 66, n, 2));
        // Created inside the host namespace; the peer end goes straight into the peer's.
        self.host.ip(&[
            "link",
            "add",
            name,
            "type",
            "veth",
            "peer",
            "name",
            PEER_DEV,
            "netns",
            peer.name(),
        ]);
        let connection = Connection {
            name: name.to_owned(),
            peer,
            host_addr,
            peer_addr,
            host_addr4,
            peer_addr4,
        };
        // Pushed before configuring, so a failure below still cleans up on drop.
        self.connections.push(connection);
        let connection = self.connections.last().expect("just pushed");
        speed_up_neighbour(&self.host, name);
        speed_up_neighbour(&connection.peer, PEER_DEV);
        let host_cidr = format!("{host_addr}/64");
        let peer_cidr = format!("{peer_addr}/64");
        self.host.ip(&["addr", "add", &host_cidr, "dev", name]);
        connection
            .peer
            .ip(&["addr", "add", &peer_cidr, "dev", PEER_DEV]);
        self.host
            .ip(&["addr", "add", &format!("{host_addr4}/24"), "dev", name]);
        connection
            .peer
            .ip(&["addr", "add", &format!("{peer_addr4}/24"), "dev", PEER_DEV]);
        connection.peer.ip(&["link", "set", PEER_DEV, "up"]);
        self.host.ip(&["link", "set", name, "up"]);
    }

    fn wait_dad(&self) {
        dad::wait_done(&self.host);
        for c in &self.connections {
            dad::wait_done(&c.peer);
        }
    }
}

impl Default for Topology {
    fn default() -> Self {
        Self::new()
    }
}

/// Real DAD, made quick, part one: no random delay before the first NS (at most one jiffy).
/// Set on the namespace's `conf/default` before any link exists, so new interfaces inherit it.
fn speed_up_dad(ns: &NetNs) {
    ns.set_sysctl("ipv6/conf/default/router_solicitation_delay", "0");
}

/// Part two: a 100 ms neighbour retransmit timer, which paces DAD. Neighbour defaults are not
/// per namespace (a new namespace copies the machine's), so it is set per device, while the
/// device is still down.
fn speed_up_neighbour(ns: &NetNs, dev: &str) {
    ns.set_sysctl(&format!("ipv6/neigh/{dev}/retrans_time_ms"), "100");
}

impl Connection {
    /// The host's interface name for this connection.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The peer namespace.
    pub fn peer(&self) -> &NetNs {
        &self.peer
    }

    /// The peer's interface name (always `eth0`, in its own namespace).
    pub fn peer_dev(&self) -> &str {
        PEER_DEV
    }

    /// The host's address on this connection (`fd00:n::1`).
    pub fn host_addr(&self) -> Ipv6Addr {
        self.host_addr
    }

    /// The peer's address (`fd00:n::2`).
    pub fn peer_addr(&self) -> Ipv6Addr {
        self.peer_addr
    }

    /// The host's address with `port`.
    pub fn host_sock(&self, port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(self.host_addr, port, 0, 0)
    }

    /// TCP connect from the peer to the host's `port`.
    pub fn tcp_connect(&self, port: u16, timeout: Duration) -> Outcome {
        probe::tcp_connect(&self.peer, self.host_sock(port), timeout)
    }

    /// UDP request/reply from the peer to the host's `port`.
    pub fn udp_exchange(&self, port: u16, timeout: Duration) -> bool {
        probe::udp_exchange(&self.peer, self.host_sock(port), timeout)
    }

    /// ICMPv6 echo from the peer to the host's address.
    pub fn ping(&self, timeout: Duration) -> bool {
        probe::ping(&self.peer, self.host_addr, timeout)
    }

    /// The host's address on this connection in `family` (`fd00:n::1`, `10.66.n.1`).
    pub fn host_ip(&self, family: Family) -> IpAddr {
        match family {
            Family::V6 => self.host_addr.into(),
            Family::V4 => self.host_addr4.into(),
        }
    }

    /// The peer's address in `family` (`fd00:n::2`, `10.66.n.2`).
    pub fn peer_ip(&self, family: Family) -> IpAddr {
        match family {
            Family::V6 => self.peer_addr.into(),
            Family::V4 => self.peer_addr4.into(),
        }
    }

    /// The host's address in `family` with `port`.
    pub fn host_sock_in(&self, family: Family, port: u16) -> SocketAddr {
        SocketAddr::new(self.host_ip(family), port)
    }

    /// TCP connect from the peer to the host's `port` over `family`.
    pub fn tcp_connect_in(&self, family: Family, port: u16, timeout: Duration) -> Outcome {
        probe::tcp_connect(&self.peer, self.host_sock_in(family, port), timeout)
    }

    /// UDP request/reply from the peer to the host's `port` over `family`.
    pub fn udp_exchange_in(&self, family: Family, port: u16, timeout: Duration) -> bool {
        probe::udp_exchange(&self.peer, self.host_sock_in(family, port), timeout)
    }

    /// Echo request (ICMPv6 or ICMP) from the peer to the host's address in `family`.
    pub fn ping_in(&self, family: Family, timeout: Duration) -> bool {
        probe::ping(&self.peer, self.host_ip(family), timeout)
    }

    /// The peer's neighbour-cache state for the host's address.
    pub fn peer_sees_host(&self) -> Option<NeighState> {
        self.peer.neighbour(PEER_DEV, self.host_addr)
    }
}
