//! Change notifications: the manager's `Changed`, `ConnectionAdded` and `ConnectionRemoved`
//! signals as typed events. `Changed` comes once per effective change, after the reply.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{BoxStream, Stream, StreamExt};
use fw6_model::{ConnectionId, IfName, PortKey};
use serde::Serialize;

use crate::{Error, wire};

pub use fw6_model::wire::ChangeKind;

/// One `Changed` signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// What happened.
    pub change: ChangeKind,
    /// The connection's interface, for per-connection changes.
    pub interface: Option<IfName>,
    /// The pair, for port changes.
    pub key: Option<PortKey>,
    /// The entry's name, for port changes.
    pub name: String,
}

/// A connection appearing or going away (its configuration is kept when it goes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionEvent {
    /// The connection's object path.
    pub path: String,
    /// The connection's id.
    pub id: ConnectionId,
    /// The interface name.
    pub interface: IfName,
}

/// A notification from fw6d.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "signal")]
pub enum Event {
    /// An effective change of the configuration.
    Changed(Changed),
    /// An interface appeared.
    ConnectionAdded(ConnectionEvent),
    /// An interface went away.
    ConnectionRemoved(ConnectionEvent),
}

impl Event {
    /// A `Changed` signal's arguments `(s change, s interface, q port, u protocol, s name)`.
    pub fn from_changed(raw: wire::WireChanged) -> Result<Self, Error> {
        let (change, interface, port, protocol, name) = raw;
        let interface = if interface.is_empty() {
            None
        } else {
            Some(wire::if_name(interface)?)
        };
        Ok(Self::Changed(Changed {
            change: ChangeKind::parse(&change),
            interface,
            key: wire::optional_key(port, protocol),
            name,
        }))
    }

    /// A `ConnectionAdded`/`ConnectionRemoved` signal's arguments `(o path, s id, s interface)`.
    fn connection(raw: (zbus::OwnedObjectPath, String, String)) -> Result<ConnectionEvent, Error> {
        let (path, id, interface) = raw;
        Ok(ConnectionEvent {
            path: path.as_str().to_owned(),
            id: wire::connection_id(&id)?,
            interface: wire::if_name(interface)?,
        })
    }

    /// Decodes one signal message; `None` for signals that are not part of the contract.
    fn from_message(msg: &zbus::Message) -> Option<Result<Self, Error>> {
        let header = msg.header();
        let member = header.member()?.as_str().to_owned();
        let body = msg.body();
        let decoded = match member.as_str() {
            "Changed" => body
                .deserialize()
                .map_err(Error::from)
                .and_then(Self::from_changed),
            "ConnectionAdded" => body
                .deserialize()
                .map_err(Error::from)
                .and_then(Self::connection)
                .map(Self::ConnectionAdded),
            "ConnectionRemoved" => body
                .deserialize()
                .map_err(Error::from)
                .and_then(Self::connection)
                .map(Self::ConnectionRemoved),
            _ => return None,
        };
        Some(decoded)
    }
}

/// The stream returned by [`Manager::changes`](crate::Manager::changes). It ends when the bus
/// connection closes.
pub struct Changes {
    inner: BoxStream<'static, Result<Event, Error>>,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes").finish_non_exhaustive()
    }
}

impl Changes {
    pub(crate) fn new(signals: zbus::proxy::SignalStream<'static>) -> Self {
        let inner = signals
            .filter_map(|msg| std::future::ready(Event::from_message(&msg)))
            .boxed();
        Self { inner }
    }
}

impl Stream for Changes {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_signals_decode() {
        let ev = Event::from_changed(("PortOpened".into(), "lan0".into(), 8080, 6, "web".into()))
            .unwrap();
        let Event::Changed(c) = &ev else {
            panic!("{ev:?}")
        };
        assert_eq!(c.change, ChangeKind::PortOpened);
        assert_eq!(c.interface.as_ref().unwrap().as_str(), "lan0");
        assert_eq!(c.key.unwrap().to_string(), "8080/tcp");
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["signal"], "Changed");
        assert_eq!(json["change"], "PortOpened");

        let ev =
            Event::from_changed(("Logging".into(), String::new(), 0, 0, String::new())).unwrap();
        let Event::Changed(c) = ev else { panic!() };
        assert_eq!(
            (c.change, c.interface, c.key),
            (ChangeKind::Logging, None, None)
        );

        let ev =
            Event::from_changed(("Future".into(), String::new(), 0, 0, String::new())).unwrap();
        let Event::Changed(c) = ev else { panic!() };
        assert_eq!(c.change, ChangeKind::Other("Future".into()));

        assert!(
            Event::from_changed(("PortOpened".into(), "a/b".into(), 1, 6, String::new())).is_err()
        );
    }
}
