"""The alert's fields are written once (``forewarn.contracts.alert.AlertRecord``); every other shape follows.

The ``alerts`` message, the API body and the engine's alert derive from the record; the store's table is
written out for SQLAlchemy, so this checks it column by column: same names, nullability and types.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import StrEnum

import orjson
from pydantic import AwareDatetime
from pydantic.fields import FieldInfo

from alerts.api.schemas import AlertOut
from alerts.config import RuleConfig
from alerts.state import Alert, acknowledge, event_from_change
from alerts.store.tables import AlertRow
from forewarn.contracts.alert import AlertEvent, AlertRecord, ChangeKind, decode_alert_event
from tests.unit.alerts.helpers import at, risk, run

RULES = RuleConfig(open_threshold=0.8, clear_threshold=0.5, persistence_s=120)

STORE_ONLY_COLUMNS = {"version"}
"""Columns of ``alerts`` that are the store's own (the optimistic-lock counter), not the alert's."""

V1_EVENT_KEYS = {
    "schema", "alert_id", "change", "change_ts", "asset_id", "site", "failure_mode", "kind", "severity",
    "state", "first_seen", "last_seen", "occurrence_count", "trigger_risk", "trigger_rul_cycles",
    "model_name", "model_version", "work_order_id", "escalation_tier", "tier", "acknowledged_by",
    "snoozed_until", "detail",
}  # fmt: skip
"""The keys of an ``alerts`` message before the record was shared: consumers may rely on every one."""


def _python_type(info: FieldInfo) -> tuple[type, bool]:
    """(the type a column must hold, whether None is allowed) of one contract field."""
    annotation = info.annotation
    nullable = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        (annotation,) = args
    if annotation is AwareDatetime:
        return datetime, nullable
    assert isinstance(annotation, type)
    return (str if issubclass(annotation, StrEnum) else annotation), nullable


def test_the_alerts_table_holds_the_record_and_the_engines_fields() -> None:
    columns = {c.name: c for c in AlertRow.__table__.columns}
    engine_only = set(Alert.model_fields) - set(AlertRecord.model_fields)
    assert engine_only == {"last_notified_at"}
    assert set(columns) == set(Alert.model_fields) | STORE_ONLY_COLUMNS
    for name, info in Alert.model_fields.items():
        expected, nullable = _python_type(info)
        column = columns[name]
        assert column.nullable is nullable, name
        assert issubclass(column.type.python_type, expected), name


def test_the_api_body_is_the_record() -> None:
    assert AlertOut.model_fields.keys() == AlertRecord.model_fields.keys()
    assert issubclass(AlertOut, AlertRecord)


def _raised_and_acknowledged() -> list[AlertEvent]:
    _, changes = run([risk(t, 0.95) for t in range(0, 400, 30)], RULES)
    raised = next(c for c in changes if c.kind is ChangeKind.RAISED)
    acked = acknowledge(raised.alert, "op", "on it", at(500))
    assert not isinstance(acked, str)
    return [event_from_change(raised), event_from_change(acked)]


def test_the_alerts_message_is_flat_and_keeps_every_earlier_key() -> None:
    for event in _raised_and_acknowledged():
        wire = orjson.loads(event.encode())
        assert set(wire) >= V1_EVENT_KEYS
        assert set(wire) == V1_EVENT_KEYS | {"raised_at", "ack_comment", "acknowledged_at", "cleared_at"}
        assert wire["schema"] == 1
        assert "last_notified_at" not in wire  # the rules' own field stays in the engine


def test_the_alerts_message_round_trips() -> None:
    raised, acked = _raised_and_acknowledged()
    assert decode_alert_event(raised.encode()) == raised
    decoded = decode_alert_event(acked.encode())
    assert (decoded.change, decoded.acknowledged_by, decoded.ack_comment) == (
        ChangeKind.ACKNOWLEDGED,
        "op",
        "on it",
    )
