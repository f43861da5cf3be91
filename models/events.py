"""Model events: drift alarms, retrains, gate results, promotions, approvals and rollbacks.

Every step of a model's life is one :class:`ModelEvent`, written twice by :func:`record`:

1. as a tag on the model version in the MLflow registry, ``forewarn.event.<epoch_ms>.<action>`` =
   a short JSON (``{"at", "note", "numbers"}``, trimmed to :data:`TAG_VALUE_LIMIT` characters):
   the registry is where an engineer looks at a version, and a key per event never overwrites
   an earlier one (append-only);
2. as one point of the InfluxDB measurement ``model_events`` (tags ``model_name``,
   ``model_version``, ``action``; fields ``note`` and the event's numbers, declared in
   :data:`forewarn.contracts.influx_schema.MODEL_EVENTS`): the boards' annotations.

The registry tag is written first: an InfluxDB outage must not lose the event. The InfluxDB
write is then retried with back-off for ``retry_budget_s`` (:class:`forewarn.influx.InfluxWriter`);
when it still fails the event is logged at ERROR with its line, so it can be written again by hand,
and :class:`Recorded` says so (errors as data: the caller's promotion has happened either way).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from forewarn.contracts.influx_schema import MODEL_EVENTS
from forewarn.influx import InfluxWriteError, InfluxWriter
from forewarn.settings import InfluxSettings

log = logging.getLogger(__name__)

TAG_PREFIX = "forewarn.event."
TAG_VALUE_LIMIT = 4000
"""Characters of an event tag's value: MLflow's SQL stores have kept model-version tag values to
5000 characters (newer versions allow more); a note longer than that is trimmed, not refused."""


class ModelAction(StrEnum):
    """What happened to a model version (the ``action`` tag of ``model_events``)."""

    DRIFT_ALARM = "drift_alarm"
    RETRAIN = "retrain"
    GATE_PASSED = "gate_passed"
    GATE_REFUSED = "gate_refused"
    PROMOTED = "promoted"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class ModelEvent:
    """One event of one model version.

    Attributes:
        model_name: the registered model.
        model_version: the version it concerns ("" when there is none, e.g. a drift check before
            any champion: then no registry tag is written).
        action: what happened.
        note: who, why and the verdict, for a person (the boards' annotation text).
        at: when (timezone-aware).
        numbers: scores and counts; each name must be a field of ``model_events`` (checked here,
            so a misspelt number fails the producer's tests, not a board).
    """

    model_name: str
    model_version: str
    action: ModelAction
    note: str
    at: datetime
    numbers: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("a model event's time must be timezone-aware")
        problems = MODEL_EVENTS.undeclared((), self.numbers)
        if problems:
            raise ValueError(f"model_events does not declare {', '.join(problems)}")

    @property
    def at_ms(self) -> int:
        return int(self.at.timestamp() * 1000)

    def line(self) -> str | None:
        """The ``model_events`` point in line protocol (non-finite numbers left out)."""
        tags = {"model_name": self.model_name, "model_version": self.model_version, "action": self.action}
        fields: dict[str, float | str] = {"note": self.note}
        fields.update({k: float(v) for k, v in self.numbers.items()})
        return MODEL_EVENTS.point(tags, fields, self.at_ms)

    def tag(self) -> tuple[str, str]:
        """The registry tag: ``forewarn.event.<epoch_ms>.<action>`` and a short JSON value."""
        numbers = {k: round(float(v), 6) for k, v in self.numbers.items() if math.isfinite(float(v))}
        value = orjson.dumps({"at": self.at.isoformat(), "note": self.note, "numbers": numbers}).decode()
        if len(value) > TAG_VALUE_LIMIT:
            # the numbers are what a script reads back: keep them, trim the note
            room = TAG_VALUE_LIMIT - len(value) + len(self.note) - 1
            note = self.note[: max(room, 0)] + "…"
            value = orjson.dumps({"at": self.at.isoformat(), "note": note, "numbers": numbers}).decode()
            value = value[:TAG_VALUE_LIMIT]
        return f"{TAG_PREFIX}{self.at_ms}.{self.action}", value


@dataclass(frozen=True)
class Recorded:
    """Where an event got to: the registry tag, the InfluxDB point, and why one did not."""

    registry: bool
    influx: bool
    problems: tuple[str, ...] = ()


def record(
    event: ModelEvent,
    influx: InfluxSettings | None,
    client: Any = None,
    *,
    retry_budget_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Recorded:
    """Write ``event`` to the registry (a version tag) and then to InfluxDB (``model_events``).

    Never raises for an unreachable service: a failure is logged and returned in
    :class:`Recorded`. The registry tag comes first, so an InfluxDB outage leaves the event in the
    registry; the InfluxDB write is retried with back-off for ``retry_budget_s``.

    Args:
        event: the event.
        influx: where ``model_events`` lives; None writes the registry tag only.
        client: an ``mlflow.MlflowClient`` (one is made when None and the event names a version).
        retry_budget_s: how long an unreachable InfluxDB is retried.
        sleep: the back-off's sleep (tests pass a fake).
    """
    problems: list[str] = []
    registry = False
    if event.model_version:
        key, value = event.tag()
        try:
            if client is None:
                from mlflow import MlflowClient

                client = MlflowClient()
            client.set_model_version_tag(event.model_name, event.model_version, key, value)
            registry = True
        except Exception as exc:  # any client failure: still try InfluxDB, and say why
            problems.append(f"registry tag {key}: {type(exc).__name__}: {exc}")
            log.error("model event %s of %s v%s not tagged in the registry: %s", event.action,
                      event.model_name, event.model_version, exc)  # fmt: skip
    written = False
    if influx is not None:
        point = event.line()
        try:
            with InfluxWriter(influx, retry_budget_s=retry_budget_s, sleep=sleep) as writer:
                written = writer.write([point]) == 1
        except (InfluxWriteError, OSError) as exc:
            problems.append(f"InfluxDB {influx.url}: {exc}")
            log.error(
                "model event not written to InfluxDB after retrying %.0fs (%s); it is %s. The point: %s",
                retry_budget_s, exc, "on the registry tag" if registry else "only in this log", point,
            )  # fmt: skip
    log.info(
        "model event %s %s v%s: %s", event.action, event.model_name, event.model_version or "-", event.note
    )
    return Recorded(registry, written, tuple(problems))


def events_of(tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """The events recorded on a version's tags, oldest first.

    Returns:
        One ``{"at_ms", "action", "at", "note", "numbers"}`` per event.
    """
    out = []
    for key, value in tags.items():
        if not key.startswith(TAG_PREFIX):
            continue
        at_ms, _, action = key.removeprefix(TAG_PREFIX).partition(".")
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError:
            body = {"note": value}
        out.append({"at_ms": int(at_ms), "action": action, **body})
    return sorted(out, key=lambda e: e["at_ms"])
