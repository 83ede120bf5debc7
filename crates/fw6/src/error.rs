//! The client's error: the ICF class and HRESULT of what went wrong, recovered from the D-Bus
//! error name the daemon replied with (`org.fw6.Firewall1.Error.<Class>`), or `Unexpected` when
//! the daemon could not be reached at all.

use std::fmt;

use fw6_model::{ErrorKind, HResult};
use zbus::DBusError as _;

/// The prefix of every error name the daemon replies with.
pub const ERROR_PREFIX: &str = "org.fw6.Firewall1.Error.";

/// What to tell a user whose call never reached the daemon.
const START_HINT: &str = "is fw6d running? Start it with `systemctl start fw6d` \
     (or pass the bus address with --bus / FW6_BUS_ADDRESS)";

/// An error of a call to fw6d: its class (with the ICF HRESULT) and a message that says what
/// was wrong and what to do.
///
/// The message never repeats the class: [`Display`](fmt::Display) appends
/// `(Class, 0x…)` once, exactly as the daemon formats its own messages.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The D-Bus error name when the daemon or the bus sent one, for diagnostics.
    dbus_name: Option<String>,
}

impl Error {
    /// An error of the given class.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            dbus_name: None,
        }
    }

    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HRESULT a Windows client of the same member would have seen.
    pub fn hresult(&self) -> HResult {
        self.kind.hresult()
    }

    /// The message alone, without the class and HRESULT.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The D-Bus error name of the reply, if there was one.
    pub fn dbus_name(&self) -> Option<&str> {
        self.dbus_name.as_deref()
    }

    /// The same error with `context` put in front of the message (a file name, a batch item).
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Classifies a D-Bus error reply by its name. fw6d's own names carry the class; the bus's
    /// names for "nobody owns `org.fw6.Firewall1`" become `Unexpected` with the hint to start the
    /// daemon; a bus policy refusal is `AccessDenied`; anything else is `Unexpected`.
    pub fn from_dbus(name: &str, description: Option<&str>) -> Self {
        let description = description.unwrap_or("").trim();
        let (kind, message) = if let Some(class) = name.strip_prefix(ERROR_PREFIX) {
            match ErrorKind::from_name(class) {
                Some(kind) => (kind, strip_class_suffix(description).to_owned()),
                None => (
                    ErrorKind::Unexpected,
                    format!("fw6d replied with an unknown error class {class:?}: {description}"),
                ),
            }
        } else {
            match name {
                "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner"
                | "org.freedesktop.DBus.Error.NoReply"
                | "org.freedesktop.DBus.Error.Disconnected"
                | "org.freedesktop.DBus.Error.Timeout"
                | "org.freedesktop.DBus.Error.TimedOut"
                | "org.freedesktop.DBus.Error.NoServer" => (
                    ErrorKind::Unexpected,
                    format!("the fw6 service cannot be reached ({description}): {START_HINT}"),
                ),
                "org.freedesktop.DBus.Error.AccessDenied" => (
                    ErrorKind::AccessDenied,
                    format!(
                        "the bus refused the call ({description}): run as root or install \
                         fw6's D-Bus policy file"
                    ),
                ),
                "org.freedesktop.DBus.Error.UnknownMethod"
                | "org.freedesktop.DBus.Error.UnknownObject"
                | "org.freedesktop.DBus.Error.UnknownInterface"
                | "org.freedesktop.DBus.Error.UnknownProperty" => (
                    ErrorKind::Unexpected,
                    format!(
                        "fw6d does not know this call ({description}): the client and the daemon \
                         versions differ; upgrade both"
                    ),
                ),
                other => (
                    ErrorKind::Unexpected,
                    format!("unexpected D-Bus error {other}: {description}"),
                ),
            }
        };
        Self {
            kind,
            message,
            dbus_name: Some(name.to_owned()),
        }
    }

    /// The daemon could not be reached at `what` (a bus address or "the system bus").
    pub(crate) fn unreachable(what: &str, cause: &dyn fmt::Display) -> Self {
        Self::new(
            ErrorKind::Unexpected,
            format!("cannot connect to {what} ({cause}): {START_HINT}"),
        )
    }

    /// The daemon answered something this client cannot make sense of.
    pub(crate) fn protocol(what: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::Unexpected,
            format!(
                "fw6d sent an unexpected reply: {what}; the client and the daemon versions may differ"
            ),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {})",
            self.message,
            self.kind.name(),
            self.kind.hresult()
        )
    }
}

