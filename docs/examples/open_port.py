#!/usr/bin/env python3
"""Open a TCP port on one connection through fw6's D-Bus API, from Python.

Lists the connections, opens PORT/tcp on CONNECTION under our name (the ICF ownership marker:
a pair already open under another name belongs to someone else, and is left alone), then
asks fw6d to explain the verdict. Needs python3-dbus (Debian: apt install python3-dbus).

    python3 docs/examples/open_port.py lan0 9090            # as root, on the system bus
    python3 docs/examples/open_port.py lan0 9090 --close    # close it again (if ours)

In the lab (scripts/lab.sh shell), FW6_BUS_ADDRESS points it at the lab's private bus.
"""

import os
import sys

import dbus

BUS_NAME = "org.fw6.Firewall1"
MANAGER_PATH = "/org/fw6/Firewall1"
TCP = 6  # protocols are IANA numbers on the wire: 6 = TCP, 17 = UDP
OUR_NAME = "python example"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    connection, port = sys.argv[1], dbus.UInt16(int(sys.argv[2]))
    close = "--close" in sys.argv[3:]

    address = os.environ.get("FW6_BUS_ADDRESS")
    bus = dbus.bus.BusConnection(address) if address else dbus.SystemBus()
    manager = dbus.Interface(bus.get_object(BUS_NAME, MANAGER_PATH), "org.fw6.Firewall1.Manager")

    for cid, name, interface, index, firewalled, present, _path in manager.EnumerateConnections():
        print(f"{interface:8} {cid} firewalled={bool(firewalled)} present={bool(present)}")

    path = manager.GetConnection(connection)  # an interface name or an Id
    conn = dbus.Interface(bus.get_object(BUS_NAME, path), "org.fw6.Firewall1.Connection")

    owner = {int(p): str(n) for p, proto, n in conn.EnumerateOpenPorts() if proto == TCP}.get(int(port))
    if close:
        if owner == OUR_NAME:
            conn.ClosePort(port, dbus.UInt32(TCP))
            print(f"closed {port}/tcp on {connection}")
        else:
            print(f"{port}/tcp on {connection} is not ours ({owner!r}); left alone")
    elif owner is None:
        conn.OpenPort(port, dbus.UInt32(TCP), OUR_NAME)
        print(f"opened {port}/tcp on {connection}")
    else:
        print(f"{port}/tcp is already open on {connection}, named {owner!r}")

    allowed, reason, sentence = conn.Explain(port, dbus.UInt32(TCP))
    print(f"explain: {'allowed' if allowed else 'dropped'} ({reason}): {sentence}")


if __name__ == "__main__":
    try:
        main()
    except dbus.exceptions.DBusException as e:
        # e.g. org.fw6.Firewall1.Error.AccessDenied: ... (AccessDenied, 0x80070005)
        sys.exit(f"fw6: {e.get_dbus_name()}: {e.get_dbus_message()}")
