//! The options of an opening (`lifetime`, `bind_to_caller`) as they arrive over D-Bus, and the
//! lease they make for one call. The options' meaning and validation are the model's
//! ([`fw6_model::OpenOptions`]); this maps `a{sv}` values onto it and fills in what only the
//! daemon knows: the time of the call and who the caller is on which bus.

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use fw6_model::{Error, Mutation, OpenOptions, OptionValue, Owner};
use zbus::Variant;

use crate::store::Provenance;

/// An `a{sv}` as decoded off the wire.
pub type WireOptions<'a> = HashMap<String, Variant<'a>>;

/// The options of `dict`: integers of any width for `lifetime`, a boolean for
/// `bind_to_caller`; anything else is InvalidArg naming the key and the type sent.
pub fn parse(dict: &WireOptions<'_>) -> Result<OpenOptions, Error> {
    // Sorted, so the first error reported does not depend on the hash order.
    let mut keys: Vec<&String> = dict.keys().collect();
    keys.sort();
    OpenOptions::from_pairs(keys.into_iter().map(|k| (k.as_str(), value(&dict[k]))))
}

fn value(v: &Variant<'_>) -> OptionValue {
    let wide = |n: u64| OptionValue::Int(i64::try_from(n).unwrap_or(i64::MAX));
    match v {
        Variant::Bool(b) => OptionValue::Bool(*b),
        Variant::U8(n) => OptionValue::Int(i64::from(*n)),
        Variant::I16(n) => OptionValue::Int(i64::from(*n)),
        Variant::U16(n) => OptionValue::Int(i64::from(*n)),
        Variant::I32(n) => OptionValue::Int(i64::from(*n)),
        Variant::U32(n) => OptionValue::Int(i64::from(*n)),
        Variant::I64(n) => OptionValue::Int(*n),
        Variant::U64(n) => wide(*n),
        Variant::Variant(inner) => value(inner),
        other => OptionValue::Other(other.value_signature().to_string()),
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
    use zbus::Type;

    use super::*;

    #[test]
    fn values_map_onto_the_models_options() {
        let mut dict = WireOptions::new();
        dict.insert("lifetime".into(), Variant::I32(30));
        dict.insert("bind_to_caller".into(), Variant::Bool(true));
        let options = parse(&dict).unwrap();
        assert_eq!(options.lifetime.unwrap().seconds(), 30);
        assert!(options.bind_to_caller);
        dict.insert("lifetime".into(), Variant::from("2h"));
        let e = parse(&dict).unwrap_err();
        assert!(e.message().contains("not a value of type \"s\""), "{e}");
        let mut dict = WireOptions::new();
        dict.insert("lifetime".into(), Variant::U64(u64::MAX));
        assert!(
            parse(&dict)
                .unwrap_err()
                .message()
                .contains("above the maximum")
        );
        assert_eq!(WireOptions::SIGNATURE.to_string(), "a{sv}");
    }
}
