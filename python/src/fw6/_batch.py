"""A builder for one atomic ``Apply``: all of its changes happen, or none (docs/dbus-api.md)."""

from __future__ import annotations

from typing import List, Tuple

from ._core import pair

Item = Tuple[str, str, int, int, str, str]


class Batch:
    """Collects state-changing members; ``manager.apply(batch)`` sends them as one transaction
    and returns the number of effective changes. Methods return the batch, so calls chain."""

    def __init__(self) -> None:
        self.items: List[Item] = []

    def _add(self, member: str, connection: str = "", port: int = 0, protocol: int = 0,
             name: str = "", value: str = "") -> "Batch":
        if port or protocol:
            port, protocol = pair(port, protocol)
        self.items.append((member, connection, port, protocol, name, value))
        return self

    def open_global_port(self, port: int, protocol: int, name: str) -> "Batch":
        """``OpenGlobalPort``."""
        return self._add("OpenGlobalPort", "", port, protocol, name)

    def close_global_port(self, port: int, protocol: int) -> "Batch":
        """``CloseGlobalPort``."""
        return self._add("CloseGlobalPort", "", port, protocol)

    def enable_firewall(self, connection: str) -> "Batch":
        """``EnableFirewall`` on a connection (interface name or Id)."""
        return self._add("EnableFirewall", connection)

    def disable_firewall(self, connection: str) -> "Batch":
        """``DisableFirewall``."""
        return self._add("DisableFirewall", connection)

    def open_port(self, connection: str, port: int, protocol: int, name: str) -> "Batch":
        """``OpenPort``."""
        return self._add("OpenPort", connection, port, protocol, name)

    def close_port(self, connection: str, port: int, protocol: int) -> "Batch":
        """``ClosePort``."""
        return self._add("ClosePort", connection, port, protocol)

    def ignore_global_port(self, connection: str, port: int, protocol: int, name: str) -> "Batch":
        """``IgnoreGlobalPort``."""
        return self._add("IgnoreGlobalPort", connection, port, protocol, name)

    def observe_global_port(self, connection: str, port: int, protocol: int) -> "Batch":
        """``ObserveGlobalPort``."""
        return self._add("ObserveGlobalPort", connection, port, protocol)

    def set_logfile_path(self, path: str) -> "Batch":
        """``put_LogfilePath``."""
        return self._add("LogfilePath", value=path)

    def set_logfile_maximum_size(self, kib: int) -> "Batch":
        """``put_LogfileMaximumSize`` (KiB)."""
        return self._add("LogfileMaximumSize", value=str(kib))

    def set_log_dropped_packets(self, enabled: bool) -> "Batch":
        """``put_LogDroppedPackets``."""
        return self._add("LogDroppedPackets", value="true" if enabled else "false")

    def set_log_connections(self, enabled: bool) -> "Batch":
        """``put_LogConnections``."""
        return self._add("LogConnections", value="true" if enabled else "false")
