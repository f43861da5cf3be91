"""What the topics say happened to every published reading: the accounting of a fleet run.

Pure: records (already read from Kafka) in, counts and the list of failed checks out. The unit is
the reading, identified by ``(asset_id, seq)``; a malformed MQTT message counts as one dead letter.

Conservation, end to end::

    published readings + malformed messages == readings on `telemetry` + gateway dead letters

holds exactly when no process was killed. Under kills (at least once) the exact form becomes: no
published ``(asset_id, seq)`` is missing from `telemetry`, duplicates are counted, and every
reading on `telemetry` is either scored on `risk` or dead-lettered by the scoring job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import DeadLetter, Stage

Key = tuple[str, int]


@dataclass
class Ledger:
    """Running totals of one run's topics (feed it records as they are read).

    Attributes:
        telemetry_records: Kafka records on `telemetry` (each holds a run of readings).
        telemetry_readings: readings inside them, duplicates included.
        telemetry_keys: distinct ``(asset_id, seq)`` on `telemetry`.
        gateway_letters: dead letters from the gateway (source: an MQTT topic), by (asset, reason).
        stream_letters: dead letters from the scoring job (source: ``kafka:…``), by (asset, reason).
        stream_letter_keys: the readings the scoring job dead-lettered.
        risk_records: records on `risk` (at least once: replays may repeat some).
        risk_keys: distinct ``(asset_id, seq)`` scored.
        scored_by: risk records per (asset, model version).
        unreadable: records of any topic that did not decode (a producer bug if ever non-zero).
    """

    telemetry_records: int = 0
    telemetry_readings: int = 0
    telemetry_keys: set[Key] = field(default_factory=set)
    readings_by_asset: Counter[str] = field(default_factory=Counter)
    gateway_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    stream_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    stream_letter_keys: set[Key] = field(default_factory=set)
    risk_records: int = 0
    risk_keys: set[Key] = field(default_factory=set)
    # (asset, model version) -> risk records: which model scored which asset (the hot swap shows here)
    scored_by: Counter[tuple[str, str]] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)

    def add_telemetry(self, values: Iterable[bytes]) -> None:
        for value in values:
            self.telemetry_records += 1
            try:
                items = orjson.loads(value)
                readings = items if isinstance(items, list) else [items]
                keys = [(str(r["asset_id"]), int(r["seq"])) for r in readings]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                self.unreadable["telemetry"] += 1
                continue
            self.telemetry_readings += len(keys)
            self.telemetry_keys.update(keys)
            self.readings_by_asset.update(asset for asset, _ in keys)

    def add_dead_letters(self, values: Iterable[bytes]) -> None:
        for value in values:
            try:
                letter = dead_letter.decode(value)
            except ValueError:
                self.unreadable["dlq"] += 1
                continue
            reason = letter.reason.value
            if letter.stage is Stage.GATEWAY:
                parts = letter.source.split("/")  # forewarn/<site>/<asset_id>/telemetry
                self.gateway_letters[parts[2] if len(parts) == 4 else "", reason] += 1
                continue
            key = _letter_key(letter)
            self.stream_letters["" if key is None else key[0], reason] += 1
            if key is not None:
                self.stream_letter_keys.add(key)

    def add_risk(self, values: Iterable[bytes]) -> None:
        for value in values:
            try:
                record = orjson.loads(value)
                key = (str(record["asset_id"]), int(record["seq"]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                self.unreadable["risk"] += 1
                continue
            self.risk_records += 1
            self.risk_keys.add(key)
            self.scored_by[(key[0], str(record.get("model_version", "")))] += 1

    @property
    def telemetry_duplicates(self) -> int:
        return self.telemetry_readings - len(self.telemetry_keys)

    def letters_by_reason(self, assets: frozenset[str]) -> dict[str, dict[str, int]]:
        """Dead letters of these assets by where they were written and why."""
        out: dict[str, dict[str, int]] = {"gateway": {}, "stream": {}}
        for kind, letters in (("gateway", self.gateway_letters), ("stream", self.stream_letters)):
            for (asset, reason), n in sorted(letters.items()):
                if asset in assets:
                    out[kind][reason] = out[kind].get(reason, 0) + n
        return out

    def unscored(self) -> set[Key]:
        """Readings on `telemetry` neither scored nor dead-lettered by the scoring job."""
        return self.telemetry_keys - self.risk_keys - self.stream_letter_keys


def _letter_key(letter: DeadLetter) -> Key | None:
    """``(asset_id, seq)`` of the reading a scoring-job dead letter holds, when it names one."""
    try:
        document = orjson.loads(letter.payload)
        element = document[letter.index or 0] if isinstance(document, list) else document
        return str(element["asset_id"]), int(element["seq"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Published:
    """What the simulator sent: the distinct readings it generated and the messages it published."""

    keys: frozenset[Key]
    readings: int  # valid readings published, re-sent duplicates included
    malformed_messages: int

    @property
    def assets(self) -> frozenset[str]:
        return frozenset(asset for asset, _ in self.keys)


@dataclass(frozen=True)
class Accounting:
    """The verdict on a run: the numbers and every conservation check that failed."""

    numbers: dict[str, int]
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def account(published: Published, ledger: Ledger, exact: bool) -> Accounting:
    """Check that every published reading is accounted for.

    Args:
        published: what the simulator sent.
        ledger: what the topics hold.
        exact: demand exact conservation (no process was killed); otherwise at-least-once: nothing
            missing, duplicates reported.
    """
    # Only this run's assets: the broker and topics may carry other fleets' readings too.
    ours = published.assets
    keys = {k for k in ledger.telemetry_keys if k[0] in ours}
    readings = sum(n for asset, n in ledger.readings_by_asset.items() if asset in ours)
    gateway_letters = sum(n for (asset, _), n in ledger.gateway_letters.items() if asset in ours)
    missing = published.keys - keys
    unexpected = {k for k in keys if k not in published.keys}  # our assets, never published
    unscored = {k for k in ledger.unscored() if k[0] in ours}
    numbers = {
        "published_readings": published.readings,
        "published_distinct_readings": len(published.keys),
        "published_malformed_messages": published.malformed_messages,
        "telemetry_records": ledger.telemetry_records,
        "telemetry_readings": readings,
        "telemetry_distinct_readings": len(keys),
        "telemetry_duplicate_readings": readings - len(keys),
        "gateway_dead_letters": gateway_letters,
        "stream_dead_letters": sum(n for (asset, _), n in ledger.stream_letters.items() if asset in ours),
        "risk_records": ledger.risk_records,
        "scored_distinct_readings": len(ledger.risk_keys & keys),
        "missing_readings": len(missing),
        "unscored_readings": len(unscored),
        "unreadable_records": sum(ledger.unreadable.values()),
        "other_fleets_readings": ledger.telemetry_readings - readings,
    }
    failures: list[str] = []
    if missing:
        failures.append(f"{len(missing)} published readings never reached telemetry: {_some(missing)}")
    if unexpected:
        failures.append(f"{len(unexpected)} readings on telemetry were never published: {_some(unexpected)}")
    if unscored:
        failures.append(f"{len(unscored)} readings neither scored nor dead-lettered: {_some(unscored)}")
    if ledger.unreadable:
        failures.append(f"undecodable records: {dict(ledger.unreadable)}")
    sent = published.readings + published.malformed_messages
    if exact and readings + gateway_letters != sent:
        failures.append(
            f"telemetry readings + gateway dead letters = {readings} + {gateway_letters}"
            f" != {sent} published (readings + malformed messages)"
        )
    if not exact and gateway_letters < published.malformed_messages:
        failures.append(f"{published.malformed_messages} malformed messages, {gateway_letters} dead letters")
    return Accounting(numbers, tuple(failures))


def _some(keys: set[Key] | frozenset[Key]) -> str:
    return "e.g. " + ", ".join(f"{a}#{n}" for a, n in sorted(keys)[:3])
