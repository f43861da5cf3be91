"""Share paho-mqtt's constant property tables between ``Properties`` instances.

paho-mqtt 2.x builds the same three lookup tables (type names, property names, property table)
inside every ``Properties`` object, and it makes one for every MQTT 5 PUBLISH it receives. py-spy
showed that as the largest single cost of the gateway at one reading per message. The tables are
never mutated, so all instances can use one copy: same behaviour (validation, packing, unpacking),
a fraction of the cost. :func:`install` checks that the tables really are identical before
swapping, and does nothing on a paho version where they are not.
"""

from __future__ import annotations

from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_ORIGINAL_INIT = Properties.__init__


def _tables(packet_type: int) -> tuple[Any, Any, Any]:
    fresh = Properties.__new__(Properties)
    _ORIGINAL_INIT(fresh, packet_type)  # type: ignore[no-untyped-call]
    return fresh.types, fresh.names, fresh.properties


def install() -> bool:
    """Make new ``Properties`` share one set of tables; True if installed (idempotent)."""
    if Properties.__init__ is not _ORIGINAL_INIT:
        return True
    shared = _tables(PacketTypes.PUBLISH)
    if any(_tables(kind) != shared for kind in (PacketTypes.CONNECT, PacketTypes.PUBACK)):
        return False  # tables depend on the packet type in this paho version: leave it alone
    types, names, table = shared

    def shared_init(self: Properties, packetType: int) -> None:  # noqa: N803 (paho's name)
        object.__setattr__(self, "packetType", packetType)
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "properties", table)

    Properties.__init__ = shared_init  # type: ignore[method-assign]
    return True
