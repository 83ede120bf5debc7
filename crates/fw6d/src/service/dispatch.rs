//! A call's message before and while the object serves it, for what must not be decoded the way
//! zbus decodes arguments.
//!
//! zbus decodes a method's arguments before the method runs and gives it the header, not the
//! message. `Apply` and `ApplyConfirmable` must not decode a whole batch for a caller they have
//! not authorized yet, so their declared argument is only the batch's head (service/args.rs),
//! and they read the items from the message once the first is authorized. And zbus's own
//! `Properties` decodes `Set`'s value as a `Variant` — 64 bytes for each byte sent — and holds
//! the object tree's lock while a setter waits for polkit, so it is served behind a [`Screen`]
//! that reads the value bounded first and sets fw6's properties itself (service/properties.rs).
//! [`Served`] wraps an `Interface` object, screens each call, and runs it with the message
//! reachable through [`message`]; everything else — names, signatures, introspection,
//! properties, signals — is the wrapped object's, unchanged.
//!
//! zbus calls its `Interface` trait unstable across minor versions: the lock file pins zbus, and
//! the tests fail if the wrapper stops forwarding anything: `tests/daemon.rs`'s introspection
//! test, the `Apply` tests, the logging properties read and set through it (`tests/access.rs`,
//! `tests/authorization.rs`'s caching-proxy test for their change signals).

use std::collections::HashMap;
use std::fmt::Write;

use fw6_model::{Error, ErrorKind};
use zbus::message::{Flags, Header};
use zbus::names::{InterfaceName, MemberName};
use zbus::object_server::{DispatchResult, Interface, SignalEmitter};
use zbus::zvariant::{OwnedVariant, Variant};
use zbus::{BoxDBusError, Connection, Message, ObjectServer, fdo};

use super::error::FwError;

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

/// A look at a call's message before the object decodes the call's arguments: `Some` answers
/// the call — a refusal, or the call served another way — and the object never sees it; `None`
/// passes it on.
pub type Screen = for<'call> fn(
    &'call ObjectServer,
    &'call Connection,
    &'call Message,
) -> Option<DispatchResult<'call>>;

/// An `Interface` object whose method calls are screened and can reach their message.
pub struct Served<I> {
    object: I,
    screen: Option<Screen>,
}

impl<I> Served<I> {
    /// `object`, its calls unscreened.
    pub fn new(object: I) -> Self {
        Self {
            object,
            screen: None,
        }
    }

    /// `object`, each call passing `screen` first.
    pub fn screened(object: I, screen: Screen) -> Self {
        Self {
            object,
            screen: Some(screen),
        }
    }

    /// The wrapped object.
    pub fn object(&self) -> &I {
        &self.object
    }
}

/// A call refused with `refused` as its reply.
pub fn refuse<'call>(refused: FwError) -> DispatchResult<'call> {
    DispatchResult::Async(Box::pin(
        async move { Err(Box::new(refused) as BoxDBusError) },
    ))
}

#[async_trait::async_trait]
impl<I: Interface> Interface for Served<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.object.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<Result<OwnedVariant, BoxDBusError>> {
        self.object
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
        self.object
            .get_all(server, connection, header, emitter)
            .await
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
        self.object
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
        self.object
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
        if let Some(answered) = screened(self.screen, server, connection, msg) {
            return answered;
        }
        with_message(msg, self.object.call(server, connection, msg, name))
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult<'call> {
        if let Some(answered) = screened(self.screen, server, connection, msg) {
            return answered;
        }
        with_message(msg, self.object.call_mut(server, connection, msg, name))
    }

    fn introspect_to_writer(&self, writer: &mut dyn Write, level: usize) {
        self.object.introspect_to_writer(writer, level);
    }
}

/// The call as `screen` answers it, if it does, run with `msg` as the [`message`]. An error is
/// dropped when the caller asked for no reply, as zbus's own methods do: the bus would refuse
/// an error reply nobody asked for, and log it.
fn screened<'call>(
    screen: Option<Screen>,
    server: &'call ObjectServer,
    connection: &'call Connection,
    msg: &'call Message,
) -> Option<DispatchResult<'call>> {
    let answered = screen?(server, connection, msg)?;
    let unwanted = msg
        .header()
        .primary()
        .flags()
        .contains(Flags::NO_REPLY_EXPECTED);
    let answered = match answered {
        DispatchResult::Async(f) if unwanted => DispatchResult::Async(Box::pin(async move {
            if let Err(e) = f.await {
                tracing::debug!(%e, "a call that asked for no reply failed");
            }
            Ok(())
        })),
        other => other,
    };
    Some(with_message(msg, answered))
}

/// `dispatched`, run with `msg` as the [`message`] (an `Arc` clone, not a copy).
fn with_message<'call>(msg: &Message, dispatched: DispatchResult<'call>) -> DispatchResult<'call> {
    match dispatched {
        DispatchResult::Async(f) => DispatchResult::Async(Box::pin(MESSAGE.scope(msg.clone(), f))),
        other => other,
    }
}
