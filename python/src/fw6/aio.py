"""The asyncio client: ``fw6.aio.Manager`` and ``fw6.aio.Connection``, the same members as the
blocking ones, awaited::

    async with await fw6.aio.Manager.connect() as manager:
        lan = await manager.connection("lan0")
        await lan.open_port(27015, fw6.Protocol.UDP, "game")
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Dict, List, Optional, Type, TypeVar

from jeepney import message_bus
from jeepney.io.asyncio import DBusRouter, open_dbus_connection

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
from ._errors import Unexpected, unreachable
from ._sync import DEFAULT_TIMEOUT, _changed_rule, connect_error, decode_change

T = TypeVar("T")

__all__ = ["Changes", "Connection", "Manager"]


class Manager:
    """``INetFwV6Mgr`` for asyncio. Create it with ``await Manager.connect(address=None)``."""

    def __init__(self, conn: Any, router: Any, timeout: float) -> None:
        self._conn = conn
        self._router = router
        self._timeout = timeout

    @classmethod
    async def connect(
        cls, address: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> "Manager":
        """Connects on the system bus, ``address``, or the bus in ``FW6_BUS_ADDRESS``."""
        where = _core.bus_address(address)
        try:
            conn = await open_dbus_connection(where)
        except Exception as err:  # jeepney raises OSError, ValueError, RuntimeError, KeyError
            raise connect_error(where, err) from err
        return cls(conn, DBusRouter(conn), timeout)

    async def _run(self, call: Call[T]) -> T:
        try:
            reply = await asyncio.wait_for(
                self._router.send_and_get_reply(call.message), self._timeout
            )
        except asyncio.TimeoutError as err:
            raise Unexpected(f"fw6d did not answer within {self._timeout} s: is it running?") from err
        except OSError as err:
            raise unreachable("the bus", err) from err
        return call.decode(_core.reply_body(reply))

    async def close(self) -> None:
        """Closes the bus connection."""
        await self._router.__aexit__(None, None, None)
        await self._conn.close()

    async def __aenter__(self) -> "Manager":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    async def enumerate_connections(self) -> List[ConnectionInfo]:
        """``EnumerateConnections`` / ``Connections``."""
        return await self._run(_core.enumerate_connections())

    async def connection(self, id_or_name: str) -> "Connection":
        """``GetConnection``."""
        return Connection(self, await self._run(_core.get_connection(id_or_name)))

    get_connection = connection

    async def open_global_port(
        self,
        port: int,
        protocol: int,
        name: str,
        *,
        lifetime: Optional[int] = None,
        bind_to_caller: bool = False,
    ) -> None:
        """``OpenGlobalPort``, or ``OpenGlobalPortWithOptions`` (see the blocking client)."""
        await self._run(_core.open_global_port(port, protocol, name, lifetime, bind_to_caller))

    async def leases(self) -> List[Lease]:
        """``Leases``: every opening that ends on its own."""
        return await self._run(_core.leases())

    async def close_global_port(self, port: int, protocol: int) -> None:
        """``CloseGlobalPort``."""
        await self._run(_core.close_global_port(port, protocol))

    async def is_port_globally_open(self, port: int, protocol: int) -> bool:
        """``IsPortGloballyOpen``."""
        return await self._run(_core.is_port_globally_open(port, protocol))

    async def enumerate_globally_open_ports(self) -> List[PortEntry]:
        """``EnumerateGloballyOpenPorts`` / ``GloballyOpenPorts``."""
        return await self._run(_core.enumerate_globally_open_ports())

    globally_open_ports = enumerate_globally_open_ports

    async def _get(self, name: str) -> Any:
        return await self._run(_core.get_property(MANAGER_PATH, MANAGER_IFACE, name))

    async def _set(self, name: str, signature: str, value: Any) -> None:
        await self._run(_core.set_property(MANAGER_PATH, MANAGER_IFACE, name, signature, value))

    async def logfile_path(self) -> str:
        """``get_LogfilePath``."""
        return str(await self._get("LogfilePath"))

    async def set_logfile_path(self, path: str) -> None:
        """``put_LogfilePath``."""
        await self._set("LogfilePath", "s", path)

    async def logfile_maximum_size(self) -> int:
        """``get_LogfileMaximumSize``, KiB."""
        return int(await self._get("LogfileMaximumSize"))

    async def set_logfile_maximum_size(self, kib: int) -> None:
        """``put_LogfileMaximumSize``, KiB."""
        await self._set("LogfileMaximumSize", "u", kib)

    async def log_dropped_packets(self) -> bool:
        """``get_LogDroppedPackets``."""
        return bool(await self._get("LogDroppedPackets"))

    async def set_log_dropped_packets(self, enabled: bool) -> None:
        """``put_LogDroppedPackets``."""
        await self._set("LogDroppedPackets", "b", enabled)

    async def log_connections(self) -> bool:
        """``get_LogConnections``."""
        return bool(await self._get("LogConnections"))

    async def set_log_connections(self, enabled: bool) -> None:
        """``put_LogConnections``."""
        await self._set("LogConnections", "b", enabled)

    async def apply(self, batch: Batch) -> int:
        """One atomic ``Apply``; the number of effective changes."""
        changed: int = await self._run(_core.apply(batch.items))
        return changed

    async def explain(self, connection: str, port: int, protocol: int) -> Explanation:
        """``Explain``."""
        return await self._run(_core.explain(connection, port, protocol))

    async def status(self) -> Dict[str, Any]:
        """``Status()``."""
        return await self._run(_core.status())

    async def changes(self) -> "Changes":
        """A subscription to ``Changed`` signals from now on."""
        rule = _changed_rule()
        handle = self._router.filter(rule, queue=asyncio.Queue(4096))
        await self._run(Call(message_bus.AddMatch(rule), _core.decode_none))
        return Changes(handle)


class Changes:
    """``Changed`` signals from the subscription on."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def next(self, timeout: float) -> Optional[Change]:
        """The next change, or ``None`` if none came within ``timeout`` seconds."""
        try:
            msg = await asyncio.wait_for(self._handle.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        return decode_change(tuple(msg.body))

    def close(self) -> None:
        """Ends the subscription."""
        self._handle.close()


class Connection:
    """``INetFwV6Connection`` for asyncio."""

    def __init__(self, manager: Manager, path: str) -> None:
        self._manager = manager
        #: The D-Bus object path.
        self.path = path

    async def _get(self, name: str) -> Any:
        return await self._manager._run(_core.get_property(self.path, CONNECTION_IFACE, name))

    async def _call(self, call: Call[T]) -> T:
        return await self._manager._run(call)

    async def id(self) -> str:
        """``get_Id``."""
        return str(await self._get("Id"))

    async def name(self) -> str:
        """``get_Name``."""
        return str(await self._get("Name"))

    async def interface(self) -> str:
        """The kernel interface name."""
        return str(await self._get("Interface"))

    async def present(self) -> bool:
        """Whether the interface exists now."""
        return bool(await self._get("Present"))

    async def is_firewalled(self) -> bool:
        """``get_IsFirewalled``."""
        return bool(await self._get("IsFirewalled"))

    async def enable_firewall(self) -> None:
        """``EnableFirewall``."""
        await self._call(_core.connection_method(self.path, "EnableFirewall", _core.decode_none))

    async def disable_firewall(self) -> None:
        """``DisableFirewall``."""
        await self._call(_core.connection_method(self.path, "DisableFirewall", _core.decode_none))

    async def open_port(
        self,
        port: int,
        protocol: int,
        name: str,
        *,
        lifetime: Optional[int] = None,
        bind_to_caller: bool = False,
    ) -> None:
        """``OpenPort``, or ``OpenPortWithOptions`` (see the blocking client)."""
        await self._call(_core.open_port(self.path, port, protocol, name, lifetime, bind_to_caller))

    async def close_port(self, port: int, protocol: int) -> None:
        """``ClosePort``."""
        body = _core.pair(port, protocol)
        await self._call(
            _core.connection_method(self.path, "ClosePort", _core.decode_none, "qu", body)
        )

    async def is_port_open(self, port: int, protocol: int) -> bool:
        """``IsPortOpen``."""
        body = _core.pair(port, protocol)
        return await self._call(
            _core.connection_method(self.path, "IsPortOpen", _core.decode_bool, "qu", body)
        )

    async def enumerate_open_ports(self) -> List[PortEntry]:
        """``EnumerateOpenPorts`` / ``OpenPorts``."""
        return await self._call(
            _core.connection_method(self.path, "EnumerateOpenPorts", _core.decode_entries)
        )

    open_ports = enumerate_open_ports

    async def ignore_global_port(self, port: int, protocol: int, name: str) -> None:
        """``IgnoreGlobalPort``."""
        body = (*_core.pair(port, protocol), name)
        await self._call(
            _core.connection_method(self.path, "IgnoreGlobalPort", _core.decode_none, "qus", body)
        )

    async def observe_global_port(self, port: int, protocol: int) -> None:
        """``ObserveGlobalPort``."""
        body = _core.pair(port, protocol)
        await self._call(
            _core.connection_method(self.path, "ObserveGlobalPort", _core.decode_none, "qu", body)
        )

    async def is_global_port_ignored(self, port: int, protocol: int) -> bool:
        """``IsGlobalPortIgnored``."""
        body = _core.pair(port, protocol)
        return await self._call(
            _core.connection_method(self.path, "IsGlobalPortIgnored", _core.decode_bool, "qu", body)
        )

    async def enumerate_ignored_global_ports(self) -> List[PortEntry]:
        """``EnumerateIgnoredGlobalPorts`` / ``IgnoredGlobalPorts``."""
        return await self._call(
            _core.connection_method(self.path, "EnumerateIgnoredGlobalPorts", _core.decode_entries)
        )

    ignored_global_ports = enumerate_ignored_global_ports

    async def explain(self, port: int, protocol: int) -> Explanation:
        """``Explain`` for this connection."""
        body = _core.pair(port, protocol)
        return await self._call(
            _core.connection_method(self.path, "Explain", _core.decode_explanation, "qu", body)
        )
