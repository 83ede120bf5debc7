"""What the sync and asyncio clients share: the value types, and every D-Bus call as a message
plus a decoder of its reply (docs/dbus-api.md), so the two clients differ only in how they wait."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

from jeepney import DBusAddress, HeaderFields, MessageType, Properties, new_method_call

from ._errors import InvalidArg, from_dbus

BUS_NAME = "org.fw6.Firewall1"
MANAGER_PATH = "/org/fw6/Firewall1"
MANAGER_IFACE = "org.fw6.Firewall1.Manager"
CONNECTION_IFACE = "org.fw6.Firewall1.Connection"
#: The environment variable that points clients at a bus other than the system bus.
BUS_ADDRESS_ENV = "FW6_BUS_ADDRESS"

T = TypeVar("T")


class Protocol(enum.IntEnum):
    """``PORT_PROTOCOL``: the IANA numbers of the two protocols the ICF API configures."""

    TCP = 6
    UDP = 17


@dataclass(frozen=True)
class PortEntry:
    """One entry of a port set (``INetFwV6Port``): the pair and the first name given to it."""

    port: int
    protocol: Protocol
    name: str


@dataclass(frozen=True)
class ConnectionInfo:
    """One row of ``EnumerateConnections``: a connection as the manager saw it at the call."""

    id: str
    name: str
    interface: str
    index: int
    firewalled: bool
    present: bool
    path: str


@dataclass(frozen=True)
class Explanation:
    """The answer of ``Explain``: whether an unsolicited inbound packet passes, and why."""

    allowed: bool
    reason: str
    sentence: str


@dataclass(frozen=True)
class Lease:
    """One row of ``Leases``: an opening that ends on its own (docs/dbus-api.md, "Leases")."""

    #: The connection's interface name, or "" for a global pair.
    connection: str
    port: int
    protocol: Protocol
    name: str
    #: When it closes, in ms since the Unix epoch; 0: only when its owner leaves.
    expires_ms: int
    #: The unique bus name whose departure closes it, or "".
    owner: str
    owner_pid: int
    owner_command: str


@dataclass(frozen=True)
class Change:
    """One ``Changed`` signal: an effective change, after the reply to the call that made it."""

    change: str
    interface: str
    port: int
    protocol: int
    name: str


@dataclass(frozen=True)
class Call(Generic[T]):
    """One D-Bus method call and the decoder of its reply body."""

    message: Any
    decode: Callable[[Tuple[Any, ...]], T]


def bus_address(address: Optional[str]) -> str:
    """The bus to use: ``address``, else ``FW6_BUS_ADDRESS`` when set, else the system bus."""
    if address:
        return address
    return os.environ.get(BUS_ADDRESS_ENV) or "SYSTEM"


def reply_body(reply: Any) -> Tuple[Any, ...]:
    """The body of a method return, or the fw6 error an error reply stands for."""
    if reply.header.message_type == MessageType.error:
        name = str(reply.header.fields.get(HeaderFields.error_name, ""))
        body = reply.body
        description = str(body[0]) if body else ""
        raise from_dbus(name, description)
    return tuple(reply.body)


def _none(_: Tuple[Any, ...]) -> None:
    return None


def _first(body: Tuple[Any, ...]) -> Any:
    return body[0]


def _bool(body: Tuple[Any, ...]) -> bool:
    return bool(body[0])


def _entries(body: Tuple[Any, ...]) -> List[PortEntry]:
    return [PortEntry(int(p), Protocol(int(proto)), str(n)) for p, proto, n in body[0]]


def _variant(body: Tuple[Any, ...]) -> Any:
    # Properties.Get returns one variant: (signature, value).
    return body[0][1]


def _options(lifetime: Optional[int], bind_to_caller: bool) -> Optional[Dict[str, Tuple[str, Any]]]:
    """The ``a{sv}`` of an opening that ends on its own, or None for a plain opening."""
    if lifetime is None and not bind_to_caller:
        return None
    sent: Dict[str, Tuple[str, Any]] = {}
    if lifetime is not None:
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 0 <= lifetime <= 0xFFFFFFFF:
            raise InvalidArg(f"lifetime {lifetime!r} is not a number of seconds: use 1-2592000 (30 days)")
        sent["lifetime"] = ("u", lifetime)
    if bind_to_caller:
        sent["bind_to_caller"] = ("b", True)
    return sent


def pair(port: int, protocol: int) -> Tuple[int, int]:
    """Checks what D-Bus itself cannot carry (the daemon checks the rest, e.g. port 0)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise InvalidArg(f"port {port!r} is out of range: use 1-65535")
    if isinstance(protocol, bool) or not isinstance(protocol, int) or not 0 <= protocol <= 0xFFFFFFFF:
        raise InvalidArg(f"protocol {protocol!r} is not supported: use Protocol.TCP or Protocol.UDP")
    return port, int(protocol)


def _method(
    path: str,
    iface: str,
    member: str,
    decode: Callable[[Tuple[Any, ...]], T],
    signature: Optional[str] = None,
    body: Tuple[Any, ...] = (),
) -> Call[T]:
    address = DBusAddress(path, bus_name=BUS_NAME, interface=iface)
    return Call(new_method_call(address, member, signature, body), decode)


