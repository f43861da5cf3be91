"""Replay of dead letters of every stage: select, optionally rewrite, re-validate, send what passes now.

Every stage writes the one dead-letter format (``forewarn.contracts.dead_letter``), and each letter
names the stage that refused it, so each is judged again by the contract of that stage:

* ``gateway``: the payload is an MQTT message (or an element of one); it passes the gateway's
  input rules with today's policy and goes to ``telemetry``;
* ``scoring``: the payload is a ``telemetry`` value; it must be canonical
  (``forewarn.contracts.telemetry``) and goes back to ``telemetry``, keyed by its asset;
* ``alerts``: the payload is a ``risk`` record; it must pass the risk contract
  (``forewarn.contracts.risk``) and goes back to ``risk``.

Revived telemetry carries the gateway id ``dlq-replay``; the scoring job then scores it like any
reading (a reading still missing a sensor the champion needs comes back as a new ``unscorable``
letter, and a ``late_for_state`` one is late again unless its ``seq`` was rewritten).

The middle is pure (:func:`replay`): dead letters in, records and what stayed dead out. The edges
read the dead-letter topics up to their end at the time of the call (:func:`read_dead_letters`) and
produce the records (``chain/dlq_cli.py``). The dead-letter topics are never rewritten: they are
the audit log, and a replay is reported, not erased.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from forewarn.contracts.dead_letter import DeadLetter, Reason, ScoringReason, Stage, decode, kafka_source
from forewarn.contracts.risk import RiskRejection, decode_risk
from forewarn.contracts.telemetry import Headers, decode_run
from ingest.contract import ContractPolicy
from ingest.contract import decode as decode_message
from ingest.records import message_records, telemetry_record

Rewrite = Callable[[bytes], bytes]
REPLAY_GATEWAY_ID = "dlq-replay"
"""The ``gateway_id`` header of revived telemetry (and ``producer`` header of revived risk records)."""


class Target(StrEnum):
    """Where a revived record goes (topic names come from the Kafka settings)."""

    TELEMETRY = "telemetry"
    RISK = "risk"


@dataclass(frozen=True, slots=True)
class Revived:
    """A record ready for the producer: target topic, key, value, headers."""

    target: Target
    key: bytes
    value: bytes
    headers: Headers
    readings: int = 0  # telemetry readings it holds


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters to replay: stages and reasons (empty = all) and a receive-time window."""

    reasons: frozenset[str] = frozenset()
    stages: frozenset[Stage] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """True when ``letter`` is selected."""
        if self.reasons and letter.reason.value not in self.reasons:
            return False
        if self.stages and letter.stage not in self.stages:
            return False
        if self.since is not None and letter.received_at < self.since:
            return False
        return not (self.until is not None and letter.received_at >= self.until)


@dataclass(frozen=True, slots=True)
class StillDead:
    """A dead letter that did not pass this time, with where it sits and why now.

    ``reasons`` is empty when the rewrite hook itself failed (``where`` then says how).
    """

    where: str
    letter: DeadLetter
    reasons: list[Reason]
    detail: str = ""


@dataclass
class ReplayOutcome:
    """What a replay did (or, on a dry run, would do)."""

    selected: int = 0
    revived: int = 0
    records: list[Revived] = field(default_factory=list)
    still_dead: list[StillDead] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    by_reason: dict[str, Counter[str]] = field(default_factory=dict)
    """``<stage>/<reason then>`` → ``selected``, ``revived`` and ``dead:<reason now>`` counts."""

    def count(self, letter: DeadLetter, outcome: str) -> None:
        """Count ``letter`` under its stage and reason: ``selected``, ``revived`` or ``dead:<why>``."""
        key = f"{letter.stage.value}/{letter.reason.value}"
        self.by_reason.setdefault(key, Counter())[outcome] += 1

    def summary(self) -> dict[str, Any]:
        """Plain data for the CLI's report."""
        return {
            "selected": self.selected,
            "revived": self.revived,
            "readings_sent": sum(r.readings for r in self.records),
            "records_sent": len(self.records),
            "records_by_target": dict(Counter(r.target.value for r in self.records)),
            "still_dead": len(self.still_dead),
            "still_dead_by_reason": dict(Counter(_why(d) for d in self.still_dead)),
            "by_reason": {
                key: {
                    "selected": counts["selected"],
                    "revived": counts["revived"],
                    "still_dead": {
                        k.removeprefix("dead:"): n for k, n in counts.items() if k.startswith("dead:")
                    },
                }
                for key, counts in sorted(self.by_reason.items())
            },
            "unreadable_records": self.unreadable,
        }


def _why(dead: StillDead) -> str:
    return str(dead.reasons[0]) if dead.reasons else "rewrite_failed"


@dataclass(frozen=True, slots=True)
class _Refused:
    """Why a letter's payload fails its stage's contract today."""

    reasons: list[Reason]
    detail: str


