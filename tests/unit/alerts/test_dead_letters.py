"""Dead letters of the risk topic: the telemetry.dlq shape, exact bytes, reasons, where they came from."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from alerts import dead_letters
from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, process_batch
from alerts.risk_contract import RiskRejection, RiskRejectReason, decode_risk
from alerts.store.db import make_engine, migrate, session_factory
from alerts.workorders.lifecycle import DEFAULT_SLA_H
from ingest.contract import DeadLetter
from ingest.reasons import Reason
from ingest.records import encode_dead_letter
from tests.unit.alerts.helpers import at, series


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[EngineContext]:
    engine = make_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    migrate(engine)
    yield EngineContext(session_factory(engine), RuleConfig(), "engine", DEFAULT_SLA_H)
    engine.dispose()


def test_same_shape_as_telemetry_dead_letters() -> None:
    raw = b"\xff not json"
    rejection = decode_risk(raw)
    assert isinstance(rejection, RiskRejection)
    letter = dead_letters.from_rejection(rejection, "risk/2/17", at(5))
    ours = orjson.loads(dead_letters.encode(letter))
    theirs = orjson.loads(
        encode_dead_letter(DeadLetter(Reason.MALFORMED_JSON, "x", "kafka:t/0/1", raw, at(5)))
    )
    assert set(ours) == set(theirs)
    assert ours["format"] == theirs["format"]
    assert ours["source"] == "kafka:risk/2/17"
    assert ours["reason"] == "not_json"
    assert base64.b64decode(ours["payload_b64"]) == raw
    assert ours["received_at"] == "2026-01-01T00:00:05.000+00:00"
    assert dict(dead_letters.headers(letter, "grp"))["reason"] == b"not_json"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{oops", RiskRejectReason.NOT_JSON),
        (b"[1, 2]", RiskRejectReason.NOT_AN_OBJECT),
        (b'{"schema": 9}', RiskRejectReason.UNKNOWN_SCHEMA),
        (b'{"schema": 1, "asset_id": "a"}', RiskRejectReason.INVALID),
    ],
)
def test_round_trip_keeps_bytes_and_reason(raw: bytes, reason: RiskRejectReason) -> None:
    rejection = decode_risk(raw)
    assert isinstance(rejection, RiskRejection)
    letter = dead_letters.from_rejection(rejection, "risk/0/3", at(0))
    back = dead_letters.decode(dead_letters.encode(letter))
    assert back == letter
    assert (back.reason, back.payload) == (reason, raw)


@pytest.mark.parametrize("value", [b"nope", b"{}", b'{"format": 2, "reason": "not_json"}'])
def test_decode_refuses_what_is_not_a_dead_letter(value: bytes) -> None:
    with pytest.raises(ValueError, match="not a risk dead-letter record"):
        dead_letters.decode(value)


def test_batch_returns_one_dead_letter_per_bad_message_in_order(ctx: EngineContext) -> None:
    good = series([0.2])
    batch = [
        RiskMessage(b"{oops", "risk/2/7"),
        RiskMessage(good[0].encode(), "risk/2/8"),
        RiskMessage(b'{"schema": 9}', "risk/2/9"),
    ]
    result = process_batch(ctx, batch, at(30))
    assert result.records == 1
    assert [(d.source, d.reason, d.payload, d.received_at) for d in result.dead_letters] == [
        ("kafka:risk/2/7", RiskRejectReason.NOT_JSON, b"{oops", at(30)),
        ("kafka:risk/2/9", RiskRejectReason.UNKNOWN_SCHEMA, b'{"schema": 9}', at(30)),
    ]
