//! The message a method is serving, for the methods that read their arguments in two steps.
//!
//! zbus decodes a method's arguments before the method runs and gives it the header, not the
//! message. `Apply` and `ApplyConfirmable` must not decode a whole batch for a caller they have
//! not authorized yet, so their declared argument is only the batch's head (service/args.rs),
//! and they read the items from the message once the first is authorized. [`Served`] wraps an `#[interface]` object and runs each
//! of its method calls with the message reachable through [`message`]; everything else — names,
//! signatures, introspection, properties, signals — is the wrapped object's, unchanged.
//!
//! zbus calls its `Interface` trait unstable across minor versions: the lock file pins zbus, and
//! the tests fail if the wrapper stops forwarding anything: `tests/daemon.rs`'s introspection
//! test, the `Apply` tests, the logging properties read and set through it (`tests/access.rs`,
//! `tests/authorization.rs`'s caching-proxy test for their change signals).

use std::collections::HashMap;
use std::fmt::Write;

use fw6_model::{Error, ErrorKind};
use zbus::message::Header;
use zbus::names::{InterfaceName, MemberName};
use zbus::object_server::{DispatchResult, Interface, SignalEmitter};
use zbus::zvariant::{OwnedVariant, Variant};
use zbus::{BoxDBusError, Connection, Message, ObjectServer, fdo};

tokio::task_local! {
    static MESSAGE: Message;
}

/// The message of the method call being served, for a method of an object served as
/// [`Served`].
pub fn message() -> Result<Message, Error> {
    MESSAGE.try_with(Clone::clone).map_err(|_| {
        Error::new(
            ErrorKind::Unexpected,
            "the call's message is not available to the method (fw6d serves this object without \
             its dispatch wrapper); nothing was changed",
        )
    })
}

/// An `#[interface]` object whose method calls can reach their message.
pub struct Served<I>(pub I);

#[async_trait::async_trait]
impl<I: Interface> Interface for Served<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.0.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<Result<OwnedVariant, BoxDBusError>> {
        self.0
            .get(property_name, server, connection, header, emitter)
            .await
    }

    async fn get_all(
        &self,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<HashMap<String, OwnedVariant>> {
        self.0.get_all(server, connection, header, emitter).await
    }

    fn set<'call>(
        &'call self,
        property_name: &'call str,
        value: &'call Variant<'_>,
        server: &'call ObjectServer,
        connection: &'call Connection,
        header: Option<&'call Header<'_>>,
        emitter: &'call SignalEmitter<'_>,
    ) -> DispatchResult<'call> {
        self.0
            .set(property_name, value, server, connection, header, emitter)
    }

    async fn set_mut(
        &mut self,
        property_name: &str,
        value: &Variant<'_>,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<Result<(), BoxDBusError>> {
        self.0
            .set_mut(property_name, value, server, connection, header, emitter)
            .await
    }

    fn call<'call>(
        &'call self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult<'call> {
        with_message(msg, self.0.call(server, connection, msg, name))
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult<'call> {
        with_message(msg, self.0.call_mut(server, connection, msg, name))
    }

    fn introspect_to_writer(&self, writer: &mut dyn Write, level: usize) {
        self.0.introspect_to_writer(writer, level);
    }
}

/// `dispatched`, run with `msg` as the [`message`] (an `Arc` clone, not a copy).
fn with_message<'call>(msg: &Message, dispatched: DispatchResult<'call>) -> DispatchResult<'call> {
    match dispatched {
        DispatchResult::Async(f) => DispatchResult::Async(Box::pin(MESSAGE.scope(msg.clone(), f))),
        other => other,
    }
}