def replay(
    letters: Iterable[tuple[str, DeadLetter]],
    selection: Selection,
    policy: ContractPolicy,
    now: datetime,
    rewrite: Rewrite | None = None,
    at_receive_time: bool = False,
) -> ReplayOutcome:
    """Re-validate the selected dead letters, each against the contract of the stage that refused it.

    Args:
        letters: (where it sits on Kafka, dead letter) pairs, in topic order.
        selection: which letters to take.
        policy: the gateway's contract limits of today (perhaps fixed since the letters died).
        now: the validation time for age and skew rules, and the receive time of revived telemetry.
        rewrite: an optional fix applied to the original bytes first.
        at_receive_time: judge a gateway letter's age and skew at its receive time instead of ``now``.

    Returns:
        The records for what passes (a replay makes no new dead letters) and every selected letter
        that stayed dead with its reasons today.
    """
    outcome = ReplayOutcome()
    for where, letter in letters:
        if not selection.matches(letter):
            continue
        outcome.selected += 1
        outcome.count(letter, "selected")
        payload = letter.payload
        try:
            if rewrite is not None:
                payload = rewrite(payload)
            if letter.index is not None:
                payload = _element(payload, letter.index)
        except Exception as exc:  # a failing hook keeps the letter dead, with the why
            outcome.still_dead.append(StillDead(f"{where} ({type(exc).__name__}: {exc})", letter, []))
            outcome.count(letter, "dead:rewrite_failed")
            continue
        received_at = letter.received_at if at_receive_time else now
        result = _revive(letter, payload, policy, received_at, now)
        if isinstance(result, _Refused):
            outcome.still_dead.append(StillDead(where, letter, result.reasons, result.detail))
            outcome.count(letter, f"dead:{result.reasons[0].value}")
            continue
        outcome.revived += 1
        outcome.count(letter, "revived")
        outcome.records += result
    return outcome


def _revive(
    letter: DeadLetter, payload: bytes, policy: ContractPolicy, received_at: datetime, now: datetime
) -> list[Revived] | _Refused:
    """The records ``payload`` becomes under its stage's contract today, or why it cannot."""
    match letter.stage:
        case Stage.GATEWAY:
            decoded = decode_message(payload, letter.source, received_at, policy)
            if decoded.dead_letters:
                return _Refused([d.reason for d in decoded.dead_letters], decoded.dead_letters[0].detail)
            records = message_records(decoded.readings, [], REPLAY_GATEWAY_ID, now)
            n = len(decoded.readings)
            return [Revived(Target.TELEMETRY, r.key, r.value, r.headers, n) for r in records]
        case Stage.SCORING:
            try:
                readings = decode_run(payload)
            except ValueError as exc:
                return _Refused([ScoringReason.NOT_CANONICAL], str(exc))
            record = telemetry_record(readings, REPLAY_GATEWAY_ID, now)
            return [Revived(Target.TELEMETRY, record.key, record.value, record.headers, len(readings))]
        case Stage.ALERTS:
            risk = decode_risk(payload)
            if isinstance(risk, RiskRejection):
                return _Refused([risk.reason], risk.detail)
            headers = [("producer", REPLAY_GATEWAY_ID.encode())]
            return [Revived(Target.RISK, risk.asset_id.encode(), payload, headers)]


def _element(payload: bytes, index: int) -> bytes:
    """The one element of a JSON array a dead letter is about, re-encoded on its own."""
    document = orjson.loads(payload)
    if not isinstance(document, list) or not 0 <= index < len(document):
        raise ValueError(f"payload has no array element {index}")
    return orjson.dumps(document[index])


def load_rewrite(spec: str) -> Rewrite:
    """``package.module:function`` → the function (bytes → bytes); ValueError if it is not there."""
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"--rewrite must look like package.module:function, got {spec!r}")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--rewrite {spec!r}: {exc}") from None
    if not callable(function):
        raise ValueError(f"--rewrite {spec!r} is not callable")
    return function  # type: ignore[no-any-return]


def read_dead_letters(consumer: Any, topic: str) -> Iterator[tuple[str, DeadLetter | None]]:
    """Every record of ``topic`` up to its end offsets at call time, decoded.

    Args:
        consumer: a kafka-python KafkaConsumer with no subscription (this assigns partitions).
        topic: a dead-letter topic (``telemetry.dlq``, ``risk.dlq``).

    Yields:
        (``kafka:<topic>/<partition>/<offset>``, dead letter), or (that, None) for an unreadable record.

    Raises:
        ValueError: the topic does not exist.
    """
    from kafka import TopicPartition

    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    if not partitions:
        raise ValueError(f"topic {topic!r} does not exist")
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    remaining = {tp for tp in partitions if ends[tp] > consumer.position(tp)}
    while remaining:
        batches = consumer.poll(timeout_ms=1000)
        for tp, records in batches.items():
            for record in records:
                if record.offset >= ends[tp]:
                    continue
                where = kafka_source(tp.topic, tp.partition, record.offset)
                try:
                    yield where, decode(record.value)
                except ValueError:
                    yield where, None
        for tp in list(remaining):
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)


def read_dead_letter(
    consumer: Any, topic: str, partition: int, offset: int, timeout_s: float = 30.0
) -> DeadLetter | None:
    """The dead letter at one coordinate, or None when that record is not a dead letter.

    Args:
        consumer: a kafka-python KafkaConsumer with no subscription (this assigns the partition).
        timeout_s: how long to wait for the record once it is known to exist.

    Raises:
        ValueError: no such topic, partition or offset (past the end, or removed by retention).
        TimeoutError: the broker did not deliver the record in time.
    """
    from kafka import TopicPartition

    where = kafka_source(topic, partition, offset)
    if partition not in (consumer.partitions_for_topic(topic) or set()):
        raise ValueError(f"{where}: topic {topic!r} has no partition {partition}")
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    first, end = consumer.beginning_offsets([tp])[tp], consumer.end_offsets([tp])[tp]
    if not first <= offset < end:
        held = f"offsets {first} to {end - 1}" if end > first else "none"
        raise ValueError(f"{where} holds no record (the partition holds {held})")
    consumer.seek(tp, offset)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for record in consumer.poll(timeout_ms=1000).get(tp, []):
            if record.offset > offset:  # compacted or transactional markers: nothing at this offset
                raise ValueError(f"{where} holds no record")
            if record.offset == offset:
                try:
                    return decode(record.value)
                except ValueError:
                    return None
    raise TimeoutError(f"{where} exists but did not arrive within {timeout_s:g} s")
