"""The blocking client: ``fw6.Manager`` and ``fw6.Connection``."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar

from jeepney import MatchRule, message_bus
from jeepney.io.blocking import open_dbus_connection

from . import _core
from ._batch import Batch
from ._core import (
    CONNECTION_IFACE,
    MANAGER_IFACE,
    MANAGER_PATH,
    Call,
    Change,
    ConnectionInfo,
    Explanation,
    Lease,
    PortEntry,
)
from ._errors import Error, InvalidArg, Unexpected, unreachable

T = TypeVar("T")

#: How long one call may take before it fails with ``Unexpected`` (polkit may ask a person).
DEFAULT_TIMEOUT = 120.0


def _changed_rule() -> Any:
    return MatchRule(type="signal", path=MANAGER_PATH, interface=MANAGER_IFACE, member="Changed")


def decode_change(body: Tuple[Any, ...]) -> Change:
    """A ``Changed`` signal's body: five arguments, or one struct of them."""
    if len(body) == 1 and isinstance(body[0], tuple):
        body = body[0]
    change, interface, port, protocol, name = body
    return Change(str(change), str(interface), int(port), int(protocol), str(name))


def connect_error(address: str, err: BaseException) -> Error:
    """What a failure to open the bus means for the caller."""
    if isinstance(err, (ValueError, RuntimeError, KeyError)):
        return InvalidArg(
            f"the bus address {address!r} is not valid ({err}): use e.g. "
            "unix:path=/run/dbus/system_bus_socket"
        )
    return unreachable(f"the bus at {address}", err)


