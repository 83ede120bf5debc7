//! A caller's variant (`v`) as fw6d reads it off the wire, whoever sends it: the type sent and,
//! when it is a number, a boolean or a string (borrowed from the message), its value; any other
//! value is walked over, not built. zbus's own `Variant` builds a 64-byte value for every byte
//! of an `ay`: decoding a caller's variants as they come would let any local user make fw6d
//! allocate 64 times the message it sent. Options (service/options.rs) and `Properties.Set`'s
//! value (service/properties.rs) are read with it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};
use zbus::{Signature, Type, Variant};

/// A caller's variant: the type sent and, when it is a basic one, its value (a variant inside
/// the variant is looked through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireVariant<'a> {
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

impl<'de: 'a, 'a> Deserialize<'de> for WireVariant<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Walk<'a>(PhantomData<&'a ()>);
        impl<'de> Visitor<'de> for Walk<'de> {
            type Value = WireVariant<'de>;
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
                        .next_element::<WireVariant<'de>>()?
                        .map(|inner| inner.value),
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

impl Type for WireVariant<'_> {
    const SIGNATURE: &'static Signature = Variant::SIGNATURE;
}
