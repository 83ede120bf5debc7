"""Every error class: raised with the ICF HRESULT, and an unprivileged caller refused by polkitd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

import fw6
from fw6 import Protocol
from fw6._errors import from_dbus

from .conftest import bus


def test_invalid_arguments(manager: fw6.Manager, lan: fw6.Connection) -> None:
    cases: List[Callable[[], object]] = [
        lambda: lan.open_port(0, Protocol.TCP, "zero"),  # refused by the daemon
        lambda: lan.open_port(80, 99, "bad protocol"),
        lambda: lan.open_port(70000, Protocol.TCP, "too big"),  # refused before the bus
        lambda: lan.open_port(80, Protocol.TCP, "x" * 300),
        lambda: manager.connection("nosuch9"),
        lambda: manager.set_logfile_path("relative.log"),
        lambda: manager.set_logfile_maximum_size(0),
        lambda: manager.apply(fw6.Batch().open_port("lan0", 81, Protocol.TCP, "ok").open_port(
            "lan0", 0, Protocol.TCP, "bad")),
    ]
    for case in cases:
        with pytest.raises(fw6.InvalidArg) as caught:
            case()
        assert caught.value.hresult == 0x80070057
        assert isinstance(caught.value, fw6.Error)
        assert str(caught.value)
    # The failed batch changed nothing.
    assert not lan.is_port_open(81, Protocol.TCP)


def test_unreachable_daemon_is_unexpected(tmp_path: Path) -> None:
    with pytest.raises(fw6.Unexpected) as caught:
        fw6.Manager(f"unix:path={tmp_path}/no-bus-here")
    assert caught.value.hresult == 0x8000FFFF
    assert "fw6d" in str(caught.value)


def test_every_class_maps_from_its_dbus_name() -> None:
    expected = {
        "InvalidArg": (fw6.InvalidArg, 0x80070057),
        "AccessDenied": (fw6.AccessDenied, 0x80070005),
        "Aborted": (fw6.Aborted, 0x80004004),
        "Fail": (fw6.Fail, 0x80004005),
        "Unexpected": (fw6.Unexpected, 0x8000FFFF),
        "NotImpl": (fw6.NotImpl, 0x80004001),
    }
    for name, (cls, hresult) in expected.items():
        err = from_dbus(f"org.fw6.Firewall1.Error.{name}", "what happened: do this")
        assert type(err) is cls and err.hresult == hresult and err.class_name == name
    assert type(from_dbus("org.freedesktop.DBus.Error.ServiceUnknown", "")) is fw6.Unexpected
    assert type(from_dbus("org.freedesktop.DBus.Error.AccessDenied", "")) is fw6.AccessDenied


UNPRIVILEGED = """
import sys
import fw6
m = fw6.Manager()
lan = m.connection("lan0")
assert not lan.is_port_open(4444, fw6.Protocol.TCP)  # reads are open to everyone
try:
    lan.open_port(4444, fw6.Protocol.TCP, "sneaky")
except fw6.AccessDenied as e:
    print(hex(e.hresult), e)
    sys.exit(0)
sys.exit(3)
"""


def test_an_unprivileged_caller_is_refused_by_polkit(lan: fw6.Connection) -> None:
    src = str(Path(fw6.__file__).resolve().parent.parent)
    env = {"FW6_BUS_ADDRESS": bus(), "PYTHONPATH": src, "HOME": "/", "PATH": os.environ["PATH"]}
    out = subprocess.run(
        [sys.executable, "-c", UNPRIVILEGED],
        user=65534,
        group=65534,
        extra_groups=[],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("0x80070005"), out.stdout
    assert not lan.is_port_open(4444, Protocol.TCP)


def test_a_change_refused_while_another_waits_is_fail(
    manager: fw6.Manager, lan: fw6.Connection
) -> None:
    """``Fail`` from the daemon itself: while a confirmable change waits, every other change is
    refused (docs/dbus-api.md, "Confirm-or-revert"). The client has no ApplyConfirmable of its
    own, so the test sends it through the package's call plumbing."""
    from fw6 import _core

    def decode(body: Tuple[Any, ...]) -> Tuple[int, str, int]:
        return int(body[0]), str(body[1]), int(body[2])

    items = fw6.Batch().open_port("lan0", 4545, Protocol.TCP, "waits").items
    call = _core._method(
        _core.MANAGER_PATH,
        _core.MANAGER_IFACE,
        "ApplyConfirmable",
        decode,
        "a(ssquss)a{sv}",
        (list(items), {"confirm_within": ("u", 120)}),
    )
    changed, token, _deadline = manager._run(call)
    assert changed == 1 and token
    try:
        with pytest.raises(fw6.Fail) as caught:
            lan.open_port(4546, Protocol.TCP, "behind it")
        assert caught.value.hresult == 0x80004005
        assert token in str(caught.value)
        assert not lan.is_port_open(4546, Protocol.TCP)
    finally:
        revert = _core._method(
            _core.MANAGER_PATH, _core.MANAGER_IFACE, "Revert", _core._none, "s", (token,)
        )
        manager._run(revert)
    assert not lan.is_port_open(4545, Protocol.TCP)