class Manager:
    """``INetFwV6Mgr``: connects to fw6d on the system bus, or on ``address``, or on the bus in
    ``FW6_BUS_ADDRESS``. One manager is one bus connection; use it from one thread at a time.
    A context manager: ``with fw6.Manager() as m: ...`` closes the connection."""

    def __init__(self, address: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        where = _core.bus_address(address)
        try:
            self._conn: Any = open_dbus_connection(where)
        except Exception as err:  # jeepney raises OSError, ValueError, RuntimeError, KeyError
            raise connect_error(where, err) from err
        self._timeout = timeout

    def _run(self, call: Call[T]) -> T:
        try:
            reply = self._conn.send_and_get_reply(call.message, timeout=self._timeout)
        except TimeoutError as err:
            raise Unexpected(f"fw6d did not answer within {self._timeout} s: is it running?") from err
        except OSError as err:
            raise unreachable("the bus", err) from err
        return call.decode(_core.reply_body(reply))

    def close(self) -> None:
        """Closes the bus connection."""
        self._conn.close()

    def __enter__(self) -> "Manager":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def enumerate_connections(self) -> List[ConnectionInfo]:
        """``EnumerateConnections`` / ``Connections``: a snapshot of every connection."""
        return self._run(_core.enumerate_connections())

    def connection(self, id_or_name: str) -> "Connection":
        """``GetConnection``: by Id (``{GUID}``) or interface name; ``InvalidArg`` if unknown."""
        return Connection(self, self._run(_core.get_connection(id_or_name)))

    get_connection = connection

    def open_global_port(
        self,
        port: int,
        protocol: int,
        name: str,
        *,
        lifetime: Optional[int] = None,
        bind_to_caller: bool = False,
    ) -> None:
        """``OpenGlobalPort``: re-opening is no error and keeps the first name. With
        ``lifetime`` (seconds) or ``bind_to_caller`` (closed when this manager's bus connection
        closes: ``close()``, exit, crash), ``OpenGlobalPortWithOptions``: it ends on its own."""
        self._run(_core.open_global_port(port, protocol, name, lifetime, bind_to_caller))

    def close_global_port(self, port: int, protocol: int) -> None:
        """``CloseGlobalPort``."""
        self._run(_core.close_global_port(port, protocol))

    def is_port_globally_open(self, port: int, protocol: int) -> bool:
        """``IsPortGloballyOpen``."""
        return self._run(_core.is_port_globally_open(port, protocol))

    def enumerate_globally_open_ports(self) -> List[PortEntry]:
        """``EnumerateGloballyOpenPorts`` / ``GloballyOpenPorts``: a snapshot."""
        return self._run(_core.enumerate_globally_open_ports())

    globally_open_ports = enumerate_globally_open_ports

    def leases(self) -> List[Lease]:
        """``Leases``: every opening that ends on its own."""
        return self._run(_core.leases())

    def logfile_path(self) -> str:
        """``get_LogfilePath``."""
        return str(self._run(_core.get_property(MANAGER_PATH, MANAGER_IFACE, "LogfilePath")))

    def set_logfile_path(self, path: str) -> None:
        """``put_LogfilePath``: an absolute path."""
        self._run(_core.set_property(MANAGER_PATH, MANAGER_IFACE, "LogfilePath", "s", path))

    def logfile_maximum_size(self) -> int:
        """``get_LogfileMaximumSize``, KiB."""
        return int(self._run(_core.get_property(MANAGER_PATH, MANAGER_IFACE, "LogfileMaximumSize")))

    def set_logfile_maximum_size(self, kib: int) -> None:
        """``put_LogfileMaximumSize``, KiB, 1-32767."""
        if not 0 <= kib <= 0xFFFFFFFF:
            raise InvalidArg(f"log file maximum size {kib} KiB is out of range: use 1-32767 KiB")
        self._run(_core.set_property(MANAGER_PATH, MANAGER_IFACE, "LogfileMaximumSize", "u", kib))

    def log_dropped_packets(self) -> bool:
        """``get_LogDroppedPackets``."""
        return bool(self._run(_core.get_property(MANAGER_PATH, MANAGER_IFACE, "LogDroppedPackets")))

    def set_log_dropped_packets(self, enabled: bool) -> None:
        """``put_LogDroppedPackets``."""
        self._run(
            _core.set_property(MANAGER_PATH, MANAGER_IFACE, "LogDroppedPackets", "b", enabled)
        )

    def log_connections(self) -> bool:
        """``get_LogConnections``."""
        return bool(self._run(_core.get_property(MANAGER_PATH, MANAGER_IFACE, "LogConnections")))

    def set_log_connections(self, enabled: bool) -> None:
        """``put_LogConnections``."""
        self._run(_core.set_property(MANAGER_PATH, MANAGER_IFACE, "LogConnections", "b", enabled))

    def apply(self, batch: Batch) -> int:
        """One atomic ``Apply`` of the batch; the number of effective changes."""
        return int(self._run(_core.apply(batch.items)))

    def explain(self, connection: str, port: int, protocol: int) -> Explanation:
        """``Explain``: whether an unsolicited inbound packet to the pair passes, and why."""
        return self._run(_core.explain(connection, port, protocol))

    def status(self) -> Dict[str, Any]:
        """``Status()``: the daemon's health and counts."""
        return self._run(_core.status())

    def changes(self) -> "Changes":
        """A subscription to ``Changed`` signals from now on (a context manager)."""
        return Changes(self)


class Changes:
    """``Changed`` signals, from the subscription on. ``next(timeout)`` waits for one."""

    def __init__(self, manager: Manager) -> None:
        self._manager = manager
        rule = _changed_rule()
        self._filter: Any = manager._conn.filter(rule, bufsize=4096)
        manager._run(Call(message_bus.AddMatch(rule), _core.decode_none))

    def next(self, timeout: float) -> Optional[Change]:
        """The next change, or ``None`` if none came within ``timeout`` seconds."""
        try:
            msg = self._manager._conn.recv_until_filtered(self._filter.queue, timeout=timeout)
        except TimeoutError:
            return None
        return decode_change(tuple(msg.body))

    def close(self) -> None:
        """Ends the subscription."""
        self._filter.close()

    def __enter__(self) -> "Changes":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class Connection:
    """``INetFwV6Connection``: one connection; its properties are read live on each call."""

    def __init__(self, manager: Manager, path: str) -> None:
        self._manager = manager
        #: The D-Bus object path.
        self.path = path

    def _get(self, name: str) -> Any:
        return self._manager._run(_core.get_property(self.path, CONNECTION_IFACE, name))

    def _call(self, call: Call[T]) -> T:
        return self._manager._run(call)

    def id(self) -> str:
        """``get_Id``: the braced upper-case GUID."""
        return str(self._get("Id"))

    def name(self) -> str:
        """``get_Name``: the interface alias if set, else the interface name."""
        return str(self._get("Name"))

    def interface(self) -> str:
        """The kernel interface name."""
        return str(self._get("Interface"))

    def present(self) -> bool:
        """Whether the interface exists now."""
        return bool(self._get("Present"))

    def is_firewalled(self) -> bool:
        """``get_IsFirewalled``."""
        return bool(self._get("IsFirewalled"))

    def enable_firewall(self) -> None:
        """``EnableFirewall``."""
        self._call(_core.connection_method(self.path, "EnableFirewall", _core.decode_none))

    def disable_firewall(self) -> None:
        """``DisableFirewall``."""
        self._call(_core.connection_method(self.path, "DisableFirewall", _core.decode_none))

    def open_port(
        self,
        port: int,
        protocol: int,
        name: str,
        *,
        lifetime: Optional[int] = None,
        bind_to_caller: bool = False,
    ) -> None:
        """``OpenPort``: re-opening is no error and keeps the first name. With ``lifetime``
        or ``bind_to_caller``, ``OpenPortWithOptions`` (see ``Manager.open_global_port``)."""
        self._call(_core.open_port(self.path, port, protocol, name, lifetime, bind_to_caller))

    def close_port(self, port: int, protocol: int) -> None:
        """``ClosePort``."""
        body = _core.pair(port, protocol)
        self._call(_core.connection_method(self.path, "ClosePort", _core.decode_none, "qu", body))

    def is_port_open(self, port: int, protocol: int) -> bool:
        """``IsPortOpen``: this connection's own set only."""
        body = _core.pair(port, protocol)
        return self._call(
            _core.connection_method(self.path, "IsPortOpen", _core.decode_bool, "qu", body)
        )

    def enumerate_open_ports(self) -> List[PortEntry]:
        """``EnumerateOpenPorts`` / ``OpenPorts``: a snapshot."""
        return self._call(
            _core.connection_method(self.path, "EnumerateOpenPorts", _core.decode_entries)
        )

    open_ports = enumerate_open_ports

    def ignore_global_port(self, port: int, protocol: int, name: str) -> None:
        """``IgnoreGlobalPort``."""
        body = (*_core.pair(port, protocol), name)
        self._call(
            _core.connection_method(self.path, "IgnoreGlobalPort", _core.decode_none, "qus", body)
        )

    def observe_global_port(self, port: int, protocol: int) -> None:
        """``ObserveGlobalPort``."""
        body = _core.pair(port, protocol)
        self._call(
            _core.connection_method(self.path, "ObserveGlobalPort", _core.decode_none, "qu", body)
        )

    def is_global_port_ignored(self, port: int, protocol: int) -> bool:
        """``IsGlobalPortIgnored``."""
        body = _core.pair(port, protocol)
        return self._call(
            _core.connection_method(self.path, "IsGlobalPortIgnored", _core.decode_bool, "qu", body)
        )

    def enumerate_ignored_global_ports(self) -> List[PortEntry]:
        """``EnumerateIgnoredGlobalPorts`` / ``IgnoredGlobalPorts``: a snapshot."""
        return self._call(
            _core.connection_method(self.path, "EnumerateIgnoredGlobalPorts", _core.decode_entries)
        )

    ignored_global_ports = enumerate_ignored_global_ports

    def explain(self, port: int, protocol: int) -> Explanation:
        """``Explain`` for this connection."""
        body = _core.pair(port, protocol)
        return self._call(
            _core.connection_method(self.path, "Explain", _core.decode_explanation, "qu", body)
        )
