"""Dead letters of the risk topic: the one dead-letter format, stage ``alerts``, exact bytes, in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, dead_letter_of, process_batch
from alerts.store.db import make_engine, migrate, session_factory
from alerts.workorders.lifecycle import DEFAULT_SLA_H
from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import Stage
from forewarn.contracts.risk import RiskRejection, RiskRejectReason, decode_risk
from tests.unit.alerts.helpers import at, series


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[EngineContext]:
    engine = make_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    migrate(engine)
    yield EngineContext(session_factory(engine), RuleConfig(), "engine", DEFAULT_SLA_H)
    engine.dispose()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{oops", RiskRejectReason.NOT_JSON),
        (b"[1, 2]", RiskRejectReason.NOT_AN_OBJECT),
        (b'{"schema": 9}', RiskRejectReason.UNKNOWN_SCHEMA),
        (b'{"schema": 1, "asset_id": "a"}', RiskRejectReason.INVALID),
    ],
)
def test_a_rejection_becomes_an_alerts_stage_letter_that_round_trips(
    raw: bytes, reason: RiskRejectReason
) -> None:
    rejection = decode_risk(raw)
    assert isinstance(rejection, RiskRejection)
    letter = dead_letter_of(rejection, "risk/0/3", at(0))
    assert (letter.stage, letter.source) == (Stage.ALERTS, "kafka:risk/0/3")
    back = dead_letter.decode(dead_letter.encode(letter))
    assert back == letter
    assert (back.reason, back.payload) == (reason, raw)


def test_batch_returns_one_dead_letter_per_bad_message_in_order(ctx: EngineContext) -> None:
    good = series([0.2])
    batch = [
        RiskMessage(b"{oops", "risk/2/7"),
        RiskMessage(good[0].encode(), "risk/2/8"),
        RiskMessage(b'{"schema": 9}', "risk/2/9"),
    ]
    result = process_batch(ctx, batch, at(30))
    assert result.records == 1
    assert [(d.stage, d.source, d.reason, d.payload, d.received_at) for d in result.dead_letters] == [
        (Stage.ALERTS, "kafka:risk/2/7", RiskRejectReason.NOT_JSON, b"{oops", at(30)),
        (Stage.ALERTS, "kafka:risk/2/9", RiskRejectReason.UNKNOWN_SCHEMA, b'{"schema": 9}', at(30)),
    ]
