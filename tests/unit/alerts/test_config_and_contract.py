"""The rules file and the risk contract reject bad input with a message naming the problem."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from alerts.config import RuleConfigError, load_rules
from forewarn.contracts.alert import Severity
from forewarn.contracts.risk import RiskRecord, RiskRejection, RiskRejectReason, decode_risk
from tests.unit.alerts.helpers import risk

EXAMPLE = Path(__file__).resolve().parents[3] / "alerts" / "rules.example.toml"


def test_example_rules_file_loads() -> None:
    rules = load_rules(EXAMPLE)
    assert rules.open_threshold == 0.8
    assert rules.m_of_n is not None
    assert rules.m_of_n.m == 3
    assert next(b.severity for b in rules.severity_bands) is Severity.CRITICAL
    assert [t.name for t in rules.tiers] == ["on-call", "supervisor", "manager"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("open_threshold = 0.5\nclear_threshold = 0.6\n", "hysteresis"),
        ("open_treshold = 0.8\n", "open_treshold"),
        ("[m_of_n]\nm = 6\nn = 5\n", "must not exceed"),
        ("open_threshold = [", "not valid TOML"),
        ("stale_severity = 'HUGE'\n", "stale_severity"),
    ],
)
def test_bad_rules_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(RuleConfigError, match=message):
        load_rules(path)


def test_missing_rules_file() -> None:
    with pytest.raises(RuleConfigError, match="does not exist"):
        load_rules(Path("/nonexistent/rules.toml"))


def test_risk_record_round_trips() -> None:
    record = risk(0, 0.9, rul=12)
    decoded = decode_risk(record.encode())
    assert decoded == record


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", RiskRejectReason.NOT_JSON),
        (b"[1, 2]", RiskRejectReason.NOT_AN_OBJECT),
        (orjson.dumps({"schema": 2}), RiskRejectReason.UNKNOWN_SCHEMA),
        (orjson.dumps({"schema": 1, "asset_id": "a"}), RiskRejectReason.INVALID),
    ],
)
def test_bad_risk_messages_are_rejections_keeping_bytes(raw: bytes, reason: RiskRejectReason) -> None:
    result = decode_risk(raw)
    assert isinstance(result, RiskRejection)
    assert result.reason is reason
    assert result.raw == raw


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("risk", 1.5),
        ("risk", -0.1),
        ("event_ts", "2026-01-01T00:00:00"),
        ("rul_cycles", -1),
        ("extra", 1),
        ("asset_id", "a\x00b"),
        ("model_version", ""),
    ],
)
def test_invalid_fields_rejected(field: str, value: object) -> None:
    data = orjson.loads(risk(0, 0.5).encode())
    data[field] = value
    result = decode_risk(orjson.dumps(data))
    assert isinstance(result, RiskRejection)
    assert result.reason is RiskRejectReason.INVALID
    assert field in result.detail


def test_naive_or_offset_times_become_utc() -> None:
    data = orjson.loads(risk(0, 0.5).encode())
    data["event_ts"] = "2026-01-01T02:00:00+02:00"
    record = RiskRecord.model_validate(data)
    assert record.event_ts.utcoffset() is not None
    assert record.event_ts.isoformat() == "2026-01-01T00:00:00+00:00"
