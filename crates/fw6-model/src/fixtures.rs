//! Fixtures for tests (feature `fixtures`, off in every shipped build): the sample state the
//! nftables goldens are made from, once, so the plan's goldens (this crate's `tests/plan.rs`)
//! and the kernel's (fw6-kernel's `tests/nft_golden.rs`) describe the same configuration.

use crate::{EntryName, IfName, Mutation, PortKey, State};

/// An interface name; panics on an invalid one.
pub fn ifname(s: &str) -> IfName {
    IfName::try_from(s).expect("valid interface name")
}

/// A `PORT/PROTO` pair; panics on an invalid one.
pub fn key(s: &str) -> PortKey {
    s.parse().expect("valid PORT/PROTO")
}

/// An entry name; panics on an invalid one.
pub fn name(s: &str) -> EntryName {
    EntryName::try_from(s).expect("valid entry name")
}

/// A state touching every set: a global pair, pairs on two connections, an ignore, a
/// connection without firewall.
pub fn sample() -> State {
    let mut state = State::default();
    state
        .apply_batch(&[
            Mutation::OpenGlobalPort {
                key: key("22/tcp"),
                name: name("ssh"),
                lease: None,
            },
            Mutation::OpenGlobalPort {
                key: key("546/udp"),
                name: name("dhcpv6-client"),
                lease: None,
            },
            Mutation::OpenPort {
                connection: ifname("lan0"),
                key: key("80/tcp"),
                name: name("web"),
                lease: None,
            },
            Mutation::OpenPort {
                connection: ifname("lan0"),
                key: key("5353/udp"),
                name: name("mdns"),
                lease: None,
            },
            Mutation::IgnoreGlobalPort {
                connection: ifname("wan0"),
                key: key("22/tcp"),
                name: name("no ssh from outside"),
            },
            Mutation::DisableFirewall {
                connection: ifname("lab0"),
            },
        ])
        .expect("sample mutations are valid");
    state
}

/// The sample with both logging switches on.
pub fn logging() -> State {
    let mut state = sample();
    state
        .apply_batch(&[
            Mutation::SetLogDroppedPackets { enabled: true },
            Mutation::SetLogConnections { enabled: true },
        ])
        .expect("logging mutations are valid");
    state
}
