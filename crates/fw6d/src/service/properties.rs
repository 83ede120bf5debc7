//! `org.freedesktop.DBus.Properties` as fw6d serves it: zbus's own, on every node of fw6d's
//! object tree, behind a screen that reads a `Set`'s value bounded before zbus decodes it.
//!
//! zbus adds its `Properties` to every node it creates — the objects and each node on the way
//! to them (`/`, `/org`, …) — and its `Set` decodes the value as a `Variant` before it looks at
//! the interface, the property or the caller: 64 bytes of fw6d's memory for each byte of an `ay`
//! that any local user may send to any of those paths. fw6d's settable properties are booleans,
//! numbers and strings (docs/dbus-api.md); a `Set` whose value is anything else is refused with
//! InvalidArg from the message as sent ([`WireVariant`]), and the rest pass to zbus unchanged.
//! [`serve_at`] serves an object and puts the screened `Properties` on every node of its path.

use fw6_model::Error;
use zbus::object_server::Interface;
use zbus::{Message, ObjectPath, ObjectServer, fdo};

use super::args::invalid_args;
use super::dispatch::Served;
use super::error::FwError;
use super::variant::{Scalar, WireVariant};

/// Serves `object` at `path` unless an object of its interface is there already (`false`),
/// with the screened `Properties` on `path` and every node above it.
pub async fn serve_at<I: Interface>(
    server: &ObjectServer,
    path: &ObjectPath<'_>,
    object: I,
) -> zbus::Result<bool> {
    let added = server.at(path, object).await?.is_none();
    for node in nodes(path) {
        screen_node(server, node).await?;
    }
    Ok(added)
}

/// `path` and every node above it, the root first.
fn nodes<'p>(path: &'p ObjectPath<'_>) -> impl Iterator<Item = ObjectPath<'p>> {
    let path = path.as_str();
    std::iter::once("/")
        .chain(
            path.char_indices()
                .skip(1)
                .filter(|&(_, c)| c == '/')
                .map(move |(i, _)| &path[..i]),
        )
        .chain((path != "/").then_some(path))
        .map(ObjectPath::from_str_unchecked)
}

/// Replaces zbus's `Properties` on `node` with the screened one, unless it is there already.
/// Two exports may race here for a node they share: the one that finds the slot empty or taken
/// by the other's screened `Properties` has nothing to do.
async fn screen_node(server: &ObjectServer, node: ObjectPath<'_>) -> zbus::Result<()> {
    if server
        .interface::<_, Served<fdo::Properties>>(&node)
        .await
        .is_ok()
    {
        return Ok(());
    }
    match server.remove::<fdo::Properties, _>(&node).await {
        Ok(_) | Err(zbus::Error::InterfaceNotFound) => {}
        Err(e) => return Err(e),
    }
    server
        .at(&node, Served::screened(fdo::Properties, screen))
        .await?;
    Ok(())
}

/// A `Properties` call's refusal before zbus decodes it: a `Set` whose value is not a boolean,
/// a number or a string, or that does not read as `(ssv)`.
pub fn screen(msg: &Message) -> Result<(), FwError> {
    if msg.header().member().is_none_or(|m| m.as_str() != "Set") {
        return Ok(());
    }
    let body = msg.body();
    let (interface, property, value) = body
        .deserialize::<(&str, &str, WireVariant<'_>)>()
        .map_err(|e| invalid_args(&e))?;
    match value.value {
        Scalar::Other => Err(Error::invalid_arg(format!(
            "{interface:.64}.{property:.64} was sent a value of type \"{:.64}\": fw6's \
             properties are set with a boolean, a number or a string (docs/dbus-api.md); \
             nothing was changed",
            value.signature
        ))
        .into()),
        Scalar::Int(_) | Scalar::Bool(_) | Scalar::Str(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use zbus::Variant;
    use zbus::message::Message;

    use super::*;

    fn set(value: &Variant<'_>) -> Message {
        Message::method_call("/org/fw6/Firewall1", "Set")
            .interface("org.freedesktop.DBus.Properties")
            .build(&("org.fw6.Firewall1.Manager", "LogConnections", value))
            .unwrap()
    }

    #[test]
    fn a_set_of_anything_but_a_basic_value_is_refused_naming_its_type() {
        let big = Variant::from(vec![7_u8; 4 << 20]);
        let e = screen(&set(&big)).unwrap_err().to_string();
        assert!(e.contains("\"ay\""), "{e}");
        assert!(
            e.contains("org.fw6.Firewall1.Manager.LogConnections"),
            "{e}"
        );
        assert!(e.contains("0x80070057"), "carries E_INVALIDARG: {e}");
        let nested = Variant::Variant(Box::new(Variant::from(vec![1_u32, 2])));
        assert!(screen(&set(&nested)).is_err());
    }

    #[test]
    fn basic_values_and_other_members_pass() {
        for value in [
            Variant::Bool(true),
            Variant::U32(4096),
            Variant::from("/var/log/fw6/fw6.log"),
            Variant::Variant(Box::new(Variant::Bool(false))),
        ] {
            assert!(screen(&set(&value)).is_ok(), "{value:?}");
        }
        let get = Message::method_call("/", "GetAll")
            .interface("org.freedesktop.DBus.Properties")
            .build(&("org.fw6.Firewall1.Manager",))
            .unwrap();
        assert!(screen(&get).is_ok());
    }

    #[test]
    fn a_set_that_does_not_read_as_ssv_is_refused() {
        let wrong = Message::method_call("/", "Set")
            .interface("org.freedesktop.DBus.Properties")
            .build(&(
                "org.fw6.Firewall1.Manager",
                "LogConnections",
                vec![7_u8; 64],
            ))
            .unwrap();
        let e = screen(&wrong).unwrap_err().to_string();
        assert!(
            e.contains("do not read as") && e.contains("0x80070057"),
            "{e}"
        );
    }

    #[test]
    fn nodes_run_from_the_root_to_the_path() {
        let path = ObjectPath::try_from("/org/fw6/Firewall1").unwrap();
        let got: Vec<String> = nodes(&path).map(|p| p.to_string()).collect();
        assert_eq!(got, ["/", "/org", "/org/fw6", "/org/fw6/Firewall1"]);
        let root = ObjectPath::try_from("/").unwrap();
        assert_eq!(nodes(&root).count(), 1);
    }
}
