//! The options of an opening (`lifetime`, `bind_to_caller`) as they arrive over D-Bus, and the
//! lease they make for one call. The options' meaning and validation are the model's
//! ([`fw6_model::OpenOptions`]); this maps `a{sv}` values onto it and fills in what only the
//! daemon knows: the time of the call and who the caller is on which bus.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use fw6_model::{Error, Mutation, OpenOptions, OptionValue, Owner};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use zbus::{Signature, Type, Variant};

use super::variant::{Scalar, WireVariant};
use crate::store::Provenance;

/// An `a{sv}` of options as fw6d reads it off the wire, whoever sends it: the first [`KEPT`]
/// entries kept and the rest counted, each value a [`WireVariant`] (walked over unless it is a
/// number, a boolean or a string), so reading a call's options costs fw6d no more than the
/// message it was sent.
#[derive(Debug, Default)]
pub struct WireOptions<'a> {
    /// The first options, in the order sent.
    pub first: Vec<(&'a str, WireVariant<'a>)>,
    /// How many options the call holds.
    pub total: usize,
}

/// Options kept of a call: no member takes more than two different ones, so a call with more
/// than these is refused whatever the rest are (within them, a key sent twice counts once:
/// the last wins).
pub const KEPT: usize = 4;

/// The opening options of `dict`: integers of any width for `lifetime`, a boolean for
/// `bind_to_caller`; anything else is InvalidArg naming the key and the type sent.
pub fn parse(dict: &WireOptions<'_>) -> Result<OpenOptions, Error> {
    if dict.total > KEPT {
        return Err(Error::invalid_arg(format!(
            "{} options: the options are lifetime (u, seconds) and bind_to_caller (b)",
            dict.total
        )));
    }
    // Sorted, so the first error reported does not depend on the order sent.
    let mut pairs: Vec<&(&str, WireVariant<'_>)> = dict.first.iter().collect();
    pairs.sort_by_key(|(key, _)| *key);
    OpenOptions::from_pairs(pairs.into_iter().map(|(k, v)| (*k, value(v))))
}

fn value(v: &WireVariant<'_>) -> OptionValue {
    match v.value {
        Scalar::Bool(b) => OptionValue::Bool(b),
        Scalar::Int(n) => OptionValue::Int(n),
        Scalar::Str(_) | Scalar::Other => OptionValue::Other(v.signature.clone()),
    }
}

impl Type for WireOptions<'_> {
    const SIGNATURE: &'static Signature = <std::collections::HashMap<&str, Variant<'_>>>::SIGNATURE;
}

impl<'de: 'a, 'a> Deserialize<'de> for WireOptions<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Walk<'a>(PhantomData<&'a ()>);
        impl<'de> Visitor<'de> for Walk<'de> {
            type Value = WireOptions<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an a{sv} of options")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut options = WireOptions::default();
                while let Some(key) = map.next_key::<&'de str>()? {
                    options.total += 1;
                    if options.first.len() < KEPT {
                        options
                            .first
                            .push((key, map.next_value::<WireVariant<'de>>()?));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(options)
            }
        }
        deserializer.deserialize_map(Walk(PhantomData))
    }
}

/// Now on the wall clock, ms since the Unix epoch: a lease's expiry is wall-clock time
/// (docs/dbus-api.md, "Leases").
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The caller as the owner of a bound opening: its unique name on this bus (`bus`: the bus's
/// id), with its pid and program name for people.
pub fn owner(bus: &str, who: &Provenance) -> Option<Owner> {
    let name = who.sender.clone()?;
    Some(Owner {
        bus: bus.to_owned(),
        name,
        pid: who.pid.unwrap_or(0),
        command: who
            .executable
            .as_deref()
            .and_then(|e| Path::new(e).file_name())
            .map(|n| Owner::printable_command(&n.to_string_lossy()))
            .unwrap_or_default(),
    })
}

/// `mutation` with the lease `options` make for a call by `who` on bus `bus`, now.
pub fn lease(
    mutation: Mutation,
    options: OpenOptions,
    bus: &str,
    who: &Provenance,
) -> Result<Mutation, Error> {
    if options.is_plain() {
        return Ok(mutation);
    }
    let lease = options.lease(now_millis(), owner(bus, who))?;
    mutation.with_lease(lease)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use zbus::wire::serialized::{Context, Data};
    use zbus::wire::{LE, to_bytes};

    use super::*;

    /// `sent` as a caller's `a{sv}` on the wire.
    fn wire(sent: &[(&str, Variant<'_>)]) -> Data<'static, 'static> {
        let dict: HashMap<&str, &Variant<'_>> = sent.iter().map(|(k, v)| (*k, v)).collect();
        to_bytes(Context::new(LE, 0), &dict).unwrap()
    }

    fn parsed(sent: &[(&str, Variant<'_>)]) -> Result<OpenOptions, Error> {
        let data = wire(sent);
        let (dict, _): (WireOptions<'_>, _) = data.deserialize().unwrap();
        parse(&dict)
    }

    #[test]
    fn values_map_onto_the_models_options() {
        let options = parsed(&[
            ("lifetime", Variant::I32(30)),
            ("bind_to_caller", Variant::Bool(true)),
        ])
        .unwrap();
        assert_eq!(options.lifetime.unwrap().seconds(), 30);
        assert!(options.bind_to_caller);
        let e = parsed(&[("lifetime", Variant::from("2h"))]).unwrap_err();
        assert!(e.message().contains("not a value of type \"s\""), "{e}");
        let e = parsed(&[("lifetime", Variant::U64(u64::MAX))]).unwrap_err();
        assert!(e.message().contains("above the maximum"), "{e}");
        // A variant inside the variant is looked through.
        let inner = Variant::Variant(Box::new(Variant::U32(60)));
        assert_eq!(
            parsed(&[("lifetime", inner)])
                .unwrap()
                .lifetime
                .unwrap()
                .seconds(),
            60
        );
        assert_eq!(WireOptions::SIGNATURE.to_string(), "a{sv}");
    }

    #[test]
    fn a_big_value_is_walked_over_not_built() {
        // A 4 MiB `ay` would be 4 Mi values of 64 bytes each as a `Variant`.
        let data = wire(&[("lifetime", Variant::from(vec![7_u8; 4 << 20]))]);
        let (dict, _): (WireOptions<'_>, _) = data.deserialize().unwrap();
        assert_eq!(dict.first.len(), 1);
        assert_eq!(dict.first[0].1.signature, "ay");
        assert_eq!(dict.first[0].1.value, Scalar::Other);
        let e = parse(&dict).unwrap_err();
        assert!(e.message().contains("\"ay\""), "{e}");
    }

    #[test]
    fn options_past_the_kept_ones_are_counted_and_refuse_the_call() {
        let names: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        let sent: Vec<(&str, Variant<'_>)> = names
            .iter()
            .map(|n| (n.as_str(), Variant::U32(1)))
            .collect();
        let data = wire(&sent);
        let (dict, _): (WireOptions<'_>, _) = data.deserialize().unwrap();
        assert_eq!((dict.first.len(), dict.total), (KEPT, 50));
        let e = parse(&dict).unwrap_err();
        assert!(e.message().starts_with("50 options"), "{e}");
    }
}
