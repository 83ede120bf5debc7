//! The `Apply` batch decoder: the one part of the D-Bus contract that needs zbus. The contract
//! itself (names, tuples, the mappings that validate each item and return InvalidArg with the
//! model's message) is `fw6_model::wire`'s.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use fw6_model::wire::WireItem;
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use zbus::{Signature, Type};

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
