"""Shared paho property tables: same packing, same validation, one copy."""

from __future__ import annotations

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import MQTTException, Properties

from ingest import paho_tables


def test_shared_tables_pack_unpack_and_validate_as_before() -> None:
    before = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    before.UserProperty = ("site", "site-1")
    before.MessageExpiryInterval = 60
    packed = before.pack()  # type: ignore[no-untyped-call]
    assert paho_tables.install()
    assert paho_tables.install()  # idempotent

    one, two = Properties(PacketTypes.PUBLISH), Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    assert one.names is two.names
    assert one.properties is two.properties
    one.UserProperty = ("site", "site-1")
    one.MessageExpiryInterval = 60
    assert one.pack() == packed  # type: ignore[no-untyped-call]
    back = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    back.unpack(packed)  # type: ignore[no-untyped-call]
    assert back.UserProperty == [("site", "site-1")]
    assert back.MessageExpiryInterval == 60
    with pytest.raises(MQTTException):
        one.SessionExpiryInterval = 5  # a CONNECT property on a PUBLISH: still refused
    with pytest.raises(MQTTException):
        two.ReceiveMaximum = 0  # still range-checked
