"""Bad ``risk`` records on the real Kafka go to the DLQ topic, byte for byte, and the engine carries on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.clock import ManualClock
from alerts.config import RuleConfig
from alerts.engine.service import AlertEngine, EngineStartError
from forewarn.contracts.alert import ChangeKind
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.integration.alerts.kafka_helpers import produce, read_alerts, read_dead_letter_records
from tests.integration.alerts.test_engine_kafka import caught_up, engine_settings, step_until
from tests.unit.alerts.helpers import T0, series

pytestmark = pytest.mark.integration

RULES = RuleConfig(persistence_s=0, clear_s=0, cooldown_s=0, stale_after_s=None)
BAD = [
    (b"\x00\xffbinary", "not_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'{"schema": 7, "asset_id": "pump-1"}', "unknown_schema"),
    (b'{"schema": 1, "asset_id": "pump-1", "risk": 1.5}', "invalid"),
]


def test_bad_records_become_dead_letters_and_good_ones_still_alert(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    risk, alerts, dlq = new_topic("risk", partitions=3), new_topic("alerts"), new_topic("risk-dlq")
    settings = engine_settings(tmp_path / "wo.db", risk, alerts, unique("alerts-dlq"), dlq)
    good = series([0.97, 0.97], asset="pump-1")
    produce(stack.kafka, risk, [good[0]])
    for raw, _ in BAD:
        produce(stack.kafka, risk, [raw], key="pump-1")  # same key: same partition, in this order
    produce(stack.kafka, risk, [good[1]])
    engine = AlertEngine(settings, stack.kafka, RULES, ManualClock(T0))
    try:
        step_until(engine, lambda: caught_up(engine))
    finally:
        engine.close()

    assert engine.stats.records == 2
    assert engine.stats.rejected == len(BAD)
    assert engine.stats.dead_letters == {reason: 1 for _, reason in BAD}
    letters = read_dead_letter_records(stack.kafka, dlq, expect=len(BAD))
    assert [(d.payload, d.reason.value) for d, _ in letters] == BAD
    offsets = sorted(int(d.source.rsplit("/", 1)[1]) for d, _ in letters)
    partitions = {d.source.split("/")[1] for d, _ in letters}
    assert len(partitions) == 1
    assert offsets == [1, 2, 3, 4]  # between the two good records of pump-1
    for letter, record in letters:
        assert letter.source.startswith(f"kafka:{risk}/")
        assert record.key == letter.source.encode()
        assert dict(record.headers)["reason"] == letter.reason.value.encode()
        assert letter.detail
    events = read_alerts(stack.kafka, alerts, expect=1)
    assert [(e.asset_id, e.change) for e in events] == [("pump-1", ChangeKind.RAISED)]


def test_missing_dlq_topic_fails_at_start(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    missing = unique("no-such-dlq")
    settings = engine_settings(
        tmp_path / "wo.db", new_topic("risk"), new_topic("alerts"), unique("g"), missing
    )
    with pytest.raises(EngineStartError, match=f"{missing}.*FOREWARN_ALERTS_DLQ_TOPIC"):
        AlertEngine(settings, stack.kafka, RULES, ManualClock(T0))


def test_dead_letters_are_logged_by_reason_and_source_rate_limited(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    risk, alerts, dlq = new_topic("risk", partitions=3), new_topic("alerts"), new_topic("risk-dlq")
    settings = engine_settings(tmp_path / "wo.db", risk, alerts, unique("alerts-dlq"), dlq)
    produce(stack.kafka, risk, [b"[1, 2, 3]"] * 8 + [b"\x00\xffbinary"], key="pump-1")
    produce(stack.kafka, risk, series([0.97], asset="pump-1"))
    with caplog.at_level(logging.INFO, logger="alerts"):
        engine = AlertEngine(settings, stack.kafka, RULES, ManualClock(T0))
        try:
            step_until(engine, lambda: caught_up(engine))
        finally:
            engine.close()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    shapes = [line.split(" from ")[0] for line in lines]
    assert shapes.count("dead letter not_an_object") == 5  # the first five of the minute...
    assert any(
        line.startswith(f"dead letter not_json from kafka:{risk}/") and f"/8 → {dlq}: " in line
        for line in lines
    )
    assert any(line.startswith("… and 3 more not_an_object risk dead letters in the last") for line in lines)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(m.startswith("alert raised: pump-1 (site-1) ") for m in infos), infos
