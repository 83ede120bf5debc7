//! `org.freedesktop.DBus.Properties` as fw6d serves it: zbus's own, on every node of fw6d's
//! object tree, behind a screen that takes `Set` before zbus decodes it.
//!
//! zbus adds its `Properties` to every node it creates — the objects and each node on the way
//! to them (`/`, `/org`, …) — and its `Set` does two things a root daemon cannot afford for
//! every local user. It decodes the value as a `Variant` before it looks at the interface, the
//! property or the caller: 64 bytes of fw6d's memory for each byte of an `ay`. And it holds the
//! object tree's lock while the setter runs, and fw6's setters wait for polkit, which may wait
//! minutes for a person at a password prompt: a connection object exported meanwhile (a link
//! appeared) queues for the lock, and every call to fw6d, root's included, queues behind it.
//! So the screen reads a `Set`'s value bounded ([`WireVariant`]) and refuses anything but a
//! boolean, a number or a string with InvalidArg; a `Set` of the manager's properties it serves
//! itself, calling the manager's setter without the tree's lock; the rest (a `Set` of another
//! interface, `Get`, `GetAll`) go on to zbus unchanged. [`serve_at`] serves an object and puts
//! the screened `Properties` on every node of its path.

use fw6_model::Error;
use fw6_model::wire::{MANAGER_IFACE, MANAGER_PATH};
use zbus::message::Flags;
use zbus::object_server::{DispatchResult, Interface};
use zbus::{BoxDBusError, Connection, Message, ObjectPath, ObjectServer, Variant, fdo};

use super::args::invalid_args;
use super::dispatch::{self, Served};
use super::error::FwError;
use super::manager::ManagerIface;
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

/// A `Properties` call taken before zbus's `Properties` sees it: a `Set` refused
/// ([`read_set`]) or of the manager (served by [`set_on_manager`]); anything else passes.
fn screen<'call>(
    server: &'call ObjectServer,
    connection: &'call Connection,
    msg: &'call Message,
) -> Option<DispatchResult<'call>> {
    if msg.header().member().is_none_or(|m| m.as_str() != "Set") {
        return None;
    }
    match read_set(msg) {
        Err(refused) => Some(dispatch::refuse(refused)),
        Ok(Set::OfTheManager) => Some(DispatchResult::Async(Box::pin(set_on_manager(
            server, connection, msg,
        )))),
        Ok(Set::Elsewhere) => None,
    }
}

/// Where a `Set` whose value is basic goes.
#[derive(Debug, PartialEq, Eq)]
enum Set {
    /// A property of the manager object's interface: fw6's settable properties.
    OfTheManager,
    /// Anything else (zbus answers: an unknown interface or property, or a read-only one).
    Elsewhere,
}

/// A `Set` read from its message without building its value: refused unless it reads as `(ssv)`
/// and its value is a boolean, a number or a string.
fn read_set(msg: &Message) -> Result<Set, FwError> {
    let body = msg.body();
    let (interface, property, value) = body
        .deserialize::<(&str, &str, WireVariant<'_, true>)>()
        .map_err(|e| invalid_args(&e))?;
    if value.value == Scalar::Other {
        return Err(Error::invalid_arg(format!(
            "{interface:.64}.{property:.64} was sent a value of type \"{:.64}\": fw6's \
             properties are set with a boolean, a number or a string (docs/dbus-api.md); \
             nothing was changed",
            value.signature
        ))
        .into());
    }
    let at_manager = msg
        .header()
        .path()
        .is_some_and(|p| p.as_str() == MANAGER_PATH);
    Ok(if at_manager && interface == MANAGER_IFACE {
        Set::OfTheManager
    } else {
        Set::Elsewhere
    })
}

/// A `Set` of a manager property, as zbus's `Properties` would serve it (the setter, then the
/// change signal the setter's generated code sends, then the reply) but without the object
/// tree's lock held while the setter waits for polkit. The value is decoded now: [`read_set`]
/// found it basic.
async fn set_on_manager(
    server: &ObjectServer,
    connection: &Connection,
    msg: &Message,
) -> Result<(), BoxDBusError> {
    let header = msg.header();
    let body = msg.body();
    let (_, property, value) = body
        .deserialize::<(&str, &str, Variant<'_>)>()
        .map_err(|e| Box::new(invalid_args(&e)) as BoxDBusError)?;
    // Not served only while fw6d starts or stops: what zbus answers for an interface it lacks.
    let manager = server
        .interface::<_, Served<ManagerIface>>(MANAGER_PATH)
        .await
        .map_err(|_| {
            fdo::Error::UnknownInterface(format!("Unknown interface '{MANAGER_IFACE}'"))
        })?;
    let object = manager.get().await;
    match object.set(
        property,
        &value,
        server,
        connection,
        Some(&header),
        manager.signal_emitter(),
    ) {
        DispatchResult::Async(set) => set.await?,
        DispatchResult::NotFound => {
            return Err(
                fdo::Error::UnknownProperty(format!("Unknown property '{property:.64}'")).into(),
            );
        }
        // The manager's setters take `&self`, and must: a setter holding the manager for
        // writing would stall every call to it while polkit waits.
        DispatchResult::RequiresMut => {
            return Err(fdo::Error::Failed(format!(
                "fw6d cannot set '{property:.64}': its setter needs the manager for writing, \
                 which fw6d does not allow; nothing was changed"
            ))
            .into());
        }
    }
    drop(object);
    if !header.primary().flags().contains(Flags::NO_REPLY_EXPECTED) {
        connection.reply(&header, &()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use zbus::Variant;
    use zbus::message::Message;

    use super::*;

    fn set_at(path: &str, interface: &str, value: &Variant<'_>) -> Message {
        Message::method_call(path, "Set")
            .interface("org.freedesktop.DBus.Properties")
            .build(&(interface, "LogConnections", value))
            .unwrap()
    }

    fn set(value: &Variant<'_>) -> Message {
        set_at(MANAGER_PATH, MANAGER_IFACE, value)
    }

    #[test]
    fn a_set_of_anything_but_a_basic_value_is_refused_naming_its_type() {
        let big = Variant::from(vec![7_u8; 4 << 20]);
        let e = read_set(&set(&big)).unwrap_err().to_string();
        assert!(e.contains("\"ay\""), "{e}");
        assert!(
            e.contains("org.fw6.Firewall1.Manager.LogConnections"),
            "{e}"
        );
        assert!(e.contains("0x80070057"), "carries E_INVALIDARG: {e}");
        let nested = Variant::Variant(Box::new(Variant::from(vec![1_u32, 2])));
        assert!(read_set(&set(&nested)).is_err());
    }

    #[test]
    fn a_basic_value_goes_to_the_manager_or_on_to_zbus() {
        for value in [
            Variant::Bool(true),
            Variant::U32(4096),
            Variant::from("/var/log/fw6/fw6.log"),
            Variant::Variant(Box::new(Variant::Bool(false))),
        ] {
            assert_eq!(
                read_set(&set(&value)).unwrap(),
                Set::OfTheManager,
                "{value:?}"
            );
        }
        let lan0 = format!("{MANAGER_PATH}/connection/lan0");
        let elsewhere = [
            set_at(&lan0, "org.fw6.Firewall1.Connection", &Variant::Bool(true)),
            set_at("/", MANAGER_IFACE, &Variant::Bool(true)),
            set_at(MANAGER_PATH, "org.example.Other", &Variant::Bool(true)),
        ];
        for msg in &elsewhere {
            assert_eq!(read_set(msg).unwrap(), Set::Elsewhere);
        }
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
        let e = read_set(&wrong).unwrap_err().to_string();
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
