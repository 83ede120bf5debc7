//! A caller's variant (`v`) as fw6d reads it off the wire, whoever sends it: the type sent and,
//! when it is a number, a boolean or a string (borrowed from the message), its value; any other
//! value is walked over, not built. zbus's own `Variant` builds a 64-byte value for every byte
//! of an `ay`: decoding a caller's variants as they come would let any local user make fw6d
//! allocate 64 times the message it sent. Options (service/options.rs) and `Properties.Set`'s
//! value (service/properties.rs) are read with it. Walking over a value is cheaper than building
//! it but still costs time in proportion to it (a 1 MiB `ay` is a million elements, on one of
//! fw6d's two runtime threads): a variant that ends the message (`ENDS_MESSAGE`, `Set`'s) is
//! not walked at all, since nothing after it needs reading.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};
use zbus::{Signature, Type, Variant};

/// A caller's variant: the type sent and, when it is a basic one, its value (a variant inside
/// the variant is looked through). With `ENDS_MESSAGE`, a value that is not basic is left
/// unread rather than walked over: only for the last value of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireVariant<'a, const ENDS_MESSAGE: bool = false> {
    /// The value's D-Bus signature as sent (`u`, `b`, `v`, `ay` …).
    pub signature: String,
    /// The value, when it is a number, a boolean or a string.
    pub value: Scalar<'a>,
}

/// A basic value of a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// Any integer type (`y`, `n`, `q`, `i`, `u`, `x`, `t`; `t` above `i64::MAX` saturates).
    Int(i64),
    /// `b`.
    Bool(bool),
    /// `s`.
    Str(&'a str),
    /// Anything else (only its signature is kept).
    Other,
}

impl<'de: 'a, 'a, const ENDS_MESSAGE: bool> Deserialize<'de> for WireVariant<'a, ENDS_MESSAGE> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Walk<'a, const ENDS_MESSAGE: bool>(PhantomData<&'a ()>);
        impl<'de, const ENDS_MESSAGE: bool> Visitor<'de> for Walk<'de, ENDS_MESSAGE> {
            type Value = WireVariant<'de, ENDS_MESSAGE>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a variant")
            }
            // A variant reads as its signature, then its value (zbus's own `Variant` reads it
            // the same way).
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = || serde::de::Error::custom("a variant without its value");
                let signature = seq.next_element::<Signature>()?.ok_or_else(missing)?;
                let int = |n: Option<i64>| n.map(Scalar::Int);
                let value = match signature {
                    Signature::Bool => seq.next_element::<bool>()?.map(Scalar::Bool),
                    Signature::U8 => int(seq.next_element::<u8>()?.map(i64::from)),
                    Signature::I16 => int(seq.next_element::<i16>()?.map(i64::from)),
                    Signature::U16 => int(seq.next_element::<u16>()?.map(i64::from)),
                    Signature::I32 => int(seq.next_element::<i32>()?.map(i64::from)),
                    Signature::U32 => int(seq.next_element::<u32>()?.map(i64::from)),
                    Signature::I64 => int(seq.next_element::<i64>()?),
                    Signature::U64 => int(seq
                        .next_element::<u64>()?
                        .map(|n| i64::try_from(n).unwrap_or(i64::MAX))),
                    Signature::Str => seq.next_element::<&'de str>()?.map(Scalar::Str),
                    Signature::Variant => seq
                        .next_element::<WireVariant<'de, ENDS_MESSAGE>>()?
                        .map(|inner| inner.value),
                    _ if ENDS_MESSAGE => Some(Scalar::Other),
                    _ => seq.next_element::<IgnoredAny>()?.map(|_| Scalar::Other),
                }
                .ok_or_else(missing)?;
                Ok(WireVariant {
                    signature: signature.to_string(),
                    value,
                })
            }
        }
        deserializer.deserialize_any(Walk(PhantomData))
    }
}

impl<const ENDS_MESSAGE: bool> Type for WireVariant<'_, ENDS_MESSAGE> {
    const SIGNATURE: &'static Signature = Variant::SIGNATURE;
}

#[cfg(test)]
mod tests {
    use zbus::wire::serialized::{Context, Data};
    use zbus::wire::{LE, to_bytes};

    use super::*;

    /// `Set`'s arguments with an `ay` whose length claims far more bytes than the body holds:
    /// a reader that walks the value fails, one that leaves it unread does not.
    fn set_with_a_lying_array() -> Data<'static, 'static> {
        let sent = (
            "org.fw6.Firewall1.Manager",
            "LogConnections",
            Variant::from(vec![7_u8; 8]),
        );
        let mut bytes = to_bytes(Context::new(LE, 0), &sent).unwrap().to_vec();
        let at = bytes.windows(8).position(|w| w == [7; 8]).unwrap();
        bytes[at - 4..at].copy_from_slice(&0x00ff_ffff_u32.to_le_bytes());
        Data::new(bytes, Context::new(LE, 0))
    }

    #[test]
    fn a_variant_that_ends_the_message_is_not_read_past_its_type() {
        let data = set_with_a_lying_array();
        let ((_, _, last), _): ((&str, &str, WireVariant<'_, true>), _) =
            data.deserialize().unwrap();
        assert_eq!((last.signature.as_str(), last.value), ("ay", Scalar::Other));
        assert!(
            data.deserialize::<(&str, &str, WireVariant<'_>)>().is_err(),
            "a variant followed by more is walked over, so the lie is found"
        );
    }
}
