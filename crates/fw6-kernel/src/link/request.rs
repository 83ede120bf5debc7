//! Link requests (dump, get one) on a route netlink connection of their own.
//!
//! The connection is driven in place, inside the caller's future, instead of being spawned as
//! a task: no runtime task outlives a call, and nothing reads the socket while no call runs.

use std::future::Future;

use futures_util::TryStreamExt as _;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;
use rtnetlink::Handle;
use rtnetlink::proto::Connection;

use super::{Link, LinkError, parse};

/// `ENODEV`: the kernel's answer to a get of an index that no longer exists.
const ENODEV: i32 = 19;

/// A request connection and its handle.
pub(super) struct Requests {
    connection: Connection<RouteNetlinkMessage>,
    handle: Handle,
    /// A request started and did not finish (its future was dropped). The kernel may still be
    /// in the middle of that dump on this socket and would refuse the next one (`EBUSY`), so
    /// the next request opens a fresh socket.
    interrupted: bool,
}

impl Requests {
    /// Opens a route netlink socket in the calling thread's network namespace. Needs a tokio
    /// runtime (the socket registers with its reactor).
    pub(super) fn open() -> Result<Self, LinkError> {
        let (connection, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(LinkError::Socket)?;
        Ok(Self {
            connection,
            handle,
            interrupted: false,
        })
    }

    /// Starts a request: replaces the socket if the previous request was interrupted.
    fn begin(&mut self) -> Result<(), LinkError> {
        if self.interrupted {
            *self = Self::open()?;
        }
        self.interrupted = true;
        Ok(())
    }

    /// Every link, ordered by index.
    pub(super) async fn dump(&mut self) -> Result<Vec<Link>, LinkError> {
        self.begin()?;
        let messages: Vec<LinkMessage> = drive(
            &mut self.connection,
            self.handle.link().get().execute().try_collect(),
        )
        .await?
        .map_err(LinkError::Request)?;
        self.interrupted = false;
        let mut links: Vec<Link> = messages.iter().filter_map(parse::link).collect();
        links.sort_by_key(|l| l.index);
        Ok(links)
    }

    /// The link with `index`, or `None` if it is gone.
    pub(super) async fn get(&mut self, index: u32) -> Result<Option<Link>, LinkError> {
        self.begin()?;
        let answer: Result<Vec<LinkMessage>, _> = drive(
            &mut self.connection,
            self.handle
                .link()
                .get()
                .match_index(index)
                .execute()
                .try_collect(),
        )
        .await?;
        self.interrupted = false;
        match answer {
            Ok(messages) => Ok(messages.iter().find_map(parse::link)),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -ENODEV => Ok(None),
            Err(e) => Err(LinkError::Request(e)),
        }
    }
}

/// Runs `fut` while driving `connection`; a connection that ends first means its socket closed.
pub(super) async fn drive<F: Future>(
    connection: &mut Connection<RouteNetlinkMessage>,
    fut: F,
) -> Result<F::Output, LinkError> {
    tokio::select! {
        biased;
        out = fut => Ok(out),
        () = connection => Err(LinkError::Closed),
    }
}
