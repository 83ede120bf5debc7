"""Errors of fw6 calls: one class per ICF error class, each carrying the HRESULT a Windows client
of the same member would have seen (docs/dbus-api.md, "Errors")."""

from __future__ import annotations

from typing import Dict, Optional, Type

#: The prefix of every error name fw6d replies with.
ERROR_PREFIX = "org.fw6.Firewall1.Error."

_START_HINT = (
    "is fw6d running? Start it with `systemctl start fw6d` "
    "(or pass the bus address with FW6_BUS_ADDRESS)"
)


class Error(Exception):
    """A failed fw6 call. ``str(error)`` says what was wrong and what to do."""

    #: The ICF class name, as in the D-Bus error name ``org.fw6.Firewall1.Error.<class>``.
    class_name = "Unexpected"
    #: The HRESULT of the class, as an unsigned 32-bit number (``hex(e.hresult)``).
    hresult = 0x8000FFFF

    def __init__(self, message: str, dbus_name: Optional[str] = None) -> None:
        super().__init__(message)
        #: The message alone.
        self.message = message
        #: The D-Bus error name of the reply, when there was one.
        self.dbus_name = dbus_name


class InvalidArg(Error):
    """``E_INVALIDARG``: a malformed or out-of-range argument, or an unknown connection."""

    class_name = "InvalidArg"
    hresult = 0x80070057


class AccessDenied(Error):
    """``E_ACCESSDENIED``: polkit refused the state-changing call."""

    class_name = "AccessDenied"
    hresult = 0x80070005


class Aborted(Error):
    """``E_ABORT``: the authentication dialog was dismissed; nothing changed."""

    class_name = "Aborted"
    hresult = 0x80004004


class Fail(Error):
    """``E_FAIL``: the kernel or the daemon's store refused; nothing changed."""

    class_name = "Fail"
    hresult = 0x80004005


class Unexpected(Error):
    """``E_UNEXPECTED``: fw6d cannot be reached or answered something impossible."""

    class_name = "Unexpected"
    hresult = 0x8000FFFF


class NotImpl(Error):
    """``E_NOTIMPL``: the member is switched off in the daemon's configuration."""

    class_name = "NotImpl"
    hresult = 0x80004001


CLASSES: Dict[str, Type[Error]] = {
    cls.class_name: cls for cls in (InvalidArg, AccessDenied, Aborted, Fail, Unexpected, NotImpl)
}

_UNREACHABLE = {
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.Timeout",
    "org.freedesktop.DBus.Error.TimedOut",
    "org.freedesktop.DBus.Error.NoServer",
}


def from_dbus(name: str, description: str) -> Error:
    """The error for a D-Bus error reply, classified as the Rust client does."""
    if name.startswith(ERROR_PREFIX):
        cls = CLASSES.get(name[len(ERROR_PREFIX):])
        if cls is not None:
            return cls(description, name)
        return Unexpected(f"fw6d replied with an unknown error {name}: {description}", name)
    if name in _UNREACHABLE:
        return Unexpected(f"the fw6 service cannot be reached ({description}): {_START_HINT}", name)
    if name == "org.freedesktop.DBus.Error.AccessDenied":
        return AccessDenied(
            f"the bus refused the call ({description}): run as root or install fw6's D-Bus "
            "policy file",
            name,
        )
    return Unexpected(f"unexpected D-Bus error {name}: {description}", name)


def unreachable(what: str, cause: BaseException) -> Unexpected:
    """fw6d's bus could not be reached at all."""
    return Unexpected(f"cannot connect to {what} ({cause}): {_START_HINT}")
