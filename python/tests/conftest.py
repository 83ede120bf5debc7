"""The suite runs against a real fw6d on a private bus, started by the Rust harness
crates/fw6-capi/tests/python.rs (a namespace lab with connections lan0 and wan0, and the real
polkitd), which passes the bus in FW6_BUS_ADDRESS. Without it every test fails loudly."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

import fw6


def bus() -> str:
    address = os.environ.get(fw6.BUS_ADDRESS_ENV)
    if not address:
        pytest.fail(
            "FW6_BUS_ADDRESS is not set: run the suite through "
            "`cargo test -p fw6-capi --test python` (it starts fw6d in a lab)"
        )
    return address


@pytest.fixture
def manager() -> Iterator[fw6.Manager]:
    with fw6.Manager(bus()) as m:
        yield m


@pytest.fixture
def lan(manager: fw6.Manager) -> fw6.Connection:
    return manager.connection("lan0")
