"""Python client of fw6, the IPv6 host firewall with the model and API of the Windows IPv6
Internet Connection Firewall (ICF). The ICF members in snake case::

    import fw6

    with fw6.Manager() as manager:           # system bus, or FW6_BUS_ADDRESS
        lan = manager.connection("lan0")
        lan.open_port(27015, fw6.Protocol.UDP, "game")
        assert lan.is_port_open(27015, fw6.Protocol.UDP)

``fw6.aio.Manager`` is the asyncio twin. Errors are ``fw6.Error`` subclasses carrying the ICF
``hresult``. Pure Python over jeepney (README.md says why).
"""

from ._batch import Batch
from ._core import (
    BUS_ADDRESS_ENV,
    Change,
    ConnectionInfo,
    Explanation,
    Lease,
    PortEntry,
    Protocol,
)
from ._errors import (
    Aborted,
    AccessDenied,
    Error,
    Fail,
    InvalidArg,
    NotImpl,
    Unexpected,
)
from ._sync import Changes, Connection, Manager

__all__ = [
    "BUS_ADDRESS_ENV",
    "Aborted",
    "AccessDenied",
    "Batch",
    "Change",
    "Changes",
    "Connection",
    "ConnectionInfo",
    "Error",
    "Explanation",
    "Fail",
    "InvalidArg",
    "Lease",
    "Manager",
    "NotImpl",
    "PortEntry",
    "Protocol",
    "Unexpected",
]
__version__ = "0.1.0"
