"""The asyncio client: the same members, awaited (no pytest plugin: each test runs a loop)."""

from __future__ import annotations

import asyncio

import pytest

import fw6
import fw6.aio
from fw6 import Protocol

from .conftest import bus


async def members() -> None:
    async with await fw6.aio.Manager.connect(bus()) as manager:
        rows = await manager.enumerate_connections()
        assert "lan0" in {row.interface for row in rows}
        lan = await manager.connection("lan0")
        assert await lan.name() == "lan0"
        assert (await lan.id()).startswith("{")
        assert await lan.interface() == "lan0" and await lan.present()
        await lan.enable_firewall()
        assert await lan.is_firewalled()

        changes = await manager.changes()
        await lan.open_port(27016, Protocol.UDP, "async game")
        assert await lan.is_port_open(27016, Protocol.UDP)
        assert fw6.PortEntry(27016, Protocol.UDP, "async game") in await lan.open_ports()
        change = await changes.next(timeout=10)
        assert change == fw6.Change("PortOpened", "lan0", 27016, 17, "async game")
        changes.close()
        await lan.close_port(27016, Protocol.UDP)
        assert not await lan.is_port_open(27016, Protocol.UDP)

        await manager.open_global_port(6000, Protocol.TCP, "x11")
        assert await manager.is_port_globally_open(6000, Protocol.TCP)
        assert fw6.PortEntry(6000, Protocol.TCP, "x11") in await manager.globally_open_ports()
        await lan.ignore_global_port(6000, Protocol.TCP, "no x11")
        assert await lan.is_global_port_ignored(6000, Protocol.TCP)
        assert len(await lan.ignored_global_ports()) == 1
        assert not (await lan.explain(6000, Protocol.TCP)).allowed
        assert not (await manager.explain("lan0", 6000, Protocol.TCP)).allowed
        await lan.observe_global_port(6000, Protocol.TCP)
        await manager.close_global_port(6000, Protocol.TCP)

        await manager.set_logfile_maximum_size(512)
        assert await manager.logfile_maximum_size() == 512
        await manager.set_logfile_path("/var/log/fw6/aio.log")
        assert await manager.logfile_path() == "/var/log/fw6/aio.log"
        await manager.set_log_dropped_packets(True)
        assert await manager.log_dropped_packets()
        await manager.set_log_dropped_packets(False)
        await manager.set_log_connections(False)
        assert not await manager.log_connections()
        assert await manager.apply(fw6.Batch().open_port("lan0", 7000, Protocol.TCP, "b")) == 1
        assert await manager.apply(fw6.Batch().close_port("lan0", 7000, Protocol.TCP)) == 1
        assert (await manager.status())["table"] == "in-sync"
        await lan.disable_firewall()
        await lan.enable_firewall()

        with pytest.raises(fw6.InvalidArg) as caught:
            await lan.open_port(0, Protocol.TCP, "zero")
        assert caught.value.hresult == 0x80070057

        await lan.open_port(27030, Protocol.UDP, "async match", lifetime=600)
        await manager.open_global_port(27031, Protocol.TCP, "async held", bind_to_caller=True)
        leased = {row.port: row for row in await manager.leases()}
        assert leased[27030].connection == "lan0" and leased[27030].expires_ms > 0
        assert leased[27031].connection == "" and leased[27031].owner.startswith(":")
        await lan.close_port(27030, Protocol.UDP)
        await manager.close_global_port(27031, Protocol.TCP)


def test_members() -> None:
    asyncio.run(members())


def test_unreachable() -> None:
    with pytest.raises(fw6.Unexpected):
        asyncio.run(fw6.aio.Manager.connect("unix:path=/nonexistent/fw6-bus"))
