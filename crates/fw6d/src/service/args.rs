//! D-Bus arguments to model types and back. Every conversion validates and returns InvalidArg
//! with the model's message, before anything else happens.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use fw6_model::{EntryName, Error, LogfileMaximumSize, Mutation, PortEntry, PortKey, Snapshot};
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use zbus::{Signature, Type};

/// A port entry on the wire: (port, protocol, name).
pub type WireEntry = (u16, u32, String);

/// One `Apply` item: (member, connection, port, protocol, name, value), borrowed from the
/// message: a 10,000-item batch would otherwise allocate and free 40,000 strings (a profile of
/// `Apply` found a quarter of the service thread's time in `free`).
pub type WireItem<'a> = (&'a str, &'a str, u16, u32, &'a str, &'a str);

/// An `Apply` batch as it comes off the wire. Decoding keeps at most the decode limit of items
/// and, once past it, nothing but the count, so a batch over `max_batch` costs fw6d the time to
/// walk it but no memory for it: the refusal is cheap for whoever sends it.
#[derive(Debug)]
pub struct WireBatch<'a> {
    /// The items kept, in order.
    pub items: Vec<WireItem<'a>>,
    /// How many items the message held.
    pub total: usize,
}

/// Items kept when an `Apply` batch is decoded: `max_batch`, set once at start-up.
static DECODE_LIMIT: AtomicUsize = AtomicUsize::new(100_000);

/// Sets how many items of an `Apply` batch are decoded (the configuration's `max_batch`).
pub fn set_decode_limit(max_batch: usize) {
    DECODE_LIMIT.store(max_batch, Ordering::Relaxed);
}

impl Type for WireBatch<'_> {
    const SIGNATURE: &'static Signature = <Vec<WireItem<'static>>>::SIGNATURE;
}

impl<'de: 'a, 'a> Deserialize<'de> for WireBatch<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items<'a>(PhantomData<&'a ()>);
        impl<'de> Visitor<'de> for Items<'de> {
            type Value = WireBatch<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of (ssquss) Apply items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let limit = DECODE_LIMIT.load(Ordering::Relaxed);
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(limit));
                let mut total = 0_usize;
                while let Some(item) = seq.next_element::<WireItem<'de>>()? {
                    total += 1;
                    if total <= limit {
                        items.push(item);
                    } else if total == limit + 1 {
                        // Over the limit: the call will be refused, keep nothing.
                        items = Vec::new();
                    }
                }
                Ok(WireBatch { items, total })
            }
        }
        deserializer.deserialize_seq(Items(PhantomData))
    }
}

/// A pair from `(q port, u protocol)`.
pub fn key(port: u16, protocol: u32) -> Result<PortKey, Error> {
    PortKey::from_raw(u32::from(port), protocol)
}

/// A validated entry name.
pub fn name(name: &str) -> Result<EntryName, Error> {
    EntryName::try_from(name)
}

/// A snapshot as an array of entries.
pub fn entries(snapshot: &Snapshot<PortEntry>) -> Vec<WireEntry> {
    snapshot
        .as_slice()
        .iter()
        .map(|e| {
            (
                e.port.get(),
                u32::from(e.protocol.number()),
                e.name.to_string(),
            )
        })
        .collect()
}

/// A logging setting's text value as a bool.
pub fn flag(value: &str) -> Result<bool, Error> {
    match value {
        "true" | "on" | "1" => Ok(true),
        "false" | "off" | "0" => Ok(false),
        other => Err(Error::invalid_arg(format!(
            "{other:?} is not a switch value: use true or false"
        ))),
    }
}

/// A `LogfileMaximumSize` text value.
pub fn size(value: &str) -> Result<LogfileMaximumSize, Error> {
    let kib: u32 = value.parse().map_err(|_| {
        Error::invalid_arg(format!(
            "{value:?} is not a size in KiB: use a number 1-32767"
        ))
    })?;
    LogfileMaximumSize::try_from(kib)
}

/// One `Apply` item as a mutation; `connection` resolves an id or name to an interface.
pub fn mutation(
    item: &WireItem<'_>,
    connection: impl Fn(&str) -> Result<fw6_model::IfName, Error>,
) -> Result<Mutation, Error> {
    let (member, conn, port, protocol, entry_name, value) = item;
    let k = || key(*port, *protocol);
    let n = || name(entry_name);
    let c = || connection(conn);
    Ok(match *member {
        "OpenGlobalPort" => Mutation::OpenGlobalPort {
            key: k()?,
            name: n()?,
        },
        "CloseGlobalPort" => Mutation::CloseGlobalPort { key: k()? },
        "EnableFirewall" => Mutation::EnableFirewall { connection: c()? },
        "DisableFirewall" => Mutation::DisableFirewall { connection: c()? },
        "OpenPort" => Mutation::OpenPort {
            connection: c()?,
            key: k()?,
            name: n()?,
        },
        "ClosePort" => Mutation::ClosePort {
            connection: c()?,
            key: k()?,
        },
        "IgnoreGlobalPort" => Mutation::IgnoreGlobalPort {
            connection: c()?,
            key: k()?,
            name: n()?,
        },
        "ObserveGlobalPort" => Mutation::ObserveGlobalPort {
            connection: c()?,
            key: k()?,
        },
        "LogfilePath" => Mutation::SetLogfilePath {
            path: (*value).to_owned(),
        },
        "LogfileMaximumSize" => Mutation::SetLogfileMaximumSize { kib: size(value)? },
        "LogDroppedPackets" => Mutation::SetLogDroppedPackets {
            enabled: flag(value)?,
        },
        "LogConnections" => Mutation::SetLogConnections {
            enabled: flag(value)?,
        },
        other => {
            return Err(Error::invalid_arg(format!(
                "{other:?} is not a state-changing member: use one of OpenGlobalPort, \
                 CloseGlobalPort, EnableFirewall, DisableFirewall, OpenPort, ClosePort, \
                 IgnoreGlobalPort, ObserveGlobalPort, LogfilePath, LogfileMaximumSize, \
                 LogDroppedPackets, LogConnections"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::wire::serialized::Context;
    use zbus::wire::{LE, to_bytes};

    fn decode(n: usize) -> (usize, usize) {
        let items: Vec<WireItem<'_>> = (0..n)
            .map(|_| ("OpenPort", "lan0", 80_u16, 6_u32, "web", ""))
            .collect();
        let data = to_bytes(Context::new(LE, 0), &items).unwrap();
        let (batch, _): (WireBatch<'_>, _) = data.deserialize().unwrap();
        (batch.items.len(), batch.total)
    }

    #[test]
    fn a_batch_over_the_limit_is_counted_not_kept() {
        // The default limit; the daemon sets it from max_batch at start-up.
        let limit = DECODE_LIMIT.load(Ordering::Relaxed);
        assert_eq!(decode(3), (3, 3));
        assert_eq!(decode(limit), (limit, limit));
        assert_eq!(decode(limit + 2), (0, limit + 2));
    }
}