def get_property(path: str, iface: str, name: str) -> Call[Any]:
    """``org.freedesktop.DBus.Properties.Get``."""
    address = DBusAddress(path, bus_name=BUS_NAME, interface=iface)
    return Call(Properties(address).get(name), _variant)


def set_property(path: str, iface: str, name: str, signature: str, value: Any) -> Call[None]:
    """``org.freedesktop.DBus.Properties.Set``."""
    address = DBusAddress(path, bus_name=BUS_NAME, interface=iface)
    return Call(Properties(address).set(name, signature, value), _none)


# The manager (org.fw6.Firewall1.Manager).


def _connection_rows(body: Tuple[Any, ...]) -> List[ConnectionInfo]:
    return [
        ConnectionInfo(str(i), str(n), str(f), int(x), bool(w), bool(p), str(o))
        for i, n, f, x, w, p, o in body[0]
    ]


def enumerate_connections() -> Call[List[ConnectionInfo]]:
    return _method(MANAGER_PATH, MANAGER_IFACE, "EnumerateConnections", _connection_rows)


def get_connection(id_or_name: str) -> Call[str]:
    return _method(MANAGER_PATH, MANAGER_IFACE, "GetConnection", _first, "s", (id_or_name,))


def _opening(
    path: str,
    iface: str,
    member: str,
    port: int,
    protocol: int,
    name: str,
    lifetime: Optional[int],
    bind_to_caller: bool,
) -> Call[None]:
    """``member`` (an open), or ``memberWithOptions`` when it is to end on its own."""
    body = (*pair(port, protocol), name)
    sent = _options(lifetime, bind_to_caller)
    if sent is None:
        return _method(path, iface, member, _none, "qus", body)
    return _method(path, iface, f"{member}WithOptions", _none, "qusa{sv}", (*body, sent))


def open_global_port(
    port: int, protocol: int, name: str, lifetime: Optional[int] = None, bind_to_caller: bool = False
) -> Call[None]:
    """``OpenGlobalPort``, or ``OpenGlobalPortWithOptions`` with a lifetime or a binding."""
    return _opening(
        MANAGER_PATH, MANAGER_IFACE, "OpenGlobalPort", port, protocol, name, lifetime, bind_to_caller
    )


def open_port(
    path: str,
    port: int,
    protocol: int,
    name: str,
    lifetime: Optional[int] = None,
    bind_to_caller: bool = False,
) -> Call[None]:
    """``OpenPort`` of the connection at ``path``, or ``OpenPortWithOptions``."""
    return _opening(
        path, CONNECTION_IFACE, "OpenPort", port, protocol, name, lifetime, bind_to_caller
    )


def _leases(body: Tuple[Any, ...]) -> List[Lease]:
    return [
        Lease(str(c), int(p), Protocol(int(proto)), str(n), int(e), str(o), int(pid), str(cmd))
        for c, p, proto, n, e, o, pid, cmd in body[0]
    ]


def leases() -> Call[List[Lease]]:
    return _method(MANAGER_PATH, MANAGER_IFACE, "Leases", _leases)


def close_global_port(port: int, protocol: int) -> Call[None]:
    return _method(MANAGER_PATH, MANAGER_IFACE, "CloseGlobalPort", _none, "qu", pair(port, protocol))


def is_port_globally_open(port: int, protocol: int) -> Call[bool]:
    return _method(
        MANAGER_PATH, MANAGER_IFACE, "IsPortGloballyOpen", _bool, "qu", pair(port, protocol)
    )


def enumerate_globally_open_ports() -> Call[List[PortEntry]]:
    return _method(MANAGER_PATH, MANAGER_IFACE, "EnumerateGloballyOpenPorts", _entries)


def apply(items: Sequence[Tuple[str, str, int, int, str, str]]) -> Call[int]:
    return _method(MANAGER_PATH, MANAGER_IFACE, "Apply", _first, "a(ssquss)", (list(items),))


def _explanation(body: Tuple[Any, ...]) -> Explanation:
    # Three arguments (b, s, s); a struct of them is accepted too.
    if len(body) == 1 and isinstance(body[0], tuple):
        body = body[0]
    allowed, reason, sentence = body
    return Explanation(bool(allowed), str(reason), str(sentence))


def explain(connection: str, port: int, protocol: int) -> Call[Explanation]:
    body = (connection, *pair(port, protocol))
    return _method(MANAGER_PATH, MANAGER_IFACE, "Explain", _explanation, "squ", body)


def _status(body: Tuple[Any, ...]) -> Dict[str, Any]:
    return {str(k): v[1] for k, v in body[0].items()}


def status() -> Call[Dict[str, Any]]:
    return _method(MANAGER_PATH, MANAGER_IFACE, "Status", _status)


# A connection (org.fw6.Firewall1.Connection at `path`).


def connection_method(
    path: str,
    member: str,
    decode: Callable[[Tuple[Any, ...]], T],
    signature: Optional[str] = None,
    body: Tuple[Any, ...] = (),
) -> Call[T]:
    return _method(path, CONNECTION_IFACE, member, decode, signature, body)


def decode_none(body: Tuple[Any, ...]) -> None:
    return _none(body)


def decode_bool(body: Tuple[Any, ...]) -> bool:
    return _bool(body)


def decode_entries(body: Tuple[Any, ...]) -> List[PortEntry]:
    return _entries(body)


def decode_explanation(body: Tuple[Any, ...]) -> Explanation:
    return _explanation(body)
