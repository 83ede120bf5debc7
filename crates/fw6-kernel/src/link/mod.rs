//! Links and link events over rtnetlink (docs/design.md §5 "Links" and §9.3).
//!
//! fw6's connections are the interfaces (with `families = ["ipv6"]`: those with IPv6 enabled;
//! docs/design.md §4). The kernel rules
//! match interfaces by name and need no rewrite when links come and go, so links are tracked only
//! to report connections and their state: index, name, alias, up/down, IPv6 on or off.
//!
//! [`dump_links`] reads them once. [`LinkWatcher`] subscribes *first*, then dumps, so no change
//! between the two is lost; when the kernel reports that its event queue overflowed
//! (`ENOBUFS`, delivered by netlink-proto as an `Overrun` message) the watcher dumps again and
//! reports the whole list as [`LinkEvent::Resynced`].

mod parse;
mod request;
mod watcher;

pub use watcher::LinkWatcher;

/// One network interface as fw6 sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The kernel's interface index; stable while the interface exists.
    pub index: u32,
    /// The interface name (`IFLA_IFNAME`); changes on rename.
    pub name: String,
    /// The interface alias (`IFLA_IFALIAS`), if set and not empty: a connection's display name.
    pub alias: Option<String>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// IPv6 enabled: the interface has IPv6 state and its `disable_ipv6` is 0 (read from the
    /// `IFLA_AF_SPEC` / `AF_INET6` / `IFLA_INET6_CONF` array every link message carries).
    pub ipv6: bool,
    /// The loopback interface (`IFF_LOOPBACK`), never a connection.
    pub loopback: bool,
}

/// A change reported by [`LinkWatcher::next`]. Only changes of [`Link`]'s fields are
/// reported; the kernel's many other link notifications (MTU, carrier, statistics) are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A link appeared.
    Added(Link),
    /// A known link changed (renamed, alias, up/down, IPv6 switched); carries the new state.
    Changed(Link),
    /// A link disappeared.
    Removed {
        /// Its index.
        index: u32,
        /// Its last known name.
        name: String,
    },
    /// Events were lost (the kernel's queue overflowed): this is the complete list now, by
    /// index. Consumers replace what they knew.
    Resynced(Vec<Link>),
}

/// A failure to read links from the kernel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A route netlink socket could not be opened, bound or configured.
    #[error("cannot set up a route netlink socket")]
    Socket(#[source] std::io::Error),
    /// The kernel refused or broke off a link request.
    #[error("link request to the kernel failed")]
    Request(#[source] rtnetlink::Error),
    /// A netlink socket closed under the watcher.
    #[error("the route netlink socket closed")]
    Closed,
}

/// Every link in the calling thread's network namespace, ordered by index.
pub async fn dump_links() -> Result<Vec<Link>, LinkError> {
    let mut connection = request::Requests::open()?;
    connection.dump().await
}
