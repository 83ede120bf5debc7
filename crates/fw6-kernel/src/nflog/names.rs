//! Interface names for the indexes NFLOG reports, cached briefly: a flood from one interface
//! costs one `SIOCGIFNAME` a second rather than one per packet, and a rename shows within a
//! second.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketType};

/// How long a looked-up name is trusted.
const FRESH: Duration = Duration::from_secs(1);
/// More cached indexes than this and the cache starts over (hosts with thousands of
/// short-lived interfaces must not grow it without bound).
const MAX_ENTRIES: usize = 1024;

/// Index → name lookups in the network namespace of the thread that created it.
#[derive(Debug)]
pub struct InterfaceNames {
    socket: Option<OwnedFd>,
    cache: HashMap<u32, (String, Instant)>,
}

impl InterfaceNames {
    /// A lookup socket in the calling thread's namespace; without one (very unusual) every
    /// name falls back to the index. `AF_UNIX`: the kernel answers `SIOCGIFNAME` on a socket of
    /// any family, and the unit's `RestrictAddressFamilies=AF_NETLINK AF_UNIX` refuses IP ones.
    pub fn new() -> Self {
        Self {
            socket: rustix::net::socket(AddressFamily::UNIX, SocketType::DGRAM, None).ok(),
            cache: HashMap::new(),
        }
    }

    /// The name of interface `index`, or the index in decimal when it has gone.
    pub fn name(&mut self, index: u32) -> &str {
        let now = Instant::now();
        let stale = self
            .cache
            .get(&index)
            .is_none_or(|(_, at)| now.duration_since(*at) > FRESH);
        if stale {
            if self.cache.len() >= MAX_ENTRIES {
                self.cache.clear();
            }
            let name = self
                .socket
                .as_ref()
                .and_then(|s| rustix::net::netdevice::index_to_name(s, index).ok())
                .unwrap_or_else(|| index.to_string());
            self.cache.insert(index, (name, now));
        }
        &self.cache[&index].0
    }
}

impl Default for InterfaceNames {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_its_name_and_a_missing_index_its_number() {
        let mut names = InterfaceNames::new();
        assert_eq!(names.name(1), "lo");
        assert_eq!(names.name(0x7fff_fff0), "2147483632");
    }
}
