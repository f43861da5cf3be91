"""Replay of dead letters: select, optionally rewrite, re-validate, and send what passes now.

The middle is pure (:func:`replay`): dead letters in, telemetry records and what stayed dead out.
The edges read ``telemetry.dlq`` up to its end at the time of the call (:func:`read_dead_letters`)
and produce the records with the gateway's producer settings. The dead-letter topic is never
rewritten: it is the audit log, and a replay is reported, not erased.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from ingest.contract import ContractPolicy, DeadLetter, decode
from ingest.reasons import Reason
from ingest.records import OutRecord, decode_dead_letter, message_records

Rewrite = Callable[[bytes], bytes]
REPLAY_GATEWAY_ID = "dlq-replay"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters to replay: reasons (empty = all) and a receive-time window."""

    reasons: frozenset[Reason] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """True when ``letter`` is selected."""
        if self.reasons and letter.reason not in self.reasons:
            return False
        if self.since is not None and letter.received_at < self.since:
            return False
        return not (self.until is not None and letter.received_at >= self.until)


@dataclass(frozen=True, slots=True)
class StillDead:
    """A dead letter that did not pass this time, with where it sits and why now."""

    where: str
    letter: DeadLetter
    reasons: list[Reason]


@dataclass
class ReplayOutcome:
    """What a replay did."""

    selected: int = 0
    revived: int = 0
    readings: int = 0
    records: list[OutRecord] = field(default_factory=list)
    still_dead: list[StillDead] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Plain data for the CLI's report."""
        return {
            "selected": self.selected,
            "revived": self.revived,
            "readings_sent": self.readings,
            "records_sent": sum(1 for r in self.records if not r.dlq),
            "still_dead": len(self.still_dead),
            "still_dead_by_reason": dict(Counter(str(d.reasons[0]) for d in self.still_dead if d.reasons)),
            "unreadable_records": self.unreadable,
        }


def replay(
    letters: Iterable[tuple[str, DeadLetter]],
    selection: Selection,
    policy: ContractPolicy,
    now: datetime,
    rewrite: Rewrite | None = None,
    at_receive_time: bool = False,
) -> ReplayOutcome:
    """Re-validate the selected dead letters.

    Args:
        letters: (where it sits on Kafka, dead letter) pairs, in topic order.
        selection: which letters to take.
        policy: the contract limits of today (perhaps fixed since the letters died).
        now: the validation time for age and skew rules.
        rewrite: an optional fix applied to the original bytes first.
        at_receive_time: validate age and skew against the letter's receive time instead of ``now``.

    Returns:
        The telemetry records for what passes (only ``telemetry``; a replay makes no new dead
        letters) and every selected letter that stayed dead with its reasons today.
    """
    outcome = ReplayOutcome()
    for where, letter in letters:
        if not selection.matches(letter):
            continue
        outcome.selected += 1
        payload = letter.payload
        try:
            if rewrite is not None:
                payload = rewrite(payload)
            if letter.index is not None:
                payload = _element(payload, letter.index)
        except Exception as exc:  # a failing hook keeps the letter dead, with the why
            outcome.still_dead.append(StillDead(f"{where} ({type(exc).__name__}: {exc})", letter, []))
            continue
        received_at = letter.received_at if at_receive_time else now
        decoded = decode(payload, letter.source, received_at, policy)
        if decoded.dead_letters:
            outcome.still_dead.append(StillDead(where, letter, [d.reason for d in decoded.dead_letters]))
            continue
        outcome.revived += 1
        outcome.readings += len(decoded.readings)
        outcome.records += message_records(decoded.readings, [], REPLAY_GATEWAY_ID, now)
    return outcome


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


def read_dead_letters(consumer: Any, topic: str) -> Iterator[tuple[str, DeadLetter] | tuple[str, None]]:
    """Every record of ``topic`` up to its end offsets at call time, decoded.

    Args:
        consumer: a kafka-python KafkaConsumer with no subscription (this assigns partitions).
        topic: the dead-letter topic.

    Yields:
        (``kafka:<topic>/<partition>/<offset>``, dead letter), or (that, None) for an unreadable record.
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
                where = f"kafka:{tp.topic}/{tp.partition}/{record.offset}"
                try:
                    yield where, decode_dead_letter(record.value)
                except ValueError:
                    yield where, None
        for tp in list(remaining):
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
