"""Every member through the blocking client, against the real daemon."""

from __future__ import annotations

import os
import time

import pytest

import fw6
from fw6 import Protocol

from .conftest import bus


def test_connections(manager: fw6.Manager) -> None:
    rows = manager.enumerate_connections()
    names = {row.interface for row in rows}
    assert {"lan0", "wan0"} <= names
    lan = next(row for row in rows if row.interface == "lan0")
    assert lan.id.startswith("{") and len(lan.id) == 38
    assert lan.present
    by_id = manager.connection(lan.id)
    by_name = manager.get_connection("lan0")
    assert by_id.path == by_name.path == lan.path
    assert by_id.id() == lan.id
    assert by_id.name() == "lan0"
    assert by_id.interface() == "lan0"
    assert by_id.present()


def test_firewall_on_and_off(lan: fw6.Connection) -> None:
    lan.enable_firewall()
    lan.enable_firewall()
    assert lan.is_firewalled()
    lan.disable_firewall()
    assert not lan.is_firewalled()
    lan.enable_firewall()
    assert lan.is_firewalled()


def test_ports_of_a_connection(lan: fw6.Connection) -> None:
    lan.open_port(27015, Protocol.UDP, "game")
    lan.open_port(27015, Protocol.UDP, "another")  # no error; the first name stays
    assert lan.is_port_open(27015, Protocol.UDP)
    assert not lan.is_port_open(27015, Protocol.TCP)
    entries = lan.enumerate_open_ports()
    assert fw6.PortEntry(27015, Protocol.UDP, "game") in entries
    assert lan.open_ports() == entries
    lan.close_port(27015, Protocol.UDP)
    lan.close_port(27015, Protocol.UDP)
    assert not lan.is_port_open(27015, Protocol.UDP)
    assert all(e.port != 27015 for e in lan.enumerate_open_ports())


def test_global_ports_and_ignores(manager: fw6.Manager, lan: fw6.Connection) -> None:
    manager.open_global_port(5353, Protocol.UDP, "mdns")
    assert manager.is_port_globally_open(5353, Protocol.UDP)
    assert fw6.PortEntry(5353, Protocol.UDP, "mdns") in manager.enumerate_globally_open_ports()
    assert manager.globally_open_ports() == manager.enumerate_globally_open_ports()
    assert lan.explain(5353, Protocol.UDP).allowed

    lan.ignore_global_port(5353, Protocol.UDP, "not here")
    assert lan.is_global_port_ignored(5353, Protocol.UDP)
    assert lan.enumerate_ignored_global_ports() == [fw6.PortEntry(5353, Protocol.UDP, "not here")]
    assert lan.ignored_global_ports() == lan.enumerate_ignored_global_ports()
    verdict = manager.explain("lan0", 5353, Protocol.UDP)
    assert not verdict.allowed and verdict.reason == "global-ignored" and verdict.sentence
    lan.observe_global_port(5353, Protocol.UDP)
    assert not lan.is_global_port_ignored(5353, Protocol.UDP)

    manager.close_global_port(5353, Protocol.UDP)
    assert not manager.is_port_globally_open(5353, Protocol.UDP)


def test_logging_settings(manager: fw6.Manager) -> None:
    manager.set_logfile_path("/var/log/fw6/python.log")
    assert manager.logfile_path() == "/var/log/fw6/python.log"
    manager.set_logfile_maximum_size(2048)
    assert manager.logfile_maximum_size() == 2048
    for value in (True, False):
        manager.set_log_dropped_packets(value)
        assert manager.log_dropped_packets() is value
        manager.set_log_connections(value)
        assert manager.log_connections() is value


def test_apply_is_one_batch(manager: fw6.Manager, lan: fw6.Connection) -> None:
    batch = (
        fw6.Batch()
        .open_port("lan0", 8080, Protocol.TCP, "web")
        .open_port("lan0", 8443, Protocol.TCP, "web tls")
        .open_global_port(9000, Protocol.UDP, "metrics")
    )
    assert manager.apply(batch) == 3
    assert lan.is_port_open(8080, Protocol.TCP) and lan.is_port_open(8443, Protocol.TCP)
    undo = (
        fw6.Batch()
        .close_port("lan0", 8080, Protocol.TCP)
        .close_port("lan0", 8443, Protocol.TCP)
        .close_global_port(9000, Protocol.UDP)
        .set_log_connections(False)
    )
    assert manager.apply(undo) == 3
    assert not lan.is_port_open(8080, Protocol.TCP)


def test_status(manager: fw6.Manager) -> None:
    status = manager.status()
    assert status["table"] == "in-sync"
    assert status["connections"] >= 2


def test_change_notifications(manager: fw6.Manager, lan: fw6.Connection) -> None:
    with manager.changes() as changes:
        lan.open_port(4711, Protocol.TCP, "watched")
        change = changes.next(timeout=10)
        lan.close_port(4711, Protocol.TCP)
        closed = changes.next(timeout=10)
    assert change == fw6.Change("PortOpened", "lan0", 4711, 6, "watched")
    assert closed is not None and closed.change == "PortClosed"


def test_openings_that_end_on_their_own(manager: fw6.Manager, lan: fw6.Connection) -> None:
    before_ms = time.time() * 1000
    lan.open_port(27020, Protocol.UDP, "match", lifetime=600)
    manager.open_global_port(27021, Protocol.TCP, "lobby", lifetime=600)
    after_ms = time.time() * 1000
    rows = {(row.connection, row.port): row for row in manager.leases()}
    timed = rows[("lan0", 27020)]
    assert (timed.protocol, timed.name, timed.owner) == (Protocol.UDP, "match", "")
    assert before_ms + 599_000 <= timed.expires_ms <= after_ms + 601_000
    assert rows[("", 27021)].expires_ms > 0
    assert lan.is_port_open(27020, Protocol.UDP)

    # Bound to the caller: closed when the manager that opened it closes its bus connection.
    with fw6.Manager(bus()) as holder:
        holder.connection("lan0").open_port(27022, Protocol.TCP, "held", bind_to_caller=True)
        held = next(row for row in manager.leases() if row.port == 27022)
        assert held.owner.startswith(":") and held.expires_ms == 0
        assert held.owner_pid == os.getpid()
        assert lan.is_port_open(27022, Protocol.TCP)
    deadline = time.monotonic() + 10
    while lan.is_port_open(27022, Protocol.TCP):
        assert time.monotonic() < deadline, "closing the manager closes its bound opening"
        time.sleep(0.05)
    assert all(row.port != 27022 for row in manager.leases())

    with pytest.raises(fw6.InvalidArg) as caught:
        lan.open_port(27023, Protocol.UDP, "never", lifetime=0)
    assert caught.value.hresult == 0x80070057
    with pytest.raises(fw6.InvalidArg):
        lan.open_port(27023, Protocol.UDP, "never", lifetime=-1)
    assert not lan.is_port_open(27023, Protocol.UDP)
    lan.close_port(27020, Protocol.UDP)
    manager.close_global_port(27021, Protocol.TCP)
    assert all(row.port not in (27020, 27021) for row in manager.leases())
