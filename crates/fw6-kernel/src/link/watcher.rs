//! Following link changes: subscribe, then dump; resync after an overrun.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::Stream;
use futures_util::StreamExt as _;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::proto::Connection;
use rtnetlink::sys::{AsyncSocket as _, SocketAddr};

use super::request::{Requests, drive};
use super::{Link, LinkError, LinkEvent, parse};

/// The event socket's receive buffer. Large, so bursts (a bridge with many ports coming up) fit;
/// when even this overflows the watcher resyncs.
const RECEIVE_BUFFER: usize = 4 << 20;
/// At most one resync dump per this interval, so an event storm cannot turn into a dump storm.
const RESYNC_INTERVAL: Duration = Duration::from_millis(100);

/// The event connection's message channel (netlink-proto does not export its type).
type Events = Pin<Box<dyn Stream<Item = (NetlinkMessage<RouteNetlinkMessage>, SocketAddr)> + Send>>;

/// Follows the links of the network namespace it was created in.
///
/// Two sockets: one subscribed to the link and IPv6-address groups, which only receives, and
/// one for dumps and gets. Neither is read by a background task: the event socket is read only
/// inside [`LinkWatcher::next`], so a slow consumer makes the *kernel's* queue overflow (and the
/// watcher resync) instead of growing an unbounded queue in this process.
///
/// Why the address group: the kernel sends no link event when `disable_ipv6` changes, but
/// disabling removes the link's IPv6 addresses and enabling (on a link that is up) adds a
/// link-local one. Each IPv6 address event makes the watcher re-read that link. A change on a
/// link that is down shows at the link's next event.
pub struct LinkWatcher {
    events: Connection<RouteNetlinkMessage>,
    messages: Events,
    requests: Requests,
    known: BTreeMap<u32, Link>,
    last_resync: Option<Instant>,
    pending: Option<Work>,
}

/// Kernel requests a message called for, kept until done so a dropped `next` loses nothing.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// Events were lost: dump everything.
    Resync,
    /// An IPv6 address of this link changed: read the link again (its `disable_ipv6`).
    Reread(u32),
}

impl std::fmt::Debug for LinkWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkWatcher")
            .field("known", &self.known)
            .finish_non_exhaustive()
    }
}

impl LinkWatcher {
    /// Subscribes, then dumps: returns the watcher and the links as they are now, ordered by
    /// index. Every change after the dump is reported by [`LinkWatcher::next`]. Needs a tokio
    /// runtime; watches the calling thread's network namespace.
    pub async fn new() -> Result<(Self, Vec<Link>), LinkError> {
        Self::with_receive_buffer(RECEIVE_BUFFER).await
    }

    /// [`LinkWatcher::new`] with the event socket's receive buffer set to `bytes` (the kernel
    /// doubles it and enforces a minimum). Small buffers overflow sooner; tests use this to
    /// provoke a resync.
    pub async fn with_receive_buffer(bytes: usize) -> Result<(Self, Vec<Link>), LinkError> {
        let (mut events, _handle, messages) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .map_err(LinkError::Socket)?;
        set_receive_buffer(events.socket_mut().socket_mut(), bytes)?;
        let mut requests = Requests::open()?;
        let links = requests.dump().await?;
        let watcher = Self {
            events,
            messages: Box::pin(messages),
            requests,
            known: links.iter().map(|l| (l.index, l.clone())).collect(),
            last_resync: None,
            pending: None,
        };
        Ok((watcher, links))
    }

    /// The next change.
    ///
    /// Cancel-safe, so it can sit in a `tokio::select!`: reading the event channel loses
    /// nothing when dropped, and kernel requests a message calls for (a resync after an
    /// overrun, a re-read after an address event) are recorded before they start and redone
    /// by the next call if this one is dropped mid-way. After [`LinkError::Closed`] the
    /// watcher is finished; make a new one.
    pub async fn next(&mut self) -> Result<LinkEvent, LinkError> {
        loop {
            if let Some(work) = self.pending {
                let event = match work {
                    Work::Resync => Some(self.resync().await?),
                    Work::Reread(index) => match self.requests.get(index).await? {
                        Some(link) => self.update(link),
                        None => self.remove(index),
                    },
                };
                self.pending = None;
                if let Some(event) = event {
                    return Ok(event);
                }
                continue;
            }
            let (message, _) = drive(&mut self.events, self.messages.next())
                .await?
                .ok_or(LinkError::Closed)?;
            if let Some(event) = self.handle(message.payload) {
                return Ok(event);
            }
        }
    }

    /// Handles one message: an event at once, or work recorded in `pending`.
    fn handle(&mut self, payload: NetlinkPayload<RouteNetlinkMessage>) -> Option<LinkEvent> {
        let message = match payload {
            NetlinkPayload::Overrun(_) => {
                self.pending = Some(Work::Resync);
                return None;
            }
            NetlinkPayload::InnerMessage(message) => message,
            _ => return None,
        };
        match message {
            RouteNetlinkMessage::NewLink(msg) => parse::link(&msg).and_then(|l| self.update(l)),
            RouteNetlinkMessage::DelLink(msg) if parse::link(&msg).is_some() => {
                self.remove(msg.header.index)
            }
            RouteNetlinkMessage::NewAddress(msg) | RouteNetlinkMessage::DelAddress(msg) => {
                self.pending = Some(Work::Reread(msg.header.index));
                None
            }
            _ => None,
        }
    }

    /// Records `link`; an event if it is new or differs from what was known.
    fn update(&mut self, link: Link) -> Option<LinkEvent> {
        match self.known.insert(link.index, link.clone()) {
            None => Some(LinkEvent::Added(link)),
            Some(old) if old != link => Some(LinkEvent::Changed(link)),
            Some(_) => None,
        }
    }

    fn remove(&mut self, index: u32) -> Option<LinkEvent> {
        self.known.remove(&index).map(|old| LinkEvent::Removed {
            index,
            name: old.name,
        })
    }

    /// Dumps again after lost events, at most once per [`RESYNC_INTERVAL`].
    async fn resync(&mut self) -> Result<LinkEvent, LinkError> {
        if let Some(last) = self.last_resync {
            let wait = RESYNC_INTERVAL.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let links = self.requests.dump().await?;
        self.last_resync = Some(Instant::now());
        self.known = links.iter().map(|l| (l.index, l.clone())).collect();
        Ok(LinkEvent::Resynced(links))
    }
}

/// `SO_RCVBUFFORCE` (root may exceed `rmem_max`), falling back to `SO_RCVBUF` without
/// CAP_NET_ADMIN.
fn set_receive_buffer(socket: &rtnetlink::sys::Socket, bytes: usize) -> Result<(), LinkError> {
    use rustix::net::sockopt;
    sockopt::set_socket_recv_buffer_size_force(socket, bytes)
        .or_else(|_| sockopt::set_socket_recv_buffer_size(socket, bytes))
        .map_err(|e| LinkError::Socket(e.into()))
}
