"""From readings to MQTT messages: per-asset batching and optional injected faults.

Pure: readings (dicts of the contract) in, :class:`Message` out. Injected faults are *added* to
the stream (a malformed copy, a repeated message, a message held back behind the next one of the
same asset), so the valid readings of a run are the same with or without faults, and the
ground truth can say exactly what the gateway should have done with each injected message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import orjson

from forewarn.contracts.dead_letter import GatewayReason


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message to publish.

    Attributes:
        site: the publishing site (its MQTT user).
        asset_id: the asset in the topic.
        payload: the bytes to publish.
        ts_ms: event time of its last reading (what the publisher paces on).
        readings: valid readings it carries (0 for an injected malformed message).
        kind: ``ok``, ``duplicate``, ``out_of_order`` or ``malformed:<expected reason>``.
    """

    site: str
    asset_id: str
    payload: bytes
    ts_ms: int
    readings: int
    kind: str = "ok"


def batches(readings: Iterable[tuple[str, dict[str, Any]]], batch: int) -> Iterator[Message]:
    """Group each asset's consecutive readings into messages of ``batch`` (a lone reading is an object).

    Args:
        readings: (site, reading dict) pairs in time order.
        batch: readings per message; the last message of an asset may hold fewer.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    pending: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for site, reading in readings:
        asset = reading["asset_id"]
        buffer = pending.setdefault(asset, (site, []))[1]
        buffer.append(reading)
        if len(buffer) >= batch:
            yield _message(site, asset, buffer)
            pending[asset] = (site, [])
    for asset, (site, buffer) in pending.items():
        if buffer:
            yield _message(site, asset, buffer)


def _message(site: str, asset: str, readings: list[dict[str, Any]]) -> Message:
    payload = orjson.dumps(readings[0] if len(readings) == 1 else readings)
    return Message(site, asset, payload, int(readings[-1]["ts"]), len(readings))


@dataclass(frozen=True)
class FaultRates:
    """Shares of messages that get an injected companion (each 0..1)."""

    malformed: float = 0.0
    duplicate: float = 0.0
    out_of_order: float = 0.0

    def any(self) -> bool:
        return self.malformed > 0 or self.duplicate > 0 or self.out_of_order > 0


# Each corruption and the reason the gateway must give it.
def _corruptions(message: Message, first: dict[str, Any]) -> list[tuple[GatewayReason, bytes]]:
    return [
        (GatewayReason.MALFORMED_JSON, message.payload[: max(1, len(message.payload) // 2)]),
        (GatewayReason.MALFORMED_JSON, message.payload.replace(b":", b"=", 1)),
        (GatewayReason.MISSING_FIELD, orjson.dumps({k: v for k, v in first.items() if k != "seq"})),
        (GatewayReason.WRONG_TYPE, orjson.dumps({**first, "sensors": {"vibration_mm_s": "high"}})),
        (GatewayReason.ASSET_MISMATCH, orjson.dumps({**first, "asset_id": first["asset_id"] + "-x"})),
        (GatewayReason.UNKNOWN_SCHEMA, orjson.dumps({**first, "schema": 99})),
        (GatewayReason.TOO_OLD, orjson.dumps({**first, "ts": "2000-01-01T00:00:00Z"})),
        (GatewayReason.NOT_A_READING, b"42"),
    ]


@dataclass
class FaultInjector:
    """Adds malformed, duplicate and out-of-order messages at the configured rates, deterministically.

    Attributes:
        rates: how often each fault is injected.
        seed: the seed of the injector's own random stream.
        injected: what was injected, by kind (``malformed:<reason>``, ``duplicate``, ``out_of_order``).
    """

    rates: FaultRates
    seed: int
    injected: Counter[str] = field(default_factory=Counter)

    def apply(self, messages: Iterable[Message]) -> Iterator[Message]:
        """The stream with faults added."""
        rng = np.random.default_rng([self.seed, 0xFA17])
        held: dict[str, Message] = {}
        for message in messages:
            draws = rng.random(3)
            if draws[2] < self.rates.out_of_order and message.asset_id not in held:
                held[message.asset_id] = replace(message, kind="out_of_order")
                self.injected["out_of_order"] += 1
                continue
            yield message
            if message.asset_id in held:
                yield held.pop(message.asset_id)  # now behind a later message of its asset
            if draws[0] < self.rates.malformed:
                document = orjson.loads(message.payload)
                first = document[0] if isinstance(document, list) else document
                options = _corruptions(message, first)
                reason, payload = options[int(rng.integers(0, len(options)))]
                self.injected[f"malformed:{reason.value}"] += 1
                yield replace(message, payload=payload, readings=0, kind=f"malformed:{reason.value}")
            if draws[1] < self.rates.duplicate:
                self.injected["duplicate"] += 1
                yield replace(message, kind="duplicate")
        yield from held.values()  # never dropped: the last messages go out late
