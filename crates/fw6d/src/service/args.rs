//! The `Apply` and `ApplyConfirmable` arguments as fw6d reads them: the one part of the D-Bus
//! contract that needs zbus. The contract itself (names, tuples, the mappings that validate each
//! item and return InvalidArg with the model's message) is `fw6_model::wire`'s.
//!
//! A batch is read twice from the message the bus delivered. First its [`Head`] (and
//! `ApplyConfirmable`'s options, bounded as every call's are: service/options.rs), which zbus
//! decodes as the method's declared arguments:
//! the items a caller's authorization needs and the count, walked over without keeping
//! anything else, so a caller refused there — whatever the size of its batch or options —
//! costs fw6d the message and no memory in proportion to it. Then, once the first item is
//! authorized, every item ([`items`], from the message service/dispatch.rs makes reachable).

use std::fmt;
use std::marker::PhantomData;

use fw6_model::wire::WireItem;
use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};
use zbus::message::Body;
use zbus::{Signature, Type};

use super::auth::MESSAGE_ITEMS;
use super::error::FwError;
use super::options::WireOptions;

/// A batch's first [`MESSAGE_ITEMS`] items and how many it holds.
#[derive(Debug)]
pub struct Head<'a> {
    /// The first items, in order.
    pub first: Vec<WireItem<'a>>,
    /// How many items the batch holds.
    pub total: usize,
}

/// Every item of the batch of an `Apply` (or, with `options`, `ApplyConfirmable`) call whose
/// head was read. Called once the call is admitted, so the count is within `max_batch`.
pub fn items(body: &Body, options: bool) -> Result<Vec<WireItem<'_>>, FwError> {
    if options {
        body.deserialize::<(Vec<WireItem<'_>>, IgnoredMap)>()
            .map(|(items, _)| items)
    } else {
        body.deserialize::<Vec<WireItem<'_>>>()
    }
    .map_err(|e| invalid_args(&e))
}

/// Arguments that do not decode, for their signature or their values: InvalidArg in zbus's
/// words.
pub(super) fn invalid_args(e: &zbus::Error) -> FwError {
    fw6_model::Error::invalid_arg(format!(
        "the call's arguments do not read as its signature says: {e}; nothing was changed"
    ))
    .into()
}

impl Type for Head<'_> {
    const SIGNATURE: &'static Signature = <Vec<WireItem<'static>>>::SIGNATURE;
}

/// `ApplyConfirmable`'s options when they were already read: walked over, not kept.
struct IgnoredMap;

impl Type for IgnoredMap {
    const SIGNATURE: &'static Signature = WireOptions::SIGNATURE;
}

impl<'de> Deserialize<'de> for IgnoredMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Head<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Walk<'a>(PhantomData<&'a ()>);
        impl<'de> Visitor<'de> for Walk<'de> {
            type Value = Head<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of (ssquss) Apply items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut first = Vec::with_capacity(MESSAGE_ITEMS);
                while first.len() < MESSAGE_ITEMS {
                    match seq.next_element::<WireItem<'de>>()? {
                        Some(item) => first.push(item),
                        None => break,
                    }
                }
                let mut total = first.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(Head { first, total })
            }
        }
        deserializer.deserialize_seq(Walk(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::wire::serialized::Context;
    use zbus::wire::{LE, to_bytes};

    fn batch(n: usize) -> Vec<WireItem<'static>> {
        (0..n)
            .map(|_| ("OpenPort", "lan0", 80_u16, 6_u32, "web", ""))
            .collect()
    }

    #[test]
    fn a_head_keeps_the_first_items_and_counts_the_rest() {
        for n in [0, 1, MESSAGE_ITEMS, MESSAGE_ITEMS + 1, 100_001] {
            let data = to_bytes(Context::new(LE, 0), &batch(n)).unwrap();
            let (head, _): (Head<'_>, _) = data.deserialize().unwrap();
            assert_eq!(head.total, n);
            assert_eq!(head.first.len(), n.min(MESSAGE_ITEMS));
        }
    }

    #[test]
    fn a_malformed_item_past_the_head_still_fails_the_head() {
        // Every item is walked, so a message whose later bytes do not decode is refused as
        // invalid arguments before any authorization, as zbus refuses any other member's.
        let items = batch(10);
        let mut data = to_bytes(Context::new(LE, 0), &items).unwrap().to_vec();
        let web = data.windows(3).rposition(|w| w == b"web").unwrap();
        data[web] = 0xff; // the last item's name is no longer UTF-8
        let data = zbus::wire::serialized::Data::new(data, Context::new(LE, 0));
        assert!(data.deserialize::<Head<'_>>().is_err());
    }
}