/// Drops a trailing ` (Class, 0x…)` that the daemon appends, so it is not shown twice.
fn strip_class_suffix(message: &str) -> &str {
    let Some(open) = message.rfind(" (") else {
        return message;
    };
    let tail = &message[open + 2..];
    let is_suffix = tail.strip_suffix(')').is_some_and(|inner| {
        inner.split_once(", 0x").is_some_and(|(class, hex)| {
            ErrorKind::from_name(class).is_some()
                && hex.len() == 8
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        })
    });
    if is_suffix { &message[..open] } else { message }
}

impl From<fw6_model::Error> for Error {
    fn from(err: fw6_model::Error) -> Self {
        Self::new(err.kind(), err.message())
    }
}

impl From<zbus::Error> for Error {
    fn from(err: zbus::Error) -> Self {
        match &err {
            zbus::Error::MethodError(name, description, _) => {
                Self::from_dbus(name.as_str(), description.as_deref())
            }
            zbus::Error::FDO(fdo) => Self::from(fdo.as_ref().clone()),
            zbus::Error::InputOutput(io) => Self::unreachable("the bus", io),
            zbus::Error::Connection(io, address) => {
                Self::unreachable(&format!("the bus at {address}"), io)
            }
            zbus::Error::Address(why) => Self::new(
                ErrorKind::InvalidArg,
                format!(
                    "the bus address is not valid ({why}): use e.g. unix:path=/run/dbus/system_bus_socket"
                ),
            ),
            zbus::Error::Handshake(why) => Self::unreachable("the bus", why),
            other => Self::protocol(other),
        }
    }
}

impl From<zbus::fdo::Error> for Error {
    fn from(err: zbus::fdo::Error) -> Self {
        match err {
            zbus::fdo::Error::ZBus(inner) => Self::from(inner),
            other => Self::from_dbus(other.name().as_str(), other.description()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_names_map_back_to_their_class() {
        for kind in ErrorKind::ALL {
            let name = format!("{ERROR_PREFIX}{}", kind.name());
            let err = Error::from_dbus(&name, Some("something is wrong: do this"));
            assert_eq!(err.kind(), kind);
            assert_eq!(err.hresult(), kind.hresult());
            assert_eq!(err.dbus_name(), Some(name.as_str()));
        }
    }

    #[test]
    fn the_daemons_class_suffix_is_not_repeated() {
        let err = Error::from_dbus(
            "org.fw6.Firewall1.Error.InvalidArg",
            Some("port 0 is out of range: use 1-65535 (InvalidArg, 0x80070057)"),
        );
        assert_eq!(err.message(), "port 0 is out of range: use 1-65535");
        assert_eq!(
            err.to_string(),
            "port 0 is out of range: use 1-65535 (InvalidArg, 0x80070057)"
        );
        // A parenthesis that is not the suffix stays.
        let err = Error::from_dbus(
            "org.fw6.Firewall1.Error.Fail",
            Some("kernel said (EPERM, 0x1)"),
        );
        assert_eq!(err.message(), "kernel said (EPERM, 0x1)");
    }

    #[test]
    fn unreachable_service_is_unexpected_with_a_hint() {
        for name in [
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "org.freedesktop.DBus.Error.NameHasNoOwner",
            "org.freedesktop.DBus.Error.NoReply",
        ] {
            let err = Error::from_dbus(name, Some("The name is not activatable"));
            assert_eq!(err.kind(), ErrorKind::Unexpected, "{name}");
            assert_eq!(err.hresult().to_string(), "0x8000FFFF");
            assert!(err.message().contains("systemctl start fw6d"), "{err}");
        }
    }

    #[test]
    fn other_names() {
        let err = Error::from_dbus("org.freedesktop.DBus.Error.AccessDenied", None);
        assert_eq!(err.kind(), ErrorKind::AccessDenied);
        let err = Error::from_dbus("org.fw6.Firewall1.Error.Bogus", Some("x"));
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert!(err.message().contains("Bogus"));
        let err = Error::from_dbus("com.example.Whatever", Some("x"));
        assert_eq!(err.kind(), ErrorKind::Unexpected);
    }

    #[test]
    fn zbus_errors_are_classified() {
        let fdo = zbus::fdo::Error::ServiceUnknown("no such name".into());
        let err = Error::from(zbus::Error::FDO(Box::new(fdo)));
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert!(err.message().contains("systemctl start fw6d"), "{err}");
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = Error::from(zbus::Error::InputOutput(io.into()));
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert!(err.message().contains("systemctl start fw6d"), "{err}");
    }

    #[test]
    fn model_errors_keep_class_and_message() {
        let err = Error::from(fw6_model::Error::invalid_arg("bad port"));
        assert_eq!(err.kind(), ErrorKind::InvalidArg);
        assert_eq!(err.to_string(), "bad port (InvalidArg, 0x80070057)");
    }
}
